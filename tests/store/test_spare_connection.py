"""PostgreSQL keeps the connection a transaction used for the next one (``_Spare``)
instead of handing it back to the pool, but never while a thread waits for the pool."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from outlast.store.postgres import store as pg
from outlast.store.postgres.store import PostgresStore
from tests.conftest import require_postgres


@pytest.fixture
def small_store(_pg_session_db: Any) -> Iterator[PostgresStore]:
    """An empty store of at most one connection."""
    require_postgres()
    _pg_session_db.empty()
    store = PostgresStore(_pg_session_db.url, min_size=1, max_size=1)
    yield store
    store.close()


def _pool_requests(store: PostgresStore) -> int:
    return int(store._pool.get_stats().get("requests_num", 0))


def _ping(store: PostgresStore) -> None:
    with store.transaction() as tx:
        assert tx.one("ping") == {"ok": 1}


def test_transactions_one_after_another_reuse_one_connection(
        small_store: PostgresStore) -> None:
    _ping(small_store)
    asked = _pool_requests(small_store)
    for _ in range(5):
        _ping(small_store)
    assert _pool_requests(small_store) == asked  # the pool was not asked again
    with small_store.connection() as conn:
        pid = conn.info.backend_pid
    _ping(small_store)
    with small_store.connection() as conn:
        assert conn.info.backend_pid == pid


def test_a_thread_waiting_for_the_pool_gets_the_connection_when_it_is_free(
        small_store: PostgresStore) -> None:
    """With one connection, a second thread waits in the pool while the first holds it;
    the first's end hands it to the pool, not to the spare slot, so the wait ends at once
    (kept back, it would end only with the pool's timeout, ``PoolTimeout``)."""
    _ping(small_store)
    holding = threading.Event()
    took: list[float] = []
    errors: list[BaseException] = []

    def first() -> None:
        with small_store.transaction() as tx:
            tx.one("ping")
            holding.set()
            time.sleep(0.5)  # the second thread is waiting for the pool by now

    def second() -> None:
        holding.wait()
        start = time.monotonic()
        try:
            _ping(small_store)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        took.append(time.monotonic() - start)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == [] and len(took) == 1
    assert took[0] < pg.CHECKOUT_TIMEOUT / 2
    _ping(small_store)  # and one after both uses it again


def test_a_connection_goes_back_to_the_pool_after_a_while(
        small_store: PostgresStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg, "SPARE_SECONDS", 0.0)
    _ping(small_store)
    asked = _pool_requests(small_store)
    for _ in range(3):
        _ping(small_store)
    assert _pool_requests(small_store) == asked + 3


def test_a_connection_left_in_a_transaction_is_not_kept(small_store: PostgresStore) -> None:
    with small_store.connection() as conn:
        conn.execute("BEGIN")
    assert small_store._spare.take() is None  # the pool got it, and rolls it back
    _ping(small_store)


def test_closing_the_store_closes_the_kept_connection(_pg_session_db: Any) -> None:
    require_postgres()
    store = PostgresStore(_pg_session_db.url, min_size=1, max_size=2)
    _ping(store)
    with store.connection() as conn:
        pass
    store.close()
    assert conn.closed
