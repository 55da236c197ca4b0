"""Queues: named lines of runs with optional caps on how many execute at once and how often.

``Queue(name, concurrency_limit=N, total_limit=M, rate_limit="100/m", key_rate_limit="10/s")``

- ``concurrency_limit``: EXECUTING runs at once; with a ``concurrency_key`` on the trigger,
  per key (runs without a key share the queue's own slot);
- ``total_limit``: EXECUTING runs of the queue at once across all keys;
- ``rate_limit``: starts of the queue in any sliding window (``"100/m"``, ``"10/s"``,
  ``"1000/h"``, ``"20/30s"``); ``key_rate_limit``: the same per concurrency key.

A run held back by a limit stays QUEUED (no failed attempt) and starts as soon as the
limit allows. Operators may override each limit at run time (``outlast.queues.update``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from outlast.core.limits import parse_rate
from outlast.errors import ValidationError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")


@dataclass(frozen=True)
class Queue:
    name: str
    concurrency_limit: int | None = None
    total_limit: int | None = None
    rate_limit: str | None = None
    key_rate_limit: str | None = None

    def __post_init__(self) -> None:
        check_queue_name(self.name)
        for option in ("concurrency_limit", "total_limit"):
            limit = getattr(self, option)
            bad = isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
            if limit is not None and bad:
                raise ValidationError(
                    f"queue {self.name!r}: {option} must be a positive integer or None, "
                    f"got {limit!r}"
                )
        for option in ("rate_limit", "key_rate_limit"):
            text = getattr(self, option)
            if text is not None:
                object.__setattr__(self, option, str(parse_rate(text, option)))


def check_queue_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(
            f"bad queue name {name!r}: use letters, digits and _.:/- (at most 128 characters)"
        )
    return name
