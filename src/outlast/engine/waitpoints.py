"""Waitpoints: what a WAITING run waits for — a time, a token, or child runs.

A durable wait writes a ``pending`` journal entry at its sequence number and one or more
waitpoints pointing at it. When the last of them completes, the journal entry gets its
result and the run is queued again; replay then reads the result from the journal.
Completion and suspension both lock the run's row, so whichever comes second sees the
other's work: a wait that completes before its attempt has finished suspending still
resumes the run.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from outlast.engine import announce, journal, transitions
from outlast.engine.statuses import FINAL, RunStatus
from outlast.errors import ConflictError, NotFoundError
from outlast.ids import derived_secret, new_id
from outlast.inputs import shown_time
from outlast.jsonutil import dumps, loads
from outlast.store.protocol import Row, Tx

TIME, TOKEN, RUN = "time", "token", "run"
PENDING, COMPLETED = "PENDING", "COMPLETED"
TIMEOUT_ERROR = {"type": "Timeout", "message": "timeout"}
#: a derived callback secret's length (a random one, from before they were derived, is 39)
_DERIVED_LENGTH = 52


def create(tx: Tx, *, environment: str, kind: str, now: float, run_id: str | None = None,
           seq: int | None = None, idx: int = 0, due_at: float | None = None,
           child_run_id: str | None = None, tags: list[str] | None = None,
           idempotency_key: str | None = None, created_by_run: str | None = None,
           token_key: bytes = b"") -> Row:
    """A waitpoint; a token's callback secret is derived from its id under ``token_key``."""
    waitpoint_id = new_id("token" if kind == TOKEN else "wait")
    secret = token_secret(token_key, waitpoint_id) if kind == TOKEN else None
    row: dict[str, Any] = {
        "id": waitpoint_id, "environment": environment,
        "kind": kind, "run_id": run_id, "seq": seq, "idx": idx, "due_at": due_at,
        "child_run_id": child_run_id, "secret_hash": secret and hash_secret(secret),
        "tags": dumps(tags or []), "idempotency_key": idempotency_key,
        "created_by_run": created_by_run, "now": now,
    }
    tx.run("insert_waitpoint", **row)
    announce.due(tx, due_at, now)  # a short sleep: wake the upkeep holder's timer for it
    return row | {"status": PENDING, "output": None, "error": None,
                  "created_at": now, "completed_at": None}


def token_secret(key: bytes, token_id: str) -> str:
    """A token's callback secret: derived from its id under the project's secret, so the
    store keeps only its hash and the URL can still be rebuilt by whoever holds the key.
    The label keeps these HMACs apart from the public tokens' signatures (same key)."""
    if not key:
        raise ValueError("a token's callback secret needs the project's secret")
    return derived_secret(key, f"token-callback:{token_id}")


def hash_secret(secret: str) -> str:
    """What the store keeps of a token's callback secret, as of an API key: its SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(row: Row, secret: str) -> bool:
    """Whether ``secret`` is the token's callback secret (constant time)."""
    stored = row.get("secret_hash") or ""
    return hmac.compare_digest(stored.encode(), hash_secret(secret).encode())


def callback_accepts(row: Row, secret: str, token_key: bytes) -> bool:
    """Whether a callback URL's ``secret`` completes the token (constant time).

    The stored hash decides, so tokens made before secrets were derived (random secrets,
    shorter) keep working. A derived secret must also be the one the project's secret
    derives today: rotating that secret invalidates every outstanding callback URL, even
    for someone who learned the old secret and computes URLs with it.
    """
    stored = secret_matches(row, secret)
    if len(secret) != _DERIVED_LENGTH:
        return stored
    return hmac.compare_digest(secret, token_secret(token_key, row["id"])) and stored


def get(tx: Tx, waitpoint_id: str, environment: str | None = None) -> Row:
    row = tx.one("get_waitpoint", id=waitpoint_id)
    if row is None or (environment is not None and row["environment"] != environment):
        raise NotFoundError(f"no waitpoint {waitpoint_id!r}", waitpoint_id=waitpoint_id)
    return row


def complete(tx: Tx, waitpoint_id: str, now: float, *, output: Any = None,
             error: dict[str, Any] | None = None, environment: str | None = None) -> Row:
    """Complete a pending waitpoint; completing one twice is a ConflictError."""
    row = get(tx, waitpoint_id, environment)
    changed = tx.run("complete_waitpoint", id=waitpoint_id, now=now,
                     output=dumps(output, "token output"),
                     error=None if error is None else dumps(error, "error"))
    if changed == 0:
        raise ConflictError(f"waitpoint {waitpoint_id} is already completed",
                            waitpoint_id=waitpoint_id)
    if row["run_id"] is not None:
        settle(tx, row["run_id"], row["seq"], now)
    return row | {"status": COMPLETED}


def settle(tx: Tx, run_id: str, seq: int, now: float) -> bool:
    """If every waitpoint at (run, seq) is done: write the journal result, resume the run."""
    run = tx.one("lock_run", id=run_id)
    rows = tx.all("waitpoints_for", run_id=run_id, seq=seq)
    if run is None or not rows or any(r["status"] == PENDING for r in rows):
        return False
    if not journal.complete(tx, run_id, seq, result_of(rows), now):
        return False
    if run["status"] == RunStatus.WAITING.value and not tx.all("pending_journal", run_id=run_id):
        transitions.resume(tx, run_id=run_id, now=now)
    return True


def result_of(rows: list[Row]) -> Any:
    """The journal result of a wait: one outcome, or the list of a batch in input order."""
    if rows[0]["kind"] == TIME:
        return {"until": rows[0]["due_at"]}
    outcomes = [_outcome(r) for r in rows]
    return outcomes if _is_batch(rows[0]) else outcomes[0]


def _is_batch(row: Row) -> bool:
    tags = loads(row["tags"]) or []
    return "batch" in tags


def _outcome(row: Row) -> dict[str, Any]:
    output, error = loads(row["output"]), loads(row["error"])
    result: dict[str, Any] = {"ok": error is None, "output": output, "error": error}
    if row["kind"] == RUN:
        result["id"] = row["child_run_id"]
        result["status"] = (output or {}).get("status") if isinstance(output, dict) else None
        result["output"] = (output or {}).get("output") if isinstance(output, dict) else None
    return result


def on_run_final(tx: Tx, run: Row, now: float) -> None:
    """A child run ended: complete the waitpoints of parents that wait for it."""
    status = run["status"]
    if RunStatus(status) not in FINAL:
        return
    error = None if status == RunStatus.COMPLETED.value else (
        loads(run.get("error")) or {"type": status, "message": f"the run ended {status}"})
    output = {"status": status, "output": loads(run.get("output"))}
    for row in tx.all("child_waitpoints", child_run_id=run["id"]):
        complete(tx, row["id"], now, output=output, error=error)


def due(tx: Tx, now: float, limit: int = 500) -> int:
    """Complete time waitpoints that are due and tokens whose timeout passed."""
    rows = tx.all("due_waitpoints", now=now, limit=limit)
    count = wake_sleeps(tx, [r["id"] for r in rows if r["kind"] == TIME], now)
    for row in rows:
        if row["kind"] == TIME:
            continue
        error = TIMEOUT_ERROR if row["kind"] == TOKEN else None
        try:
            complete(tx, row["id"], now, error=error)
            count += 1
        except ConflictError:
            continue
    return count


def wake_sleeps(tx: Tx, ids: list[str], now: float) -> int:
    """Complete due time waitpoints and resume their runs, as ``complete`` and ``settle``
    would one by one, in four statements however many there are.

    Sleeps end in crowds (a batch of runs that each sleep 30 s comes due as fast as it
    started); one by one, each cost eight round trips to PostgreSQL (2 ms), so ten thousand
    due at once kept the upkeep holder busy for seconds while they waited.
    """
    if not ids:
        return 0
    done = tx.all("complete_due_sleeps", ids=ids, now=now, output=dumps(None, "token output"))
    waits = [(r["run_id"], r["seq"], {"until": r["due_at"]}) for r in done if r["run_id"]]
    runs = sorted({run_id for run_id, _, _ in waits})
    if runs:
        # as in ``settle``: the run's lock before its journal, so a suspension of the run
        # still being recorded sees the result (or is seen: it set WAITING, we resume it)
        tx.all("lock_runs", ids=runs)
        journal.complete_settled(tx, waits, now)
        transitions.resume_settled(tx, runs, now)
    return len(done)


def skip_sleeps(tx: Tx, env: str, run_id: str, now: float) -> int:
    """End the run's pending sleeps now, as if their time had come: the run resumes (an
    operator's "skip wait"). ConflictError when it is not sleeping."""
    journal.lock_in_env(tx, env, run_id)
    ids = [r["id"] for r in tx.all("run_waitpoints", run_id=run_id, limit=10_000)
           if r["kind"] == TIME and r["status"] == PENDING]
    if not ids:
        raise ConflictError(f"run {run_id} is not waiting for a time: there is no wait to "
                            "skip", run_id=run_id)
    return wake_sleeps(tx, ids, now)


def token_record(row: Row, public_url: str, token_key: bytes) -> dict[str, Any]:
    """A token as the API shows it, with the callback URL rebuilt from its id."""
    return {
        "id": row["id"], "status": row["status"],
        "url": callback_url(row, public_url, token_key),
        "tags": loads(row["tags"]), "timeout_at": shown_time(row["due_at"]),
        "run_id": row.get("run_id"), "created_by_run": row.get("created_by_run"),
        "output": loads(row.get("output")), "error": loads(row.get("error")),
        "idempotency_key": row.get("idempotency_key"),
        "created_at": row["created_at"], "completed_at": row.get("completed_at"),
    }


def callback_url(row: Row, public_url: str, token_key: bytes) -> str | None:
    """The URL that completes the token; None when its secret is not the derived one (a
    token made before secrets were derived, or under a project secret since rotated)."""
    secret = token_secret(token_key, row["id"])
    if not secret_matches(row, secret):
        return None
    return f"{public_url.rstrip('/')}/api/v1/waitpoints/tokens/{row['id']}/callback/{secret}"


def journal_record(record: dict[str, Any]) -> dict[str, Any]:
    """What the journal keeps of a token record: no URL (it holds the secret)."""
    return record | {"url": None}


def with_url(tx: Tx, record: Any, public_url: str, token_key: bytes) -> Any:
    """A ``create_token`` journal result with its URL rebuilt, as the run was first
    handed it (None if the token is gone or its secret is not a derived one)."""
    if not isinstance(record, dict) or not isinstance(record.get("id"), str):
        return record
    row = tx.one("get_waitpoint", id=record["id"])
    url = None if row is None else callback_url(row, public_url, token_key)
    return record | {"url": url}
