"""Project defaults from outlast.toml apply to tasks that set none themselves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from outlast import Retry, task
from outlast.sdk.registry import Registry
from outlast.sdk.task import set_task_defaults


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    set_task_defaults()


def test_defaults_fill_what_a_task_leaves_open() -> None:
    set_task_defaults(retry={"max_attempts": 7, "min_delay": 2.0}, machine="large-1x",
                      max_duration=600)
    reg = Registry()

    @task(registry=reg)
    def plain(payload: object) -> None: ...

    @task(registry=reg, retry=Retry(max_attempts=1), machine="micro", max_duration=5)
    def explicit(payload: object) -> None: ...

    assert (plain.retry.max_attempts, plain.retry.min_delay) == (7, 2.0)
    assert (plain.machine, plain.max_duration) == ("large-1x", 600)
    assert (explicit.retry.max_attempts, explicit.machine, explicit.max_duration) == (
        1, "micro", 5)


def test_without_defaults_the_documented_ones_hold() -> None:
    reg = Registry()

    @task(registry=reg)
    def plain(payload: object) -> None: ...

    assert plain.retry == Retry() and plain.machine == "small-1x" and plain.max_duration is None
