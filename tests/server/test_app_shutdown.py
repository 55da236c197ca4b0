"""An app stops its realtime listener at shutdown, with or without upkeep.

An app built with ``scheduler=False`` (embedded in another app, or in tests) used to keep
its listener thread, and its database connection, reconnecting after shutdown.
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from outlast.engine import Engine
from outlast.server.app import create_app


@pytest.mark.parametrize("scheduler", [False, True])
def test_shutdown_stops_the_realtime_listener(engine: Engine, scheduler: bool) -> None:
    app = create_app(engine, scheduler=scheduler)
    broadcaster = app.state.realtime.broadcaster

    async def subscribe() -> None:
        with broadcaster.subscription("*"):
            pass

    with TestClient(app) as client:
        client.portal.call(subscribe)  # the first subscriber starts the listener
        thread = broadcaster._thread
        assert thread is not None and thread.is_alive()
    assert not thread.is_alive()
