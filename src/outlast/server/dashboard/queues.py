"""Queues (``/queues``): what each queue holds and runs, its limits and where each limit
comes from, pause and resume, a form that overrides limits at run time, and the
environment-wide limit.

A limit is either the code's (``Queue(...)``, synced when a worker registers) or an
operator's override (this page, the API or the CLI); an override outlives worker restarts
until it is reset to the code's value. The forms check each field on their own before
asking the engine, so a mistake shows beside its field and the page keeps what was typed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from outlast.core.limits import LIMITS, parse_rate
from outlast.core.settings import ENV_LIMIT_VAR
from outlast.errors import OutlastError, ValidationError
from outlast.server.dashboard.web import Page, safe_next

#: (field, label, hint) in the order the page shows them
FIELDS = (
    ("concurrency_limit", "Concurrency per key",
     "Runs executing at once per concurrency key (runs without a key share one slot)"),
    ("total_limit", "Total limit", "Runs executing at once across all keys of the queue"),
    ("rate_limit", "Rate limit", "Starts per window, e.g. 100/m, 10/s or 20/30s"),
    ("key_rate_limit", "Key rate limit", "Starts per window for each concurrency key, e.g. 10/s"),
)
LABELS = {name: label for name, label, _ in FIELDS}
COUNTS = ("concurrency_limit", "total_limit")
MAX_COUNT = 2**31 - 1  # the limit columns are 32-bit integers
Record = dict[str, Any]


def shown(value: Any) -> str:
    """A limit as the page prints it; empty for no limit."""
    return "" if value is None else str(value)


def view(record: Record) -> Record:
    """The engine's record plus, per limit, its value and where it comes from."""
    limits = []
    for name, label, hint in FIELDS:
        override = name in record["overrides"]
        limits.append({"name": name, "label": label, "hint": hint, "value": record[name],
                       "text": shown(record[name]), "override": override,
                       "code": record["code"].get(name),
                       "code_text": shown(record["code"].get(name)) or "no limit"})
    return dict(record, limits=limits, overridden=bool(record["overrides"]))


def parse_form(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """(limit values, errors by field) from the text typed; empty text means no limit."""
    parsed: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, text in values.items():
        if not text:
            parsed[name] = None
        elif name in COUNTS:
            if not text.lstrip("-").isdigit():
                errors[name] = (f"Enter a whole number, not {text!r}; leave it empty for "
                                "no limit.")
            elif int(text) < 1:
                errors[name] = (f"Must be at least 1, not {text}; leave it empty for no limit "
                                "(pause the queue to start nothing).")
            elif int(text) > MAX_COUNT:
                errors[name] = f"Must be at most {MAX_COUNT}; leave it empty for no limit."
            else:
                parsed[name] = int(text)
        else:
            try:
                parsed[name] = str(parse_rate(text, name))
            except ValidationError as exc:
                message = exc.message.removeprefix(f"{name}: ")
                errors[name] = message[:1].upper() + message[1:]
    return parsed, errors


# -- the list ------------------------------------------------------------------------------


def queues_page(page: Page) -> Response:
    return _render_list(page, None, "")


def _render_list(page: Page, typed: str | None, error: str, status_code: int = 200) -> Response:
    env_limit = page.engine.queues.environment_limit(page.env)
    return page.render(
        "queues.html", status_code=status_code,
        queues=[view(r) for r in page.engine.queues.list(page.env)], env_limit=env_limit,
        env_var=ENV_LIMIT_VAR, env_error=error,
        env_typed=shown(env_limit["concurrency_limit"]) if typed is None else typed)


def set_environment_limit(page: Page) -> Response:
    """Cap runs executing across every queue; empty goes back to the configuration."""
    typed = page.field("concurrency_limit")
    parsed, errors = parse_form({"concurrency_limit": typed})
    if errors:
        return _render_list(page, typed, errors["concurrency_limit"], status_code=422)
    limit = parsed["concurrency_limit"]
    found = page.engine.queues.set_environment_limit(page.env, limit)
    if limit is not None:
        page.flash(f"At most {limit} runs of {page.env} execute at once across all queues.")
    elif found["concurrency_limit"] is not None:
        page.flash(f"The environment limit is back to the configuration's "
                   f"{found['concurrency_limit']} ({ENV_LIMIT_VAR}).")
    else:
        page.flash("No environment-wide limit: each queue's own limits apply.")
    return page.redirect("/queues")


# -- one queue -----------------------------------------------------------------------------


def _name(page: Page) -> str:
    return str(page.request.path_params["name"])


def queue_url(name: str) -> str:
    return "/queues/" + quote(name, safe="")


def queue_page(page: Page) -> Response:
    record = view(page.engine.queues.retrieve(page.env, _name(page)))  # 404 page when unknown
    return _render_queue(page, record, {q["name"]: q["text"] for q in record["limits"]}, {})


def _render_queue(page: Page, record: Record, form: dict[str, str], errors: dict[str, str],
                  status_code: int = 200) -> Response:
    return page.render("queue.html", status_code=status_code, q=record, form=form,
                       errors=errors)


def update(page: Page) -> Response:
    """Override the limits whose field changed; the others keep their source."""
    name = _name(page)
    record = view(page.engine.queues.retrieve(page.env, name))
    form = {field: page.field(field) for field in LIMITS}
    parsed, errors = parse_form(form)
    changes = {k: v for k, v in parsed.items() if v != record[k]}
    if not errors and changes:
        try:
            page.engine.queues.update(page.env, name, changes)
        except OutlastError as exc:
            errors = {"form": exc.message}
    if errors:
        return _render_queue(page, record, form, errors, status_code=422)
    if changes:
        said = ", ".join(f"{LABELS[k].lower()} {'no limit' if v is None else v}"
                         for k, v in changes.items())
        page.flash(f"Overrode the limits of {name}: {said}. Reset to go back to the code's.")
    else:
        page.flash(f"No limit of {name} changed.")
    return page.redirect(safe_next(page.field("back"), queue_url(name)))


def reset(page: Page) -> Response:
    """Drop one override (``limit``) or every one (``all``): back to the code's limits."""
    name = _name(page)
    which = page.field("limit")
    if which != "all" and which not in LIMITS:
        raise ValidationError(f"nothing to reset: {which!r} is not a limit")
    record = page.engine.queues.update(page.env, name, {},
                                       reset=list(LIMITS) if which == "all" else [which])
    if which == "all":
        page.flash(f"Every limit of {name} is back to the code's.")
    else:
        code = shown(record["code"].get(which)) or "no limit"
        page.flash(f"The {LABELS[which].lower()} of {name} is back to the code's: {code}.")
    return page.redirect(safe_next(page.field("back"), queue_url(name)))


def pause(page: Page) -> Response:
    record = page.engine.queues.pause(page.env, _name(page))
    page.flash(f"Paused {record['name']}: it starts no new runs; running runs finish and "
               f"{record['queued']} queued wait.")
    return page.redirect(safe_next(page.field("back"), "/queues"))


def resume(page: Page) -> Response:
    record = page.engine.queues.resume(page.env, _name(page))
    page.flash(f"Resumed {record['name']}: it starts runs again ({record['queued']} queued).")
    return page.redirect(safe_next(page.field("back"), "/queues"))
