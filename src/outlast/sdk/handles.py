"""What triggering returns (``RunHandle``) and what reading a run returns (``Run``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from outlast.clock import to_datetime
from outlast.errors import TaskRunFailed

if TYPE_CHECKING:
    from outlast.sdk.client import AsyncClient, Client


@dataclass(frozen=True)
class Run:
    id: str
    status: str
    task: str
    payload: Any
    output: Any
    error: dict[str, Any] | None
    attempts: int
    tags: list[str]
    metadata: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration: float
    cost: float
    is_final: bool
    queue: str
    parent_id: str | None = None
    root_id: str | None = None
    idempotency_key: str | None = None
    #: the version of the code the run is pinned to
    version: str | None = None
    #: why a PARKED run stopped (replay met code that no longer matches its history)
    parked: dict[str, Any] | None = None
    #: who a QUEUED run waits for when no live worker can take it, e.g. "a worker of
    #: version 20261204.1" (None: one can, or the run is not queued)
    waiting_for: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Run:
        return cls(
            id=data["id"], status=data["status"], task=data["task"], payload=data["payload"],
            output=data["output"], error=data["error"], attempts=data["attempts"],
            tags=data["tags"], metadata=data["metadata"],
            created_at=to_datetime(data["created_at"]),  # type: ignore[arg-type]
            started_at=to_datetime(data["started_at"]),
            finished_at=to_datetime(data["finished_at"]),
            duration=data["duration"], cost=data["cost"], is_final=data["is_final"],
            queue=data["queue"], parent_id=data.get("parent_id"), root_id=data.get("root_id"),
            idempotency_key=data.get("idempotency_key"), version=data.get("version"),
            parked=data.get("parked"), waiting_for=data.get("waiting_for"), raw=data,
        )

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED"

    def unwrap(self) -> Any:
        """The output, or ``TaskRunFailed`` if the run did not complete."""
        if self.status != "COMPLETED":
            raise TaskRunFailed(self.id, self.status, self.error)
        return self.output


@dataclass(frozen=True)
class RunHandle:
    """Returned at once by ``trigger``; ``created`` is False for an idempotent repeat."""

    id: str
    task: str
    created: bool = True
    _client: Client | None = field(default=None, repr=False, compare=False)

    @classmethod
    def _made(cls, id: str, task: str, created: bool, client: Client | None) -> RunHandle:
        """``RunHandle(id, task, created, client)``, its fields set in one update of its
        dict rather than one ``object.__setattr__`` each (a batch makes a thousand)."""
        handle = object.__new__(cls)
        handle.__dict__.update(id=id, task=task, created=created, _client=client)
        return handle

    @classmethod
    def _made_all(cls, runs: list[dict[str, Any]], client: Client | None) -> list[RunHandle]:
        """``_made`` of each of a batch's runs (its answer's ``runs``), written inline: the
        calls were half of the work on a thousand."""
        out: list[RunHandle] = []
        keep, new = out.append, object.__new__
        for run in runs:
            handle = new(cls)
            fields = handle.__dict__
            fields["id"], fields["task"] = run["id"], run["task"]
            fields["created"], fields["_client"] = run.get("created", True), client
            keep(handle)
        return out

    def retrieve(self) -> Run:
        from outlast.sdk.client import default_client

        return (self._client or default_client()).runs.retrieve(self.id)

    def poll(self, timeout: float = 60.0, interval: float = 0.2) -> Run:
        """Wait (client side) until the run is final."""
        from outlast.sdk.client import default_client

        return (self._client or default_client()).runs.poll(self.id, timeout=timeout,
                                                            interval=interval)


@dataclass(frozen=True)
class AsyncRunHandle:
    id: str
    task: str
    created: bool = True
    _client: AsyncClient | None = field(default=None, repr=False, compare=False)

    async def retrieve(self) -> Run:
        from outlast.sdk.client import default_async_client

        return await (self._client or default_async_client()).runs.retrieve(self.id)

    async def poll(self, timeout: float = 60.0, interval: float = 0.2) -> Run:
        """Wait (client side) until the run is final."""
        from outlast.sdk.client import default_async_client

        client = self._client or default_async_client()
        return await client.runs.poll(self.id, timeout=timeout, interval=interval)


@dataclass(frozen=True)
class BatchHandle:
    batch_id: str
    runs: list[RunHandle]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)
