"""Under ``outlast dev`` each reload is a new version, and the runs in flight follow it:
a run asleep when a task file changes wakes on the new code; one whose recorded step was
renamed parks and says how to get out; reverting the file and resuming finishes it
without running its recorded step again. The real ``outlast dev`` in a subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from outlast import Client
from tests.acceptance.test_dev_faults import Dev, outlast
from tests.eventually import eventually

pytestmark = pytest.mark.acceptance

FLOWS = '''
from pathlib import Path
from outlast import step, task, wait

MARKS = Path(__file__).resolve().parents[2] / "marks.txt"


def mark(name):
    with MARKS.open("a") as out:
        out.write(name + "\\n")
    return name


@task(id="napper")
def napper(payload):
    step.run("first", mark, "napper:first")
    wait.sleep(seconds=payload["sleep"])
    step.run("second", mark, "napper:second")
    return "v1"


@task(id="charger")
def charger(payload):
    step.run("charge", mark, "charger:charge")
    wait.sleep(seconds=payload["sleep"])
    step.run("ship", mark, "charger:ship")
    return "shipped"
'''

#: napper returns something else (its steps keep their names); charger's step is renamed
EDITED = FLOWS.replace('return "v1"', 'return "v2"').replace(
    'step.run("charge", mark, "charger:charge")',
    'step.run("charge-card", mark, "charger:charge-card")')

SLEEP = 20  # long enough for the reload to register before the runs wake


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    root = tmp_path / "app"
    (root / "tasks").mkdir(parents=True)
    (root / "outlast.toml").write_text('project = "app"\n')
    (root / "tasks" / "flows.py").write_text(FLOWS)
    started = Dev(root)
    yield started
    started.stop()


def current(client: Client) -> str | None:
    return next((v.version for v in client.versions.list() if v.state == "current"), None)


def status(client: Client, run_id: str) -> str:
    return client.runs.retrieve(run_id).status


def until(client: Client, run_id: str, wanted: str, what: str) -> Any:
    eventually(lambda: status(client, run_id) == wanted, 90, what)
    return client.runs.retrieve(run_id)


def marks(tmp_path: Path) -> list[str]:
    return (tmp_path / "marks.txt").read_text().split()


def test_a_reload_is_a_version_the_runs_in_flight_follow(dev: Dev, tmp_path: Path) -> None:
    dev.wait_ready("charger")
    with dev.client() as client:
        first = current(client)
        assert first is not None
        napper = client.tasks.trigger("napper", {"sleep": SLEEP}).id
        charger = client.tasks.trigger("charger", {"sleep": SLEEP}).id
        for run_id in (napper, charger):
            until(client, run_id, "WAITING", "the run to sleep")

        (dev.root / "tasks" / "flows.py").write_text(EDITED)
        eventually(lambda: current(client) not in (None, first), 60, "the reload's version")
        second = current(client)
        assert status(client, napper) == "WAITING", "woke before the reload: no test"
        followed = [e for e in client.runs.events(napper) if e.kind == "move_version"]
        assert [(e.data["previous"], e.data["version"], e.data["reason"])
                for e in followed] == [(first, second, "reloaded")]

        done = until(client, napper, "COMPLETED", "the run to finish on the new code")
        assert (done.output, done.version) == ("v2", second)

        parked = until(client, charger, "PARKED", "the renamed step to park the run")
        message = parked.parked["message"]
        assert "recorded as step 'charge'" in message and "now calls step 'charge-card'" \
            in message
        assert "revert the change" in message
        assert f"`outlast runs resume {charger}`" in message
        assert f"`outlast runs move {charger} --version V`" in message

        (dev.root / "tasks" / "flows.py").write_text(FLOWS)  # revert the change
        eventually(lambda: current(client) == first, 60, "the reverted code's version")
        eventually(lambda: client.runs.retrieve(charger).version == first, 30,
                   "the parked run to follow the reload")
        resumed = outlast(dev.root, "runs", "resume", charger)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        finished = until(client, charger, "COMPLETED", "the resumed run to finish")
        assert finished.output == "shipped"
    assert marks(tmp_path).count("charger:charge") == 1  # the recorded step did not run again
    assert "charger:charge-card" not in marks(tmp_path)
    assert marks(tmp_path).count("napper:first") == 1
