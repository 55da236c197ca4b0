"""Nobody reads what is not theirs: tokens bound to their project, token secrets hashed.

Two projects may share ``OUTLAST_SECRET`` (a team's PostgreSQL database, a schema each;
or two SQLite files); a public token or a dashboard cookie of one is refused by the
other. A token's callback secret is kept as a hash, like an API key.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from starlette.testclient import TestClient

from outlast.api import public_tokens
from outlast.clock import FakeClock
from outlast.core.definitions import TaskDefinition
from outlast.core.durable_requests import CreateToken, Op, ReadJournal
from outlast.core.settings import read_settings
from outlast.engine import Engine, hash_key
from outlast.engine.project_keys import load_keys, server_keys
from outlast.errors import AuthError, RunNotFoundError
from outlast.server.app import create_app
from outlast.store import open_store
from outlast.store.queries import migration_files
from outlast.worker import runtime

API = "/api/v1"
SHARED_SECRET = "one-secret-for-every-project"


@pytest.fixture
def other_engine(store_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Engine]:
    """Another project: a second SQLite file, or another schema of the same database."""
    sqlite = store_url.startswith("sqlite")
    url = f"sqlite:///{tmp_path / 'other.db'}" if sqlite else f"{store_url}?schema=other_project"
    store = open_store(url)
    store.migrate()
    yield Engine(store, clock=clock)
    store.close()
    if not sqlite:
        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA other_project CASCADE")


def public_token(app_engine: Engine, http: TestClient, tag: str = "order-42") -> str:
    key = app_engine.create_api_key("prod")
    made = http.post(f"{API}/auth/public-tokens", json={"scope": {"tag": tag}},
                     headers={"Authorization": f"Bearer {key}"})
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


def test_a_public_token_is_refused_by_another_project_with_the_same_secret(
        engine: Engine, other_engine: Engine) -> None:
    with TestClient(create_app(engine, secret=SHARED_SECRET, scheduler=False)) as ours:
        token = public_token(engine, ours)
    # it is good where it was made...
    scope = public_tokens.verify(server_keys(engine), token, engine.clock.now())
    assert scope.tag == "order-42" and scope.environment == "prod"
    # ...and nowhere else, though the other project signs with the very same secret
    theirs = create_app(other_engine, secret=SHARED_SECRET, scheduler=False)
    with TestClient(theirs) as http:
        refused = http.get(f"{API}/runs/subscribe", params={"tag": "order-42",
                                                           "access_token": token})
    assert refused.status_code == 401
    assert "another project" in refused.json()["error"]["message"]
    with pytest.raises(AuthError):
        public_tokens.verify(server_keys(other_engine), token,
                             engine.clock.now())


def test_the_project_identity_is_kept_by_the_database(engine: Engine,
                                                      other_engine: Engine) -> None:
    first = load_keys(engine, SHARED_SECRET)
    again = load_keys(Engine(engine.store, clock=engine.clock), SHARED_SECRET)
    other = load_keys(other_engine, SHARED_SECRET)
    assert first == again  # every server of a project, every restart
    assert other.secret == first.secret and other.project != first.project


def test_a_dashboard_cookie_is_refused_by_another_project_with_the_same_secret(
        engine: Engine, other_engine: Engine) -> None:
    key = engine.create_api_key("prod")
    # the other project even knows the same key: only the cookie's project differs
    with other_engine.store.transaction() as tx:
        tx.run("insert_api_key", id="key_copy", environment="prod", key_hash=hash_key(key),
               prefix=key[:12], now=1.0)
    with TestClient(create_app(engine, secret=SHARED_SECRET, scheduler=False)) as ours:
        login(ours, key)
        assert ours.get("/", follow_redirects=False).status_code == 200
        cookies = dict(ours.cookies)
    theirs = create_app(other_engine, secret=SHARED_SECRET, scheduler=False)
    with TestClient(theirs, cookies=cookies) as http:
        page = http.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def login(http: TestClient, key: str) -> None:
    page = http.get("/login").text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    done = http.post("/login", data={"csrf": csrf, "key": key, "next": "/"},
                     follow_redirects=False)
    assert done.status_code == 303, done.text


# -- token secrets at rest ----------------------------------------------------------------


def test_a_token_callback_secret_is_stored_only_as_its_hash(engine: Engine) -> None:
    engine.register_tasks("prod", [TaskDefinition(id="t", queue="t")])
    key = engine.create_api_key("prod")
    with TestClient(create_app(engine, scheduler=False),
                    headers={"Authorization": f"Bearer {key}"}) as http:
        token = http.post(f"{API}/waitpoints/tokens", json={}).json()
        secret = urlsplit(token["url"]).path.rsplit("/", 1)[1]
        with engine.store.transaction(write=False) as tx:
            row = dict(tx.one("get_waitpoint", id=token["id"]) or {})
        assert secret not in {str(v) for v in row.values()}
        assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
        # read back later, the URL is derived again from the id (the store cannot)
        assert http.get(f"{API}/waitpoints/tokens/{token['id']}").json()["url"] == token["url"]
        anonymous = TestClient(http.app)
        assert anonymous.post(urlsplit(token["url"]).path + "x", json={}).status_code == 404
        done = anonymous.post(urlsplit(token["url"]).path, json={"ok": 1})
        assert done.status_code == 200 and done.json()["status"] == "COMPLETED"


def test_migration_0008_hashes_the_secrets_already_handed_out(empty_store_url: str,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    dialect = "sqlite" if empty_store_url.startswith("sqlite") else "postgres"
    files = migration_files(dialect)
    at = next(i for i, f in enumerate(files) if f[0].startswith("0008"))
    monkeypatch.setattr("outlast.store.migrate.migration_files", lambda d: files[:at])
    store = open_store(empty_store_url)
    try:
        store.migrate()
        insert_old_token(empty_store_url, "token_old", "old-plain-secret")
        monkeypatch.undo()
        assert store.migrate() == [f[0] for f in files[at:]]
        engine = Engine(store)
        with pytest.raises(Exception, match="no token"):
            engine.durable.complete_token(None, "token_old", 1, secret="wrong")
        done = engine.durable.complete_token(None, "token_old", 1, secret="old-plain-secret")
        assert done["status"] == "COMPLETED"
    finally:
        store.close()
    assert "old-plain-secret" not in dump(empty_store_url)


_OLD_TOKEN = ("INSERT INTO waitpoints (id, environment, kind, status, idx, secret, tags, "
              "created_at) VALUES ('{id}', 'prod', 'token', 'PENDING', 0, '{secret}', '[]', 1)")


def insert_old_token(url: str, token_id: str, secret: str) -> None:
    statement = _OLD_TOKEN.format(id=token_id, secret=secret)
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute(statement)
        return
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement.encode())


def dump(url: str) -> str:
    """Every value of every table, as text."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
            return repr([conn.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables])
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema()")]
        return repr([conn.execute(f'SELECT * FROM "{t}"'.encode()).fetchall() for t in tables])


def test_a_public_token_made_in_process_is_good_on_a_server_with_the_secret(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backend on ``Client(database_url=...)`` signs with ``OUTLAST_SECRET`` as well."""
    from outlast.sdk.client import Client

    monkeypatch.setenv("OUTLAST_SECRET", SHARED_SECRET)
    backend = Client(database_url=store_url, environment="prod")
    token = backend.auth.create_public_token(tag="order-42")
    server = Engine(open_store(store_url))
    try:
        keys = load_keys(server, SHARED_SECRET)  # as ``outlast server`` does
        assert public_tokens.verify(keys, token).tag == "order-42"
    finally:
        server.store.close()


# -- token URLs: derived from the id, never stored ----------------------------------------


def secret_of(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


def test_no_table_holds_a_token_secret_yet_every_url_completes_it(
        engine: Engine, store_url: str, register: Callable[..., Any],
        trigger: Callable[..., Any]) -> None:
    register(engine, "approve")
    run_id = trigger(engine, "approve").row["id"]
    run = engine.claim("dev", "worker-1", None, 1)[0]
    create = CreateToken(Op(run_id, run["lease_id"], 0, "create_token", "token"), None, [],
                         None)
    made = runtime.dispatch(engine, "dev", create)
    url = made["result"]["url"]
    assert url and secret_of(url) not in dump(store_url)  # not the waitpoint, not the journal
    # the answers that come later give the same URL: retrieve, list, and the replay
    assert engine.durable.retrieve_token("dev", made["result"]["id"])["url"] == url
    assert [t["url"] for t in engine.durable.list_tokens("dev")[0]] == [url]
    [replayed] = runtime.dispatch(engine, "dev", ReadJournal(run_id, run["lease_id"]))
    assert replayed["result"] == made["result"]
    assert runtime.committed(engine, create) == made
    assert secret_of(url) not in dump(store_url)
    anonymous = TestClient(create_app(engine, scheduler=False))
    with anonymous:
        done = anonymous.post(urlsplit(replayed["result"]["url"]).path, json={"ok": 1})
    assert done.status_code == 200 and done.json()["status"] == "COMPLETED"


def test_an_idempotent_repeat_answers_the_url_again(engine: Engine) -> None:
    first = engine.durable.new_token("prod", None, [], "order-42")
    again = engine.durable.new_token("prod", None, [], "order-42")
    assert again["id"] == first["id"] and again["url"] == first["url"] is not None


def test_another_project_secret_invalidates_the_outstanding_token_urls(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "settings", read_settings({"OUTLAST_SECRET": "the-secret-before"}))
    token = engine.durable.new_token("prod", None, [], None)
    # a process started after rotation
    rotated = Engine(engine.store, clock=engine.clock,
                     settings=read_settings({"OUTLAST_SECRET": "the-secret-after"}))
    assert rotated.durable.retrieve_token("prod", token["id"])["url"] is None
    with pytest.raises(RunNotFoundError):
        rotated.durable.complete_token(None, token["id"], 1, secret=secret_of(token["url"]))
    # the process that still has the old secret completes it, as before
    assert engine.durable.complete_token(None, token["id"], 1,
                                         secret=secret_of(token["url"]))["status"] == "COMPLETED"


def test_migration_0011_scrubs_token_urls_from_the_journal(empty_store_url: str,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    dialect = "sqlite" if empty_store_url.startswith("sqlite") else "postgres"
    files = migration_files(dialect)
    at = next(i for i, f in enumerate(files) if f[0].startswith("0011"))
    monkeypatch.setattr("outlast.store.migrate.migration_files", lambda d: files[:at])
    store = open_store(empty_store_url)
    try:
        store.migrate()
        secret = "0ldpla1nsecretinthejourna1"
        with store.transaction() as tx:  # what a run's create_token wrote before 0011
            tx.run("insert_waitpoint", id="token_old", environment="prod", kind="token",
                   run_id=None, seq=None, idx=0, due_at=None, child_run_id=None,
                   secret_hash=hashlib.sha256(secret.encode()).hexdigest(), tags="[]",
                   idempotency_key=None, created_by_run="run_old", now=1.0)
            tx.run("insert_journal", run_id="run_old", seq=0, kind="create_token",
                   name="token", status="ok", error=None, now=1.0, started=1.0, result=json.dumps(
                       {"id": "token_old", "status": "PENDING", "tags": [],
                        "url": f"http://h/api/v1/waitpoints/tokens/token_old/callback/{secret}"}))
        assert secret in dump(empty_store_url)
        monkeypatch.undo()
        assert store.migrate() == [f[0] for f in files[at:]]
        assert secret not in dump(empty_store_url)
        engine = Engine(store)
        [entry] = engine.durable.run_journal("run_old")
        # a random secret cannot be derived again: no URL, but the one handed out works
        assert entry["result"] == {"id": "token_old", "status": "PENDING", "tags": [],
                                   "url": None}
        done = engine.durable.complete_token(None, "token_old", 1, secret=secret)
        assert done["status"] == "COMPLETED"
    finally:
        store.close()
