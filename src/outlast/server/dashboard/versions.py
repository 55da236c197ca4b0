"""Versions (``/versions``): which code each version is, who runs it, what still needs it.

An operator comes here to answer two questions: which version takes new runs (promote
another one to change it), and may the workers of an old version stop (a draining version
with no unfinished run pinned to it is safe to stop; retire it then). Each row links its
pinned runs to the runs list filtered by version and status, so the runs that keep a
version alive are one click away. Retire is offered disabled, with the engine's reason,
while it would be refused: the reason says what to do instead.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from outlast.core.versions import CURRENT, RETIRED
from outlast.engine.version_admin import blockers
from outlast.server.dashboard.web import Page, safe_next

#: state → chip colour (the palette of the run statuses, ``format.STATUS_TONE``)
STATE_TONE = {CURRENT: "green", "draining": "orange", RETIRED: "muted"}


def view(record: dict[str, Any]) -> dict[str, Any]:
    """Pure: a version's record plus what its row shows (tone, totals, retire's refusal)."""
    pinned = record["pinned_runs"]
    refusal = None
    if record["state"] != RETIRED:
        refusal = blockers(record["version"], record["state"], pinned)
    return dict(record, tone=STATE_TONE.get(record["state"], "muted"),
                pinned_total=sum(pinned.values()), retire_refused=refusal,
                can_retire=record["state"] != RETIRED)


def versions_page(page: Page) -> Response:
    versions = [view(v) for v in page.engine.list_versions(page.env)]
    current = next((v["version"] for v in versions if v["state"] == CURRENT), None)
    return page.render("versions.html", versions=versions, current=current)


def _version(page: Page) -> str:
    return str(page.request.path_params["version"])


def promote(page: Page) -> Response:
    version = _version(page)
    before = next((v["version"] for v in page.engine.list_versions(page.env)
                   if v["state"] == CURRENT), None)
    page.engine.promote(page.env, version)
    if before == version:
        page.flash(f"Version {version} was already current.")
    else:
        drains = f"; {before} is draining: its workers finish the runs pinned to it" \
            if before else ""
        page.flash(f"Version {version} is current: new runs go to it{drains}.")
    return page.redirect(safe_next(page.field("back"), "/versions"))


def retire(page: Page) -> Response:
    version = _version(page)
    page.engine.retire(page.env, version)
    page.flash(f"Retired version {version}: no run needs its workers any more.")
    return page.redirect(safe_next(page.field("back"), "/versions"))
