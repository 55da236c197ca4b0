"""The dashboard's server-sent events (``/runs/{id}/live``, ``/runs/live``) against a
real uvicorn, on both stores: an event after each change, a session required, and runs
of other environments not found."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from outlast.engine import Engine, Outcome
from outlast.engine.triggering import Triggered
from outlast.sdk.realtime import parse
from outlast.server.app import create_app
from tests.dashboard.support import DEV_KEY, serve
from tests.eventually import eventually

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Events:
    """Event names read from one stream in a thread, until it ends or we hang up."""

    def __init__(self, client: httpx.Client, path: str) -> None:
        self.names: list[str] = []
        self.status: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(client, path), daemon=True)
        self._thread.start()

    def _read(self, client: httpx.Client, path: str) -> None:
        try:
            self._stream(client, path)
        except httpx.HTTPError:
            if not self._stop.is_set():
                raise  # else the server went away while we were hanging up

    def _stream(self, client: httpx.Client, path: str) -> None:
        with client.stream("GET", path, timeout=30) as r:
            self.status = r.status_code
            if r.status_code != 200:
                return
            assert r.headers["content-type"].startswith("text/event-stream")
            for event in parse(r.iter_lines()):
                self.names.append(event.event)
                if self._stop.is_set():
                    return

    def wait_for(self, name: str, count: int = 1, timeout: float = 10) -> None:
        eventually(lambda: self.names.count(name) >= count, timeout,
                   f"{count} {name!r} event(s), not only {self.names}")

    def hang_up(self) -> None:
        self._stop.set()  # the server's shutdown ends the connection

    def join(self) -> list[str]:
        self._thread.join(15)
        assert not self._thread.is_alive(), f"the stream did not end: {self.names}"
        return self.names


class ListReads:
    """What the runs list stream read after each wake-up: ``(cursor, newest)`` pairs.

    A read whose newest event is past its cursor is one the stream answers with a
    ``change``; the reads tell a test when the stream has seen a write, so it can count
    events instead of waiting a while for ones that should not come.
    """

    def __init__(self, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pairs: list[tuple[int, int]] = []
        self._read = engine.realtime.env_changes
        self._engine = engine
        monkeypatch.setattr(engine.realtime, "env_changes", self._record)

    def _record(self, env: str, after: int) -> int:
        newest = self._read(env, after)
        self.pairs.append((after, newest))
        return newest

    def past_newest_write(self) -> int:
        """Wait until a read has seen the newest write so far (one of the stream's own
        environment); return how many reads found news."""
        newest = self._engine.realtime.newest_event()
        eventually(lambda: any(cursor >= newest or found >= newest
                               for cursor, found in self.pairs), 10, "the stream's read")
        return sum(found > cursor for cursor, found in self.pairs)


def subscribed(app: Starlette, count: int = 1) -> None:
    """Wait until ``count`` streams listen, so a change after this is one they hear."""
    eventually(lambda: app.state.realtime.broadcaster.subscribers >= count, 10,
               "the stream to subscribe")


def complete(engine: Engine, row: Any) -> None:
    engine.record([Outcome(row["id"], row["lease_id"], row["attempt_count"], "completed",
                           output="done")])


def live_url(page: str) -> str:
    match = re.search(r'data-live="([^"]+)"', page)
    assert match, "the page does not listen for events"
    return match.group(1).replace("&amp;", "&")


def login(client: httpx.Client, key: str) -> None:
    match = CSRF.search(client.get("/login").text)
    assert match
    r = client.post("/login", data={"csrf": match.group(1), "key": key, "next": "/"})
    assert r.status_code == 303, r.text


def test_run_stream_sends_a_change_per_update_then_final(
    engine: Engine, dash_tasks: list[str], trigger: Callable[..., Triggered]
) -> None:
    run_id = trigger(engine, "hello-world", {}).row["id"]
    app = create_app(engine, dev_api_key=DEV_KEY, scheduler=False)
    with serve(app) as url, httpx.Client(base_url=url) as client:
        live = live_url(client.get(f"/runs/{run_id}").text)
        assert live.startswith(f"/runs/{run_id}/live?after=")
        events = Events(client, live)
        subscribed(app)
        assert events.names == []  # as the page was rendered: nothing to refresh yet
        [row] = engine.claim("dev", "w1", None, 1)
        events.wait_for("change")
        # a change between rendering a page and its stream opening still refreshes it
        other = trigger(engine, "hello-world", {}).row["id"]
        rendered = live_url(client.get(f"/runs/{other}").text)
        [other_row] = engine.claim("dev", "w1", None, 1)
        assert other_row["id"] == other
        late = Events(client, rendered)
        late.wait_for("change")
        complete(engine, other_row)
        assert late.join()[-1] == "final"
        complete(engine, row)
        names = events.join()  # a final run ends the stream
        assert names[-1] == "final" and events.status == 200
        assert set(names) == {"change", "final"}
        # already final (and from no event: all of it is news): the stream ends at once
        assert Events(client, f"/runs/{run_id}/live").join() == ["change", "final"]


def test_run_stream_sends_a_change_when_a_step_or_a_log_line_is_written(
    engine: Engine, dash_tasks: list[str], trigger: Callable[..., Triggered]
) -> None:
    """Neither appends a run event; the page's trace still moves with them."""
    from outlast.core.durable_requests import Op

    run_id = trigger(engine, "hello-world", {}).row["id"]
    [row] = engine.claim("dev", "w1", None, 1)
    app = create_app(engine, dev_api_key=DEV_KEY, scheduler=False)
    with serve(app) as url, httpx.Client(base_url=url) as client:
        live = live_url(client.get(f"/runs/{run_id}").text)
        assert "&mark=" in live
        events = Events(client, live)
        subscribed(app)
        last_event = engine.events(run_id)[-1]["id"]
        engine.durable.record(Op(run_id, row["lease_id"], 0, "step", "charge"), "ch_1")
        events.wait_for("change")
        engine.append_logs([{"run_id": run_id, "lease_id": row["lease_id"], "attempt": 1,
                             "at": engine.clock.now(), "level": "INFO", "message": "hi",
                             "attributes": "{}"}])
        events.wait_for("change", count=2)
        assert engine.events(run_id)[-1]["id"] == last_event  # no run event: the trace moved
        complete(engine, row)
        assert events.join()[-1] == "final"


def test_runs_list_stream_sends_a_change_when_a_run_changes(
    engine: Engine, dash_tasks: list[str], trigger: Callable[..., Triggered],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = ListReads(engine, monkeypatch)
    app = create_app(engine, dev_api_key=DEV_KEY, scheduler=False)
    with serve(app) as url, httpx.Client(base_url=url) as client:
        assert 'data-live="/runs/live"' in client.get("/").text
        events = Events(client, "/runs/live")
        subscribed(app)
        trigger(engine, "hello-world", {})
        events.wait_for("change")
        for _ in range(5):  # a burst of changes...
            trigger(engine, "hello-world", {})
        news = reads.past_newest_write()
        assert news == 2  # ...makes one more event, a second after the first
        events.wait_for("change", count=news)
        assert events.names == ["change", "change"]
        events.hang_up()


def test_live_streams_need_a_session_and_keep_to_its_environment(
    engine: Engine, dash_tasks: list[str], register: Callable[..., Any],
    trigger: Callable[..., Triggered]
) -> None:
    register(engine, "prod-task", env="prod")
    prod_run = trigger(engine, "prod-task", {}, env="prod").row["id"]
    dev_run = trigger(engine, "hello-world", {}).row["id"]
    app = create_app(engine, scheduler=False)
    with serve(app) as url, httpx.Client(base_url=url) as client:
        assert client.get(f"/runs/{prod_run}/live").status_code == 401
        assert client.get("/runs/live").status_code == 401
        login(client, engine.create_api_key("prod"))
        assert client.get(f"/runs/{dev_run}/live").status_code == 404  # another environment
        assert client.get("/runs/run_nope/live").status_code == 404
        events = Events(client, f"/runs/{prod_run}/live")
        subscribed(app)
        [row] = engine.claim("prod", "w1", None, 1)
        complete(engine, row)
        assert events.join()[-1] == "final" and events.status == 200


def test_runs_list_stream_ignores_other_environments(
    engine: Engine, dash_tasks: list[str], register: Callable[..., Any],
    trigger: Callable[..., Triggered], monkeypatch: pytest.MonkeyPatch
) -> None:
    register(engine, "prod-task", env="prod")
    reads = ListReads(engine, monkeypatch)
    app = create_app(engine, dev_api_key=DEV_KEY, scheduler=False)
    with serve(app) as url, httpx.Client(base_url=url) as client:
        events = Events(client, "/runs/live")  # the dev dashboard
        subscribed(app)
        for _ in range(3):
            trigger(engine, "prod-task", {}, env="prod")
        [row] = engine.claim("prod", "w1", None, 1)
        complete(engine, row)
        trigger(engine, "hello-world", {})  # the sentinel: this environment's only change
        assert reads.past_newest_write() == 1  # its change, and none for prod's
        events.wait_for("change")
        assert events.names == ["change"]
        events.hang_up()
