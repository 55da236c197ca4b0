"""Settings come from the environment once, at a process's entry point; the engine and
upkeep are handed them and never read the environment themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import outlast
from outlast.core.settings import DEFAULT_LEASE_SECONDS, Settings, read_settings
from outlast.errors import ConfigError

PACKAGE = Path(outlast.__file__).parent


def reads_the_environment(tree: ast.AST) -> list[int]:
    """Lines that touch ``os.environ``/``os.getenv`` or import them from ``os``."""
    return [node.lineno for node in ast.walk(tree) if _os_attribute(node) or _os_import(node)]


def _os_attribute(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "putenv"}
            and isinstance(node.value, ast.Name) and node.value.id == "os")


def _os_import(node: ast.AST) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "os" and any(
        alias.name in {"environ", "getenv"} for alias in node.names)


@pytest.mark.parametrize("package", ["engine", "upkeep"])
def test_the_engine_and_upkeep_never_read_the_environment(package: str) -> None:
    found = {str(path.relative_to(PACKAGE)): lines
             for path in sorted((PACKAGE / package).rglob("*.py"))
             if (lines := reads_the_environment(ast.parse(path.read_text())))}
    assert found == {}


def test_the_check_sees_a_read() -> None:
    assert reads_the_environment(ast.parse("import os\nos.environ.get('X')")) == [2]
    assert reads_the_environment(ast.parse("from os import getenv")) == [1]


CASES = [
    # (environment, what the settings say)
    ({}, Settings()),
    ({"OUTLAST_LEASE_SECONDS": "12.5"}, Settings(lease_seconds=12.5)),
    ({"OUTLAST_RETENTION_INTERVAL": "60"}, Settings(retention_interval=60.0)),
    ({"OUTLAST_LEASE_SECONDS": ""}, Settings(lease_seconds=DEFAULT_LEASE_SECONDS)),
    ({"OUTLAST_PUBLIC_URL": "https://x.example"}, Settings(public_url="https://x.example")),
    ({"OUTLAST_ALLOWED_HOSTS": " a, ,b "}, Settings(allowed_hosts=("a", "b"))),
    ({"OUTLAST_ENV_CONCURRENCY_LIMIT": "7"}, Settings(env_concurrency_limit=7)),
    ({"OUTLAST_ENV_CONCURRENCY_LIMIT": "0"}, Settings()),
    ({"OUTLAST_ENV_CONCURRENCY_LIMIT": "many"}, Settings()),
    ({"OUTLAST_ALERT_WEBHOOK_URL": "http://h/x"}, Settings(alert_webhook_url="http://h/x")),
    ({"OUTLAST_SECRET": "s"}, Settings(secret="s", alert_webhook_secret="s")),
    ({"OUTLAST_SECRET": "s", "OUTLAST_ALERT_WEBHOOK_SECRET": "w"},
     Settings(secret="s", alert_webhook_secret="w")),
]


@pytest.mark.parametrize(("environ", "expected"), CASES)
def test_read_settings(environ: dict[str, str], expected: Settings) -> None:
    assert read_settings(environ) == expected


def test_a_lease_that_is_no_number_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="OUTLAST_LEASE_SECONDS"):
        read_settings({"OUTLAST_LEASE_SECONDS": "soon"})
