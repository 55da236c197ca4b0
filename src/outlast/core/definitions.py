"""What the engine knows about a task without importing its code.

Workers (and ``outlast dev``) register each task's definition in the store; the server
reads it to trigger by id, apply defaults and route to the right queue.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from outlast.core.retention import Retention
from outlast.core.retry import Retry

DEFAULT_MACHINE = "small-1x"


@dataclass(frozen=True)
class TaskDefinition:
    id: str
    queue: str
    concurrency_limit: int | None = None
    total_limit: int | None = None
    rate_limit: str | None = None
    key_rate_limit: str | None = None
    retry: Retry = field(default_factory=Retry)
    machine: str = DEFAULT_MACHINE
    max_duration: float | None = None
    ttl: float | None = None
    hooks: tuple[str, ...] = ()
    payload_schema: dict[str, Any] | None = None
    schedule: dict[str, Any] | None = None
    #: how long its finished runs are kept (None: registered by a worker that predates
    #: retention settings; the defaults apply)
    retention: Retention | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["retry"] = self.retry.to_dict()
        data["hooks"] = list(self.hooks)
        data["retention"] = self.retention.to_dict() if self.retention else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskDefinition:
        data = dict(data)
        data["retry"] = Retry.from_dict(data.get("retry"))
        data["hooks"] = tuple(data.get("hooks") or ())
        data["retention"] = Retention.from_dict(data["retention"]) \
            if data.get("retention") else None
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})
