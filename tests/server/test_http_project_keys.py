"""Nobody reads what is not theirs: tokens bound to their project, token secrets hashed.

Two projects may share ``OUTLAST_SECRET`` (a team's PostgreSQL database, a schema each;
or two SQLite files); a public token or a dashboard cookie of one is refused by the
other. A token's callback secret is kept as a hash, like an API key.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from starlette.testclient import TestClient

from outlast.clock import FakeClock
from outlast.engine import Engine, hash_key
from outlast.engine.definitions import TaskDefinition
from outlast.errors import AuthError
from outlast.server import public_tokens
from outlast.server.app import create_app
from outlast.store import open_store
from outlast.store.queries import migration_files

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
    scope = public_tokens.verify(public_tokens.server_keys(engine), token, engine.clock.now())
    assert scope.tag == "order-42" and scope.environment == "prod"
    # ...and nowhere else, though the other project signs with the very same secret
    theirs = create_app(other_engine, secret=SHARED_SECRET, scheduler=False)
    with TestClient(theirs) as http:
        refused = http.get(f"{API}/runs/subscribe", params={"tag": "order-42",
                                                           "access_token": token})
    assert refused.status_code == 401
    assert "another project" in refused.json()["error"]["message"]
    with pytest.raises(AuthError):
        public_tokens.verify(public_tokens.server_keys(other_engine), token,
                             engine.clock.now())


def test_the_project_identity_is_kept_by_the_database(engine: Engine,
                                                      other_engine: Engine) -> None:
    first = public_tokens.load_keys(engine, SHARED_SECRET)
    again = public_tokens.load_keys(Engine(engine.store, clock=engine.clock), SHARED_SECRET)
    other = public_tokens.load_keys(other_engine, SHARED_SECRET)
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
        # read back later, a token has no URL: nobody can learn the secret again
        assert http.get(f"{API}/waitpoints/tokens/{token['id']}").json()["url"] is None
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
    """Every value of every waitpoint, as text."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return repr(conn.execute("SELECT * FROM waitpoints").fetchall())
    with psycopg.connect(url) as conn:
        return repr(conn.execute("SELECT * FROM waitpoints").fetchall())


def test_a_public_token_made_in_process_is_good_on_a_server_with_the_secret(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backend on ``Client(database_url=...)`` signs with ``OUTLAST_SECRET`` as well."""
    from outlast.sdk.client import Client

    monkeypatch.setenv("OUTLAST_SECRET", SHARED_SECRET)
    backend = Client(database_url=store_url, environment="prod")
    token = backend.auth.create_public_token(tag="order-42")
    server = Engine(open_store(store_url))
    try:
        keys = public_tokens.load_keys(server, SHARED_SECRET)  # as ``outlast server`` does
        assert public_tokens.verify(keys, token).tag == "order-42"
    finally:
        server.store.close()
