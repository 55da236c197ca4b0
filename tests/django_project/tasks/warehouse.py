"""A task using the ORM, imported as any Django module would: ``manage.py outlast_worker``
sets Django up in the processes that run task code (`outlast worker` would stop, saying
this file fails to import: Django's apps are not loaded there)."""

from typing import Any

from shop.models import Order

from outlast import task


@task
def mark_shipped(payload: dict[str, Any]) -> int:
    return int(Order.objects.filter(id=payload["order_id"]).update(shipped=True))
