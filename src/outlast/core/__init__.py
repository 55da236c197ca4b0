"""What the SDK and the engine both need, owned by neither: the neutral layer.

Trigger options, retry and debounce policies, task definitions, queue limits and rates,
cron, the one backoff every retrying part uses, and the settings a process reads from its
environment once: records and pure checks with no store and no client behind them. The SDK checks a
caller's values with them before any round trip; the engine checks them again for every
other caller and applies them. Nothing here imports ``sdk``, ``engine``, ``store``,
``worker``, ``server`` or ``api`` (``tests/unit/test_import_directions.py``).
"""
