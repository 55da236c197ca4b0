"""The dashboard takes full API keys only: a read or trigger key is refused at login with
the reason, on both stores."""

from __future__ import annotations

from typing import Any

import pytest

from outlast.engine import Engine


def try_login(http: Any, key: str) -> Any:
    page = http.get("/login").text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return http.post("/login", data={"csrf": csrf, "key": key, "next": "/"})


@pytest.mark.parametrize("scope", ["read", "trigger"])
def test_a_narrow_key_is_refused_with_the_reason(anonymous: Any, engine: Engine,
                                                 scope: str) -> None:
    refused = try_login(anonymous, engine.create_api_key("prod", scope=scope))
    assert refused.status_code == 403
    assert f"That is a {scope}-only API key; the dashboard needs a full key" in refused.text
    assert anonymous.get("/").status_code == 303  # still logged out


def test_a_full_key_logs_in(anonymous: Any, engine: Engine) -> None:
    done = try_login(anonymous, engine.create_api_key("prod", scope="full"))
    assert done.status_code == 303
    assert anonymous.get("/").status_code == 200
