"""Order views; ``ATOMIC_REQUESTS`` runs each in one transaction with its trigger."""

from django.http import HttpRequest, JsonResponse
from tasks.shipping import ship

from outlast.integrations.django import trigger
from shop.models import Order


class PaymentDeclined(Exception):
    pass


def place_order(request: HttpRequest) -> JsonResponse:
    order = Order.objects.create(id=int(request.POST["id"]))
    handle = trigger(ship, {"order_id": order.id}, tags=[f"order:{order.id}"])
    return JsonResponse({"order": order.id, "run": handle.id})


def place_order_then_decline(request: HttpRequest) -> JsonResponse:
    order = Order.objects.create(id=int(request.POST["id"]))
    trigger("ship", {"order_id": order.id})
    raise PaymentDeclined(f"order {order.id}: payment declined")
