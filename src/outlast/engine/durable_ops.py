"""The engine's durable operations, as the worker runtime and the token API call them.

Each method is one transaction around a function of ``durable.py`` or ``waitpoints.py``;
the attempt's lease is checked first, so a stale attempt can change nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from outlast.engine import durable, journal, waitpoints
from outlast.engine.project_keys import server_keys
from outlast.engine.triggering import MAX_BATCH, NewRun
from outlast.errors import RunNotFoundError, ValidationError

if TYPE_CHECKING:
    from outlast.engine import Engine


class DurableOps:
    """The durable operations of running attempts, each one transaction (see durable.py)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _tx(self) -> Any:
        return self.engine.store.transaction()

    def token_key(self) -> bytes:
        """The project's one secret, which derives token callback secrets; the same in
        every process of the project (``OUTLAST_SECRET``, else the database's own)."""
        return server_keys(self.engine).secret

    def journal(self, run_id: str, lease_id: str) -> list[dict[str, Any]]:
        key = self.token_key()
        with self._tx() as tx:
            journal.hold_lease(tx, run_id, lease_id)
            entries = self.with_urls(tx, journal.entries(tx, run_id), key)
        return [self.engine.blobs.entry(e) for e in entries]

    def with_urls(self, tx: Any, entries: list[dict[str, Any]],
                   key: bytes) -> list[dict[str, Any]]:
        """Journal entries with the callback URLs of their tokens rebuilt (not stored)."""
        return [e | {"result": waitpoints.with_url(tx, e["result"], self.engine.public_url, key)}
                if e["kind"] == "create_token" else e for e in entries]

    def record(self, op: durable.Op, result: Any,
               elapsed: float | None = None) -> dict[str, Any]:
        """``elapsed``: how long the operation ran in the attempt; its entry starts then.

        A large result is written to the blob store first and the journal keeps its
        reference; the attempt is answered with the value itself."""
        return self.record_many([(op, result, elapsed)])[0]

    def record_many(self, items: list[tuple[durable.Op, Any, float | None]]
                    ) -> list[dict[str, Any]]:
        """``record`` for several attempts' operations ``(op, result, elapsed)`` in one
        transaction, answered in order: one commit for what a worker's attempts completed
        meanwhile, where each would have waited for its own. All or none: when one fails
        (a lease lost), nothing is written, and the caller records them one by one.
        The commit waits for its flush: a lazy one lost in a crash would leave a gap
        under the attempt's later records (``worker/records_ahead.py``)."""
        self._record(items, drop_stale=False)
        return [durable.done(result) for _, result, _ in items]

    def record_held(self, items: list[tuple[durable.Op, Any, float | None]]) -> int:
        """``record_many``, but the operations of attempts that no longer hold their runs
        (canceled, timed out, taken over) are left out rather than failing the rest; how
        many were left out."""
        return self._record(items, drop_stale=True).count(False)

    def _record(self, items: list[tuple[durable.Op, Any, float | None]], *,
                drop_stale: bool) -> list[bool]:
        kept = [self.engine.blobs.keep(op.run_id, f"step-{op.seq}", result,
                                       f"result of {op.name!r}") for op, result, _ in items]
        with self._tx() as tx:
            now = self.engine.clock.now()
            return durable.record_many(tx, [
                (op, value, None if elapsed is None else now - max(0.0, float(elapsed)))
                for (op, _, elapsed), value in zip(items, kept, strict=True)], now,
                drop_stale=drop_stale)

    def sleep_until(self, op: durable.Op, until: float) -> dict[str, Any]:
        with self._tx() as tx:
            return durable.sleep_until(tx, op, until, self.engine.clock.now())

    def create_token(self, op: durable.Op, timeout: float | None, tags: list[str],
                     idempotency_key: str | None) -> dict[str, Any]:
        key = self.token_key()  # before the transaction: its first read opens its own
        with self._tx() as tx:
            return durable.create_token(tx, op, timeout=timeout, tags=tags,
                                        idempotency_key=idempotency_key,
                                        now=self.engine.clock.now(),
                                        public_url=self.engine.public_url, token_key=key)

    def wait_for_token(self, op: durable.Op, token_id: str) -> dict[str, Any]:
        with self._tx() as tx:
            answer = durable.wait_for_token(tx, op, token_id, self.engine.clock.now())
        if "result" in answer:  # completed already: its output may be a blob's reference
            answer = answer | {"result": self.engine.blobs.outcomes(answer["result"])}
        return answer

    def trigger(self, op: durable.Op, env: str, requests: list[NewRun], *, wait: bool,
                batch: bool) -> dict[str, Any]:
        if len(requests) > MAX_BATCH:
            raise ValidationError(f"a batch holds at most {MAX_BATCH} items, got {len(requests)}")
        items = [(self.engine.definition(env, r.task_id), r) for r in requests]
        with self._tx() as tx:
            return durable.trigger_children(tx, op, items, wait=wait, batch=batch,
                                            now=self.engine.clock.now(),
                                            blobs=self.engine.blobs)

    # -- tokens from outside a run -------------------------------------------------------

    def new_token(self, env: str, timeout: float | None, tags: list[str],
                  idempotency_key: str | None) -> dict[str, Any]:
        key = self.token_key()
        with self._tx() as tx:
            row = durable.new_token(tx, env, timeout=timeout, tags=tags,
                                    idempotency_key=idempotency_key,
                                    now=self.engine.clock.now(), token_key=key)
        return waitpoints.token_record(row, self.engine.public_url, key)

    def complete_token(self, env: str | None, token_id: str, output: Any,
                       secret: str | None = None) -> dict[str, Any]:
        """Complete a token (by API key's ``env``, or by the callback URL's ``secret``).

        A large ``output`` is written to the blob store first, owned by the run that waits
        for the token (or made it; else the token itself): retention deletes it with them.
        """
        key = self.token_key()
        with self.engine.store.transaction(write=False) as tx:
            row = self._token(tx, env, token_id, secret, key)
        owner = row.get("run_id") or row.get("created_by_run") or token_id
        kept = self.engine.blobs.keep(owner, "token", output, "token output")
        with self._tx() as tx:
            self._token(tx, env, token_id, secret, key)
            waitpoints.complete(tx, token_id, self.engine.clock.now(), output=kept)
            done = waitpoints.get(tx, token_id)
        return self._resolved(waitpoints.token_record(done, self.engine.public_url, key))

    def _token(self, tx: Any, env: str | None, token_id: str, secret: str | None,
               key: bytes) -> dict[str, Any]:
        row = waitpoints.get(tx, token_id, env)
        if row["kind"] != waitpoints.TOKEN:
            raise ValidationError(f"{token_id} is not a token")
        if secret is not None and not waitpoints.callback_accepts(row, secret, key):
            raise RunNotFoundError(f"no token {token_id!r}")
        return row

    def _resolved(self, record: dict[str, Any]) -> dict[str, Any]:
        """A token record with its output's reference resolved (one token: read it)."""
        output = self.engine.blobs.value(record.get("output"))
        return record if output is record.get("output") else record | {"output": output}

    def retrieve_token(self, env: str, token_id: str) -> dict[str, Any]:
        key = self.token_key()
        with self.engine.store.transaction(write=False) as tx:
            row = waitpoints.get(tx, token_id, env)
        return self._resolved(waitpoints.token_record(row, self.engine.public_url, key))

    def list_tokens(self, env: str, *, status: str | None = None, tag: str | None = None,
                    run_id: str | None = None, limit: int = 50,
                    cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        if status is not None and status not in (waitpoints.PENDING, waitpoints.COMPLETED):
            raise ValidationError("status must be PENDING or COMPLETED")
        if not 1 <= limit <= 1000:
            raise ValidationError(f"limit must be between 1 and 1000, got {limit}")
        with self.engine.store.transaction(write=False) as tx:
            rows = tx.all("list_tokens", environment=env, status=status, tag=tag,
                          run_id=run_id, cursor=cursor, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        key = self.token_key()
        return ([waitpoints.token_record(r, self.engine.public_url, key) for r in rows],
                rows[-1]["id"] if more else None)

    def run_journal(self, run_id: str) -> list[dict[str, Any]]:
        key = self.token_key()
        with self.engine.store.transaction(write=False) as tx:
            return self.with_urls(tx, journal.entries(tx, run_id), key)

    def run_journal_resolved(self, run_id: str) -> list[dict[str, Any]]:
        """``run_journal`` with every blob read back (a local replay of the run)."""
        return [self.engine.blobs.entry(e) for e in self.run_journal(run_id)]
