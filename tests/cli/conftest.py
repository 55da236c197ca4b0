"""Fixtures for the command line: a project directory and a runner for ``outlast``.

Every test runs in its own empty directory with no ``OUTLAST_*`` variables set, so
what a command finds is exactly what the test put there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from outlast.cli.main import cli

Invoke = Callable[..., Result]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, isolated from the caller's Outlast settings."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    for name in list(os.environ):
        if name.startswith("OUTLAST_"):
            monkeypatch.delenv(name)
    return root


@pytest.fixture
def outlast(project: Path) -> Invoke:
    """``outlast("trigger", "hello")`` → click Result (stdout and stderr kept apart)."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke
