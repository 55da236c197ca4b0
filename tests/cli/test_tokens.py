"""``outlast tokens``: create, list and complete waitpoint tokens from a terminal."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from outlast.engine import Engine
from outlast.store import open_store


@pytest.fixture
def database(store_url: str, project, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    store = open_store(store_url)
    monkeypatch.setenv("OUTLAST_DATABASE_URL", store_url)
    yield Engine(store)
    store.close()


def test_create_list_and_complete_a_token(database: Engine, outlast) -> None:
    created = outlast("tokens", "create", "--timeout", "1h", "--tag", "approval")
    assert created.exit_code == 0, created.output
    token = json.loads(created.stdout)
    assert token["status"] == "PENDING" and "/callback/" in token["url"]

    listed = outlast("tokens", "list", "--tag", "approval")
    assert token["id"] in listed.stdout

    done = outlast("tokens", "complete", token["id"], '{"approved": true}')
    assert done.exit_code == 0, done.output
    assert database.durable.retrieve_token("dev", token["id"])["output"] == {"approved": True}
    assert "no tokens match" in outlast("tokens", "list").stderr


def test_completing_twice_is_a_clear_error(database: Engine, outlast) -> None:
    token = json.loads(outlast("tokens", "create").stdout)
    assert outlast("tokens", "complete", token["id"]).exit_code == 0
    again = outlast("tokens", "complete", token["id"])
    assert again.exit_code == 1
    assert "already completed" in again.stderr


def test_unknown_token_and_bad_duration(database: Engine, outlast) -> None:
    assert outlast("tokens", "complete", "token_nope").exit_code == 1
    bad = outlast("tokens", "create", "--timeout", "soon")
    assert bad.exit_code == 2 and "timeout" in bad.stderr
