"""The shop's task that needs nothing of Django."""

from typing import Any

from outlast import task


@task
def ship(payload: dict[str, Any]) -> str:
    return f"shipped order {payload['order_id']}"
