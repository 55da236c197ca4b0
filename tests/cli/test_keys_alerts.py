"""``outlast keys list|revoke`` and ``outlast alerts``, on SQLite and PostgreSQL."""

from __future__ import annotations

from outlast.engine import Engine
from outlast.store import open_store


def test_keys_list_shows_prefixes_and_revoke_stops_a_key(store_url: str, outlast) -> None:
    key = outlast("keys", "create", "--env", "prod", "--database-url", store_url).stdout.strip()
    listed = outlast("keys", "list", "--database-url", store_url)
    assert listed.exit_code == 0, listed.output
    assert key[:11] in listed.stdout and key not in listed.stdout
    assert "active" in listed.stdout
    key_id = listed.stdout.splitlines()[1].split()[0]
    assert key_id.startswith("key_")
    revoked = outlast("keys", "revoke", key_id, "--database-url", store_url)
    assert revoked.exit_code == 0, revoked.output
    store = open_store(store_url)
    try:
        assert Engine(store).authenticate(key) is None
    finally:
        store.close()
    again = outlast("keys", "revoke", key_id, "--database-url", store_url)
    assert again.exit_code == 1 and "no active API key" in again.stderr
    assert "active" not in outlast("keys", "list", "--env", "prod", "--database-url",
                                   store_url).stdout.splitlines()[1]


def test_alerts_set_list_and_remove(store_url: str, outlast) -> None:
    done = outlast("alerts", "set", "--env", "prod", "http://127.0.0.1:9/hook",
                   "--secret", "s3cret", "--database-url", store_url)
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == "s3cret"
    listed = outlast("alerts", "list", "--env", "prod", "--database-url", store_url)
    assert "http://127.0.0.1:9/hook" in listed.stdout
    assert outlast("alerts", "set", "--env", "prod", "ftp://x", "--database-url",
                   store_url).exit_code == 2
    removed = outlast("alerts", "remove", "--env", "prod", "--database-url", store_url)
    assert "removed" in removed.stderr
    assert "127.0.0.1:9" not in outlast("alerts", "list", "--database-url", store_url).stdout
