"""The server's share of upkeep: the same ``Upkeep`` loop a worker runs.

Any number of servers and workers may run one; the ``sweeper`` lease makes exactly one of
them do upkeep at a time (``outlast/upkeep`` says what that covers). ``Scheduler`` is the
name the server app knows it by.
"""

from __future__ import annotations

from outlast.upkeep import LEASE_NAME, MAX_BACKOFF, Upkeep, backoff, holder_id

Scheduler = Upkeep

__all__ = ["LEASE_NAME", "MAX_BACKOFF", "Scheduler", "backoff", "holder_id"]
