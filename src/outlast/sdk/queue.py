"""Queues: named lines of runs with an optional cap on how many execute at once."""

from __future__ import annotations

import re
from dataclasses import dataclass

from outlast.errors import ValidationError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")


@dataclass(frozen=True)
class Queue:
    name: str
    concurrency_limit: int | None = None

    def __post_init__(self) -> None:
        check_queue_name(self.name)
        limit = self.concurrency_limit
        bad = isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        if limit is not None and bad:
            raise ValidationError(
                f"queue {self.name!r}: concurrency_limit must be a positive integer or None, "
                f"got {limit!r}"
            )


def check_queue_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(
            f"bad queue name {name!r}: use letters, digits and _.:/- (at most 128 characters)"
        )
    return name
