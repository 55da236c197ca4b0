"""A FastAPI webhook ingester: each delivery is stored and its run triggered in one
transaction, with the webhook's id as the idempotency key (see README.md)."""
