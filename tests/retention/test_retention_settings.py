"""Where retention is set: ``[retention]`` in outlast.toml (per environment too) and
``@task(retention=...)``, each checked when loaded, with an error naming the setting; and
the pure rules that decide which runs may go."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from outlast import ValidationError, task
from outlast.config import load_config
from outlast.core.definitions import TaskDefinition
from outlast.core.retention import DAY, FAILED_STATUSES, Retention, describe, parse_retention
from outlast.engine.retention import FINAL_STATUSES, Policy, deletable, groups, keep_until
from outlast.engine.statuses import FINAL
from outlast.errors import ConfigError
from outlast.sdk.registry import Registry
from outlast.sdk.task import set_task_defaults


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    set_task_defaults()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory, with no ``OUTLAST_*`` variable in the way."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("OUTLAST_")]:
        monkeypatch.delenv(name)
    return tmp_path


def config_with(project: Path, text: str, **environ: str) -> Retention:
    (project / "outlast.toml").write_text('project = "shop"\n' + text)
    return load_config(environ=environ).retention


def test_the_project_and_each_environment_set_their_own(project: Path) -> None:
    assert config_with(project, "") == Retention(30 * DAY, 90 * DAY)
    text = '[retention]\nfinished = "14d"\n[retention.prod]\nfailed = "forever"\n'
    assert config_with(project, text) == Retention(14 * DAY, 90 * DAY)
    assert config_with(project, text, OUTLAST_ENVIRONMENT="prod") == Retention(14 * DAY, None)


@pytest.mark.parametrize(("text", "message"), [
    ('[retention]\nfinished = "7x"\n', "retention.finished: cannot read '7x' as a duration"),
    ('[retention]\nfailed = 0\n', "retention.failed: must be longer than zero"),
    ('[retention]\nkept = "7d"\n', "unknown retention setting(s): kept"),
    ('[retention.production]\nfinished = "7d"\n', "unknown retention setting(s): production"),
    ('[retention.prod]\nfinished = true\n', "retention.prod.finished: expected a duration"),
    ('retention = "7d"\n', "[retention] must be a table"),
])
def test_a_bad_setting_is_refused_at_load(project: Path, text: str, message: str) -> None:
    (project / "outlast.toml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config()
    assert message in err.value.message


def test_a_task_sets_its_own_or_takes_the_projects(project: Path) -> None:
    (project / "outlast.toml").write_text('[retention]\nfinished = "14d"\nfailed = "60d"\n')
    set_task_defaults(**load_config().task_defaults())
    reg = Registry()

    @task(registry=reg)
    def plain(payload: object) -> None: ...

    @task(registry=reg, retention="7d")
    def brief(payload: object) -> None: ...

    @task(registry=reg, retention={"failed": timedelta(days=365)})
    def audited(payload: object) -> None: ...

    @task(registry=reg, retention="forever")
    def kept(payload: object) -> None: ...

    assert plain.retention == Retention(14 * DAY, 60 * DAY)
    assert brief.retention == Retention(7 * DAY, 7 * DAY)
    assert audited.retention == Retention(14 * DAY, 365 * DAY)
    assert kept.retention == Retention(None, None)
    stored = TaskDefinition.from_dict(audited.definition().to_dict())
    assert stored.retention == audited.retention


@pytest.mark.parametrize(("value", "message"), [
    ("7x", "retention: cannot read '7x' as a duration"),
    ({"finished": "7d", "kept": "1d"}, "retention: unknown key(s) kept"),
    (-1, "retention: must not be negative"),
    ([7], "retention: expected a duration"),
])
def test_a_bad_task_retention_is_a_clear_error(value: object, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        @task(registry=Registry(), retention=value)  # type: ignore[arg-type]
        def bad(payload: object) -> None: ...
    assert message in err.value.message


def test_a_definition_from_an_older_worker_has_none() -> None:
    data = TaskDefinition(id="a", queue="a").to_dict()
    del data["retention"]
    assert TaskDefinition.from_dict(data).retention is None


def test_failed_is_defined_once_among_the_final_statuses() -> None:
    assert {s.value for s in FINAL} > FAILED_STATUSES
    assert set(FINAL_STATUSES) == {s.value for s in FINAL}
    assert Retention(1, 2).for_status("CRASHED") == 2
    assert Retention(1, 2).for_status("EXPIRED") == 1
    assert [describe(v) for v in (30 * DAY, 7200, 90, 1.5, None)] == [
        "30d", "2h", "90s", "1.5s", "forever"]
    assert parse_retention({}, Retention(5, 6)) == Retention(5, 6)


def fact(status: str = "COMPLETED", task_id: str = "t", finished: float = 0.0,
         key: float | None = None, hooks: int = 0) -> dict[str, object]:
    return {"tree": "r", "task_id": task_id, "status": status, "finished_at": finished,
            "key_expires_at": key, "hooks": hooks, "runs": 1}


@pytest.mark.parametrize(("row", "until"), [
    (fact(), 30 * DAY),
    (fact("FAILED"), 90 * DAY),
    (fact("CANCELED", finished=DAY), 31 * DAY),
    (fact(key=40 * DAY), 70 * DAY),       # counted from the key's expiry, when later
    (fact(key=-5.0), 30 * DAY),
    (fact("WAITING"), math.inf),          # a live run keeps its tree
    (fact("PARKED"), math.inf),
    (fact(hooks=1), math.inf),            # a hook still to call
    (fact(task_id="short"), 7 * DAY),
    (fact(task_id="kept"), math.inf),
])
def test_how_long_runs_stay(row: dict[str, object], until: float) -> None:
    policy = Policy(tasks={"short": Retention(7 * DAY, 7 * DAY), "kept": Retention(None, None)})
    assert keep_until(row, policy) == until


def test_a_tree_goes_only_when_every_run_may() -> None:
    policy = Policy()
    done = [fact(), fact("FAILED", task_id="u", finished=10 * DAY)]
    assert not deletable(done, policy, 99 * DAY)
    assert deletable(done, policy, 100.1 * DAY)
    assert not deletable([], policy, 1e12)
    assert deletable([fact("WAITING")], Policy(older_than=DAY), 1e12) is False
    rows = [{"id": "a", "batch_id": "b1"}, {"id": "c", "batch_id": None},
            {"id": "d", "batch_id": "b1"}]
    trees = [{"batch_id": "b1", "tree": "a"}, {"batch_id": "b1", "tree": "d"},
             {"batch_id": "b1", "tree": "e"}]
    assert groups(rows, trees) == [frozenset("ade"), frozenset("c")]


def test_every_table_has_its_delete_in_order() -> None:
    from outlast.engine.pruning import DELETES, TABLES

    assert list(DELETES) == list(TABLES) and TABLES[-1] == "runs"
