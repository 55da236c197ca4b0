"""``outlast worker --version V`` / ``OUTLAST_VERSION``: checked before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Invoke


def test_a_bad_version_stops_the_worker_before_it_starts(project: Path,
                                                         outlast: Invoke) -> None:
    result = outlast("worker", "--version", "not a version")
    assert result.exit_code == 2
    assert "--version (or OUTLAST_VERSION) 'not a version' is not a version name" \
        in result.stderr


def test_outlast_version_is_checked_the_same_way(project: Path, outlast: Invoke,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTLAST_VERSION", "-starts-with-a-dash")
    result = outlast("worker")
    assert result.exit_code == 2
    assert "is not a version name" in result.stderr
