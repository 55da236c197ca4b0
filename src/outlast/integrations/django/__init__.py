"""Outlast in a Django project.

    INSTALLED_APPS = [..., "outlast.integrations.django"]
    OUTLAST = {"DATABASE": "default"}      # Outlast's tables beside the app's

    from outlast.integrations.django import trigger

    @transaction.atomic
    def place_order(request):
        order = Order.objects.create(...)
        trigger(send_confirmation, {"order_id": order.id})   # commits with the order

``trigger`` writes the run in the current ``atomic()`` block through Django's connection
(exactly once); ``trigger_on_commit`` triggers after the commit when Outlast's database
is another one (at most once). ``manage.py outlast_worker`` runs a worker whose task code
may use the ORM; ``manage.py outlast_migrate`` creates and updates Outlast's tables.
Importing this package imports Django; ``import outlast`` never does.
"""

from outlast.integrations.django.triggers import trigger, trigger_on_commit

__all__ = ["trigger", "trigger_on_commit"]
