"""The dashboard's pure parts: session cookies, charts, the trace's layout, formatting."""

from __future__ import annotations

from typing import Any

import pytest

from outlast.engine.project_keys import ServerKeys
from outlast.engine.trace import Span, Trace
from outlast.server.dashboard import charts, data, format, timeline
from outlast.server.dashboard.session import MAX_AGE, Signer
from outlast.server.dashboard.web import safe_next


def test_session_cookies_round_trip_and_refuse_tampering_and_age() -> None:
    signer = Signer(ServerKeys(b"secret", "project_a"))
    cookie = signer.dumps({"env": "prod", "csrf": "t"}, now=1000)
    assert signer.loads(cookie, now=1001) == {"env": "prod", "csrf": "t"}
    body, mac = cookie.rsplit(".", 1)
    assert signer.loads(body + "." + mac[::-1], now=1001) == {}
    assert Signer(ServerKeys(b"other", "project_a")).loads(cookie, now=1001) == {}
    # the same secret in another project (a schema of a shared database): no session
    assert Signer(ServerKeys(b"secret", "project_b")).loads(cookie, now=1001) == {}
    assert signer.loads(cookie, now=1000 + MAX_AGE + 1) == {}
    assert signer.loads("garbage", now=1001) == {}
    assert signer.loads(None) == {}


@pytest.mark.parametrize(("target", "expected"), [
    ("/runs/x?a=1", "/runs/x?a=1"), ("//evil.example", "/"), ("https://evil.example", "/"),
    ("/\\evil", "/"), ("", "/"), (None, "/"),
])
def test_safe_next_stays_on_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


@pytest.mark.parametrize(("value", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (12, 20),
                                            (0.3, 0.5), (260, 500)])
def test_nice_axis_tops(value: float, top: float) -> None:
    assert charts.nice_max(value) == top


def test_charts_are_svg_with_a_title_per_piece() -> None:
    bars = charts.stacked_bars([{"COMPLETED": 2, "FAILED": 1}, {}], ["12:00", "12:01"],
                               ["COMPLETED", "FAILED"], format.STATUS_TONE)
    assert bars.startswith("<svg") and bars.count("<rect") == 2
    assert "12:00 · FAILED: 1" in bars
    line = charts.lines({"p50": [1.0, None, 2.0]}, ["a", "b", "c"])
    assert line.count("<circle") == 2 and "<polyline" in line
    assert "<script" not in charts.stacked_bars([{"<script>": 1}], ["<b>"], ["<script>"], {})


def test_percentiles_by_nearest_rank() -> None:
    assert data.percentile([], 50) is None
    assert data.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert data.percentile([float(i) for i in range(1, 101)], 95) == 95.0


def test_task_stats_judge_only_finished_runs() -> None:
    rows: list[dict[str, Any]] = [
        {"status": s, "execution_seconds": d, "created_at": 10.0 - i}
        for i, (s, d) in enumerate([("COMPLETED", 1.0), ("FAILED", 9.0), ("QUEUED", 0.0),
                                    ("COMPLETED", 3.0), ("CANCELED", 0.0)])]
    stats = data.task_stats(rows)
    assert stats.success_rate == pytest.approx(2 / 3)
    assert (stats.p50, stats.p95, stats.runs, stats.last_run_at) == (1.0, 3.0, 5, 10.0)


def test_the_trace_is_laid_out_on_one_axis_in_tree_order() -> None:
    child = Span("child-run_c", "child", "child", "EXECUTING", 104.0, None,
                 link="/runs/run_c")
    step = Span("op-0", "step a", "step", "COMPLETED", 101.0, 102.0, children=[child])
    attempt = Span("attempt-1-0", "attempt 1", "attempt", "FAILED", 101.0, 103.0,
                   children=[step, Span("log-1", "hi", "log", "INFO", 102.5, 102.5)])
    root = Span("run-r", "task", "run", "EXECUTING", 100.0, None, children=[attempt])
    laid = timeline.layout(Trace(root, []), now=110.0, tone=format.tone)
    assert laid.total == 10.0
    rows = [(r.span.id, r.depth, round(r.left, 1), round(r.width, 1), r.open)
            for r in laid.rows]
    assert rows == [("run-r", 0, 0.0, 100.0, True), ("attempt-1-0", 1, 10.0, 20.0, False),
                    ("op-0", 2, 10.0, 10.0, False), ("child-run_c", 3, 40.0, 60.0, True),
                    ("log-1", 2, 25.0, 0.4, False)]
    assert laid.rows[3].ancestors == ("run-r", "attempt-1-0", "op-0")
    assert laid.rows[1].tone == "red" and laid.rows[4].duration is None
    assert laid.rows[0].expandable and not laid.rows[4].expandable


def test_formatting() -> None:
    assert [format.duration(x) for x in (None, 0.25, 4.0, 4.25, 185, 7800)] == [
        "–", "250 ms", "4 s", "4.2 s", "3m 05s", "2h 10m"]
    assert [format.cost(x) for x in (0, 0.0000001, 0.00042, 12.5)] == [
        "–", "<$0.000001", "$0.00042", "$12.50"]
    assert format.ago(100, 100 + 3 * 3600) == "3h ago"
    assert format.timestamp(0) == "1970-01-01 00:00:00"
    assert format.precise_time(1.5) == "00:00:01.500"
