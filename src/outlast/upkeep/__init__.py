"""Upkeep: every time-driven duty, done by whichever server or worker holds the lease.

``leader.py`` is the loop (lease, sweep, cron ticks), ``timer.py`` its sleep until the next
due moment, ``alerting.py`` the alert outbox's sender thread, ``pruning.py`` the thread
that deletes finished runs past their retention, ``bulk.py`` the thread that
moves bulk actions (cancel or replay by filter) on; those three threads share ``duty.py``
(run while leading, survive a failed pass, stop at once). Servers and workers run the
same ``Upkeep``, so a deployment of workers alone still gets cron ticks and alerts.
"""

from outlast.upkeep.leader import LEASE_NAME, MAX_BACKOFF, Upkeep, backoff, holder_id

__all__ = ["LEASE_NAME", "MAX_BACKOFF", "Upkeep", "backoff", "holder_id"]
