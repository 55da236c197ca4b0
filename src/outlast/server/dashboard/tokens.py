"""Waitpoint tokens (``/tokens``): runs waiting for a person or a system, and the buttons
that answer them (human-in-the-loop from the browser)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from outlast.server.dashboard.run import parse_json_field
from outlast.server.dashboard.web import Page, safe_next

STATUSES = ("PENDING", "COMPLETED")


def tokens_page(page: Page) -> Response:
    status = page.q("status", "PENDING").upper()
    status = status if status in STATUSES else "PENDING"
    tokens, cursor = page.engine.durable.list_tokens(
        page.env, status=status, tag=page.q("tag") or None, limit=50,
        cursor=page.q("cursor") or None)
    return page.render("tokens.html", tokens=tokens, token_status=status, tag=page.q("tag"),
                       next_cursor=cursor)


def complete(page: Page) -> Response:
    """Approve, reject, or answer with any JSON value; the waiting run resumes."""
    token_id = page.request.path_params["token_id"]
    decision = page.field("decision")
    output: Any
    if decision in ("approve", "reject"):
        output = {"approved": decision == "approve"}
    else:
        output = parse_json_field(page.field("output") or "null", "output")
    page.engine.durable.complete_token(page.env, token_id, output)
    page.flash(f"Completed {token_id}.")
    return page.redirect(safe_next(page.field("back"), "/tokens"))
