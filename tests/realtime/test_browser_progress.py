"""Progress in the browser: a page on another site imports ``/static/realtime.js`` from the
server, follows a run with a public token, and shows its metadata progress to COMPLETED;
through a server restart too. Headless Chromium, a real server and a real worker, on both
stores.

The page (``PAGE``) is served from another port of 127.0.0.1, so it is another origin
than the server: the browser applies CORS to every read, as it would for
``https://app.example.com`` reading ``https://outlast.example.com``.
"""

from __future__ import annotations

import functools
import http.server
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import uvicorn

import outlast
from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine
from outlast.server.app import create_app
from tests.dashboard.support import screenshot
from tests.eventually import eventually
from tests.worker.support import running_worker

pytestmark = pytest.mark.timeout(180)

PROJECT = Path(__file__).parent / "project"
LIVE = 20_000  # ms the page gets to reach a state by itself

#: an app's page: imports the module from the server, renders every snapshot
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Exporting your orders</title>
<style>
  body { font: 16px system-ui, sans-serif; margin: 48px; color: #1d2330; }
  .bar { width: 420px; height: 14px; background: #e6e9f0; border-radius: 7px; overflow: hidden; }
  .fill { height: 100%; width: 0; background: #2f6fed; transition: width .2s; }
  #status { font-weight: 600; } #error { color: #b42318; }
</style></head>
<body>
  <h1>Exporting your orders</h1>
  <div class="bar"><div class="fill" id="fill"></div></div>
  <p><span id="percent">0%</span> &middot; <span id="status">connecting…</span></p>
  <p id="error"></p>
  <script type="module">
    const params = new URLSearchParams(location.search);
    const server = params.get("server");
    const { subscribeToRun } = await import(`${server}/static/realtime.js`);
    const options = { token: params.get("token"), reconnects: Number(params.get("reconnects")) };
    if (params.get("base")) options.baseUrl = params.get("base");
    window.seen = [];
    const subscription = subscribeToRun(params.get("run"), options);
    try {
      for await (const run of subscription) {
        const percent = Math.round(100 * (run.metadata.progress ?? 0));
        window.seen.push({ id: Number(subscription.lastEventId), status: run.status, percent });
        document.querySelector("#fill").style.width = `${percent}%`;
        document.querySelector("#percent").textContent = `${percent}%`;
        document.querySelector("#status").textContent = run.status;
      }
      window.ended = true;
    } catch (error) {
      const { name, status, code, message } = error;
      document.querySelector("#error").textContent = `${name} ${status} ${code}: ${message}`;
    }
  </script>
</body></html>
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def site(folder: Path) -> Iterator[str]:
    """Another origin: a plain static file server for the page, on its own port."""
    (folder / "progress.html").write_text(PAGE)
    handler = functools.partial(_Quiet, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OutlastServer:
    """``outlast server`` on a fixed port, in a thread, that can be stopped and started."""

    def __init__(self, engine: Engine, origins: tuple[str, ...]) -> None:
        self.engine, self.origins = engine, origins
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app: Any = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, app: Any = None) -> None:
        """Serve the Outlast app, or ``app`` in its place."""
        lifespan = "off" if app is not None else "on"
        if app is None:
            app = self.app = create_app(self.engine, scheduler=True, cors_origins=self.origins)
        # like ``outlast server``: open event streams are cut at shutdown, not waited for
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                timeout_graceful_shutdown=1, lifespan=lifespan)
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
        self._thread.start()
        eventually(lambda: server.started, 10, "uvicorn to start")

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(10)

    def __enter__(self) -> OutlastServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Unavailable:
    """A load balancer with no server behind it: 503 to everything, counted."""

    def __init__(self) -> None:
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.requests += 1
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"no healthy upstream"})


def start_run(engine: Engine, server: OutlastServer, gate: Path) -> tuple[str, str]:
    """Trigger with a trigger-only key, mint the page's token with a read-only key (what a
    backend holds), and return (run id, public token)."""
    trigger_key = engine.create_api_key("dev", scope="trigger")
    read_key = engine.create_api_key("dev", scope="read")
    with outlast.Client(url=server.url, api_key=trigger_key) as client:
        run_id = client.tasks.trigger("rt-progress", {"steps": 4, "gate": str(gate)}).id
    with outlast.Client(url=server.url, api_key=read_key) as client:
        token = client.auth.create_public_token(run_id=run_id, ttl="5m")
    return run_id, token


def register_without_worker(engine: Engine) -> None:
    """The task, for runs that only need to exist (they stay queued)."""
    engine.register_tasks("dev", [TaskDefinition(id="rt-progress", queue="rt-progress")])


def page_url(origin: str, server: OutlastServer, **params: str) -> str:
    return f"{origin}/progress.html?" + urlencode({"server": server.url, "reconnects": "8",
                                                   **params})


def assert_watched_to_completion(page: Any) -> None:
    page.locator("#status", has_text="COMPLETED").wait_for()
    assert page.inner_text("#percent") == "100%"
    assert page.inner_text("#error") == ""
    page.wait_for_function("window.ended === true")
    seen = page.evaluate("window.seen")
    ids = [s["id"] for s in seen]
    assert ids == sorted(set(ids)), f"a snapshot came twice or out of order: {seen}"
    # the first snapshot is the run as it is (maybe past 25%); changes that come faster
    # than the page reads may arrive as one snapshot of the latest state
    percents = [s["percent"] for s in seen]
    assert percents == sorted(percents) and {50, 100} <= set(percents), seen
    assert seen[-1]["status"] == "COMPLETED"


def test_a_page_on_another_site_watches_a_run_progress_to_completion(
        browser: Any, live_engine: Engine, shots: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    with site(tmp_path) as origin, OutlastServer(live_engine, (origin,)) as server, \
            running_worker(live_engine, concurrency=1, root=PROJECT, probe="rt-progress"):
        run_id, token = start_run(live_engine, server, gate)
        page = browser.new_page(viewport={"width": 720, "height": 200})
        page.set_default_timeout(LIVE)
        # no baseUrl: the module talks to the server it was loaded from
        page.goto(page_url(origin, server, run=run_id, token=token))
        page.locator("#percent", has_text="50%").wait_for()
        assert page.inner_text("#status") == "EXECUTING"
        screenshot(page, shots / "realtime-progress.png")
        gate.touch()
        assert_watched_to_completion(page)
        page.close()


def test_the_page_carries_on_through_a_server_restart(
        browser: Any, live_engine: Engine, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    with site(tmp_path) as origin, OutlastServer(live_engine, (origin,)) as server, \
            running_worker(live_engine, concurrency=1, root=PROJECT, probe="rt-progress"):
        run_id, token = start_run(live_engine, server, gate)
        page = browser.new_page()
        page.set_default_timeout(LIVE)
        page.goto(page_url(origin, server, run=run_id, token=token, base=server.url))
        page.locator("#percent", has_text="50%").wait_for()
        # a deploy: the connection drops, the load balancer answers 503 for a while (the
        # browser's EventSource gives up on an error status: the module reconnects after
        # the last event itself), then a new server answers
        server.stop()
        balancer = Unavailable()
        server.start(balancer)
        eventually(lambda: balancer.requests >= 3, 30, "the page to retry a few times")
        server.stop()
        server.start()
        # the page is back (before the run moves on, so a repeated snapshot would show)
        eventually(lambda: server.app.state.realtime.broadcaster.subscribers == 1, 30,
                   "the page to reconnect")
        gate.touch()
        assert_watched_to_completion(page)
        page.close()


def test_a_site_not_in_cors_origins_cannot_read(
        browser: Any, live_engine: Engine, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    register_without_worker(live_engine)
    with site(tmp_path) as origin, \
            OutlastServer(live_engine, ("https://app.example.com",)) as server:
        run_id, token = start_run(live_engine, server, gate)
        page = browser.new_page()
        page.set_default_timeout(LIVE)
        page.goto(page_url(origin, server, run=run_id, token=token, reconnects="1"))
        page.locator("#error", has_text="unreachable").wait_for()
        assert "cors_origins" in page.inner_text("#error")
        assert page.evaluate("window.seen.length") == 0
        page.close()


def test_a_bad_token_ends_the_subscription_with_the_servers_reason(
        browser: Any, live_engine: Engine, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    register_without_worker(live_engine)
    with site(tmp_path) as origin, OutlastServer(live_engine, (origin,)) as server:
        run_id, _ = start_run(live_engine, server, gate)
        page = browser.new_page()
        page.set_default_timeout(LIVE)
        page.goto(page_url(origin, server, run=run_id, token="olpt_forged.token"))
        page.locator("#error", has_text="401 unauthorized").wait_for()
        assert "invalid public token" in page.inner_text("#error")
        page.close()


def test_a_page_follows_the_runs_with_a_tag(
        browser: Any, live_engine: Engine, tmp_path: Path) -> None:
    register_without_worker(live_engine)
    with site(tmp_path) as origin, OutlastServer(live_engine, (origin,)) as server:
        key = live_engine.create_api_key("dev")
        with outlast.Client(url=server.url, api_key=key) as client:
            ids = [client.tasks.trigger("rt-progress", {"n": n}, tags=["user:17"]).id
                   for n in range(2)]
            client.tasks.trigger("rt-progress", {"n": 2}, tags=["user:18"])
            token = client.auth.create_public_token(tag="user:17")
        page = browser.new_page()
        page.goto(f"{origin}/")  # any page of the other site
        seen = page.evaluate("""async ({ server, token }) => {
            const { subscribeToTag } = await import(`${server}/static/realtime.js`);
            const seen = [];
            for await (const run of subscribeToTag("user:17", { token })) {
                seen.push(run.id);
                if (seen.length === 2) break;   // a tag subscription never ends by itself
            }
            return seen;
        }""", {"server": server.url, "token": token})
        assert sorted(seen) == sorted(ids)
        # leaving the loop closed the connection: the server follows nobody any more
        eventually(lambda: server.app.state.realtime.broadcaster.subscribers == 0, 30,
                   "the subscription to close")
        page.close()
