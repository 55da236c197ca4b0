"""The package stays type-checked (mypy --strict) and lint-clean (ruff), and its public
surface stays what the contract names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import outlast

ROOT = Path(__file__).resolve().parent.parent

PUBLIC = {
    "AbortTaskRunError", "AsyncClient", "AsyncRunHandle", "BatchHandle", "Client",
    "ConfigError", "InvalidTransitionError", "NotFoundError", "OutlastError",
    "PayloadTooLargeError", "Queue", "Retry", "RetryDecision", "Run", "RunContext", "RunHandle",
    "RunNotFoundError", "ScheduleNotFoundError", "Task", "TaskNotFoundError", "TaskRunFailed",
    "ValidationError", "__version__", "batch", "configure", "logger", "runs", "schedules", "task",
    "tasks",
    "DurableUsageError", "NonDeterminismError", "TaskRunResult", "Token", "WaitResult",
    "idempotency_keys", "step", "wait",
    "metadata", "streams", "tags",
    "queues", "versions",
    "patched",
    "tools",
    "hooks", "LocalKey",
}


def test_public_names_are_pinned() -> None:
    assert set(outlast.__all__) == PUBLIC
    assert len(outlast.__all__) == len(PUBLIC), "a name is listed twice"
    for name in outlast.__all__:
        assert hasattr(outlast, name), name


# mypy is CPU-bound and shares the cores with the suite's other worker processes: the
# test's own limit is the subprocess's, not the suite's 120 s default
@pytest.mark.timeout(600)
def test_mypy_strict_passes() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(600)
@pytest.mark.parametrize("example", sorted(p.name for p in (ROOT / "examples").iterdir()
                                           if (p / "README.md").is_file()))
def test_each_example_type_checks(example: str) -> None:
    """mypy --strict from the example's own folder, as its users would run it."""
    folder = ROOT / "examples" / example
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", example, "tests"],
                            cwd=folder, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_passes() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests",
                             "examples"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
