"""Text views of runs for the terminal: a list row, a detail page, log lines."""

from __future__ import annotations

from typing import Any

import click

from outlast.cli import output as out
from outlast.core.records import AttemptRecord, LogLine
from outlast.sdk.handles import Run

RUN_HEADERS = ("ID", "TASK", "STATUS", "ATTEMPTS", "CREATED", "DURATION", "TAGS")


def run_row(run: Run) -> list[str]:
    return [
        run.id,
        run.task,
        out.status(run.status),
        str(run.attempts),
        out.when(run.raw.get("created_at")),
        out.seconds(run.duration) if run.started_at else "-",
        ",".join(run.tags),
    ]


def run_detail(run: Run, attempts: list[AttemptRecord], full: bool = False) -> str:
    """``outlast runs show``; a payload or output kept as a blob is shown by its size and
    URL unless ``full``."""
    raw = run.raw
    lines = [
        f"{click.style(run.id, bold=True)}  {run.task}  {out.status(run.status)}",
        f"  queue       {run.queue}   machine {raw.get('machine', '-')}",
        f"  attempts    {run.attempts} of {raw.get('max_attempts', '?')}",
        f"  created     {out.when(raw.get('created_at'))}",
        f"  started     {out.when(raw.get('started_at'))}",
        f"  finished    {out.when(raw.get('finished_at'))}",
        f"  duration    {out.seconds(run.duration)}{_time_apart(raw)}   cost {run.cost:.6f}",
    ]
    lines += _optional(raw, run)
    lines += _section("payload", _value(raw, "payload", run.payload, full))
    if run.output is not None:
        lines += _section("output", _value(raw, "output", run.output, full))
    if run.parked:
        lines += _section("parked", str(run.parked.get("message", "")))
    if run.error:
        lines += _section("error", _error_text(run.error))
    if attempts:
        lines += _section("attempts", "\n".join(attempt_line(a) for a in attempts))
    return "\n".join(lines)


def _value(raw: dict[str, Any], name: str, value: Any, full: bool) -> str:
    url = raw.get(f"{name}_url")
    if url and not full:
        size = int(raw.get(f"{name}_size") or 0)
        return f"{size / 1048576:.1f} MB, kept as a blob: GET {url} (or show it with --full)"
    return out.to_json(value)


def _time_apart(raw: dict[str, Any]) -> str:
    """The time the run was not executing, beside its duration (execution time)."""
    parts = [f"{name} {out.seconds(raw[key])}" for name, key in
             (("waiting", "waiting_duration"), ("queued", "queued_duration"))
             if raw.get(key) is not None]
    return f" ({', '.join(parts)})" if parts else ""


def _optional(raw: dict[str, Any], run: Run) -> list[str]:
    pairs = [("waiting for", run.waiting_for),
             ("tags", ", ".join(run.tags)), ("idempotency", run.idempotency_key),
             ("parent", run.parent_id), ("replay of", raw.get("replayed_from")),
             ("version", run.version),
             ("metadata", out.to_json(run.metadata) if run.metadata else None)]
    return [f"  {name:<11} {value}" for name, value in pairs if value]


def _section(title: str, body: str) -> list[str]:
    indented = [("  " + line).rstrip() for line in body.splitlines()]
    return ["", click.style(title, bold=True), *indented]


def _error_text(error: dict[str, Any]) -> str:
    head = f"{error.get('type', 'Error')}: {error.get('message', '')}"
    stack = error.get("stack")
    return f"{head}\n\n{stack.rstrip()}" if stack else head


def attempt_line(attempt: AttemptRecord) -> str:
    started, finished = attempt.started_at, attempt.finished_at
    took = out.seconds(finished - started) if started and finished else "-"
    error = attempt.error or {}
    reason = f"  {error.get('type', '')}: {error.get('message', '')}" if error else ""
    return (f"#{attempt.number}  {out.status(attempt.status)}  "
            f"{out.when(started)}  {took}  {attempt.worker_id or ''}{reason}")


def log_line(log: LogLine) -> str:
    level = log.level
    color = {"ERROR": "red", "WARNING": "yellow", "DEBUG": "bright_black"}.get(level)
    attrs = out.attributes(log.attributes)
    return (f"{out.clock_time(log.at)} {click.style(f'{level:<7}', fg=color)} "
            f"#{log.attempt or '-'} {log.message}" + (f"  {attrs}" if attrs else ""))
