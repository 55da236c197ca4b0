"""Outlast in a Django project (tests/django_project), on SQLite and PostgreSQL.

The shop's views trigger in the request's transaction (``ATOMIC_REQUESTS``): a committed
request's run exists and a real worker runs it; a view that raises after triggering leaves
neither its order nor its run. ``trigger_on_commit`` triggers only after a commit. The
worker runs as ``python manage.py outlast_worker``, its task code using the ORM, and stops
on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

pytest.importorskip("django")

from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.management.base import CommandError  # noqa: E402
from django.db import IntegrityError, transaction  # noqa: E402
from django.db.transaction import TransactionManagementError  # noqa: E402
from django.test import Client as DjangoClient  # noqa: E402
from django.test import override_settings  # noqa: E402

from outlast import configure  # noqa: E402
from outlast.engine import Engine  # noqa: E402
from outlast.errors import ConfigError, TaskNotFoundError  # noqa: E402
from outlast.store import open_store  # noqa: E402
from tests.conftest import definition  # noqa: E402
from tests.eventually import eventually  # noqa: E402
from tests.integrations.django_site import (  # noqa: E402
    PROJECT,
    count,
    set_up_django,
    shop_tables,
    use_database,
)
from tests.worker.support import registered, running_worker, wait_final  # noqa: E402

set_up_django()

from shop.models import Order  # noqa: E402
from shop.views import PaymentDeclined  # noqa: E402
from tasks.shipping import ship  # noqa: E402

from outlast.integrations.django import trigger, trigger_on_commit  # noqa: E402
from outlast.integrations.django.apps import configure_client  # noqa: E402


class Rollback(Exception):
    """Raised to leave an ``atomic()`` block by rolling it back."""


@pytest.fixture
def engine(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The shop on the test's database; an engine on it to look at runs."""
    monkeypatch.delenv("OUTLAST_ENVIRONMENT", raising=False)
    use_database(store_url)
    client = configure_client()
    assert client is not None
    store = open_store(store_url)
    try:
        with shop_tables():
            yield Engine(store)
    finally:
        client.close()
        configure(None)
        store.close()


@pytest.fixture
def registered_ship(engine: Engine) -> Engine:
    """``ship`` registered as a worker would, for tests that need no run to execute."""
    engine.register_tasks("dev", [definition("ship")])
    return engine


# -- a request's transaction -------------------------------------------------------------


def test_a_view_triggers_in_the_request_transaction_and_a_worker_runs_it(
        engine: Engine) -> None:
    # a worker without Django in its children: tasks/warehouse.py cannot import there
    with running_worker(engine, root=PROJECT, probe="ship", exit_on_import_error=False):
        response = DjangoClient().post("/orders/", {"id": 7})
        assert response.status_code == 200, response.content
        run_id = response.json()["run"]
        run = wait_final(engine, run_id)
    assert (run["status"], run["output"], run["tags"]) == (
        "COMPLETED", "shipped order 7", ["order:7"])
    assert list(Order.objects.values_list("id", flat=True)) == [7]


def test_a_view_that_raises_after_triggering_leaves_no_run(registered_ship: Engine) -> None:
    with pytest.raises(PaymentDeclined):
        DjangoClient().post("/orders/declined/", {"id": 8})
    assert (count("runs"), count("run_events"), count("shop_order")) == (0, 0, 0)


def test_a_refused_trigger_leaves_the_transaction_usable(registered_ship: Engine) -> None:
    with transaction.atomic():
        Order.objects.create(id=1)
        with pytest.raises(TaskNotFoundError, match="no-such-task"):
            trigger("no-such-task", {})
        Order.objects.create(id=2)
        trigger(ship, {"order_id": 2})
    assert (count("shop_order"), count("runs")) == (2, 1)


def test_a_savepoint_rolled_back_takes_its_trigger_with_it(registered_ship: Engine) -> None:
    with transaction.atomic():
        kept = trigger(ship, {"order_id": 1})
        with pytest.raises(Rollback), transaction.atomic():  # a savepoint of Django's
            trigger(ship, {"order_id": 2})
            raise Rollback
    assert count("runs") == 1
    assert registered_ship.retrieve("dev", kept.id)["status"] == "QUEUED"


def test_outside_atomic_the_run_is_committed_at_once(registered_ship: Engine) -> None:
    handle = trigger(ship, {"order_id": 3}, idempotency_key="order-3")
    assert registered_ship.retrieve("dev", handle.id)["status"] == "QUEUED"
    assert not trigger(ship, {"order_id": 3}, idempotency_key="order-3").created


def test_a_broken_transaction_is_refused_as_django_refuses_queries(
        registered_ship: Engine) -> None:
    with transaction.atomic():
        Order.objects.create(id=1)
        with pytest.raises(IntegrityError):
            Order.objects.create(id=1)  # no savepoint: the whole block must roll back
        with pytest.raises(TransactionManagementError):
            trigger(ship, {"order_id": 1})
    assert count("runs") == 0


def test_trigger_needs_to_know_which_database_holds_outlast(engine: Engine) -> None:
    with override_settings(OUTLAST={}), pytest.raises(ConfigError, match="trigger_on_commit"):
        trigger(ship, {"order_id": 1})


# -- after the commit ----------------------------------------------------------------------


def test_trigger_on_commit_after_a_rollback_triggers_nothing(
        registered_ship: Engine) -> None:
    with pytest.raises(Rollback), transaction.atomic():
        Order.objects.create(id=4)
        trigger_on_commit(ship, {"order_id": 4})
        raise Rollback
    assert (count("runs"), count("shop_order")) == (0, 0)


def test_trigger_on_commit_triggers_once_committed(registered_ship: Engine) -> None:
    with transaction.atomic():
        Order.objects.create(id=5)
        trigger_on_commit("ship", {"order_id": 5}, tags=["order:5"])
        assert count("runs") == 0  # not before the commit
    assert count("runs") == 1


# -- management commands ------------------------------------------------------------------


def test_manage_py_outlast_worker_runs_orm_tasks_and_stops_on_sigterm(
        engine: Engine, store_url: str, tmp_path: Path) -> None:
    Order.objects.create(id=9)
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "outlast_worker", "--concurrency", "1",
             "--grace", "5"], cwd=PROJECT, env=_project_env(store_url), stdout=out,
            stderr=subprocess.STDOUT)
    try:
        eventually(lambda: registered(engine, "mark-shipped") or worker.poll() is not None,
                   60, "the worker to register its tasks")
        assert worker.poll() is None, log.read_text()
        run = wait_final(engine, trigger("mark-shipped", {"order_id": 9}).id)
        assert (run["status"], run["output"]) == ("COMPLETED", 1), log.read_text()
        assert Order.objects.get(id=9).shipped
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_manage_py_outlast_migrate_creates_outlast_tables_in_djangos_database(
        empty_store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    use_database(empty_store_url)
    try:
        call_command("outlast_migrate")
        assert "applied 0001_" in capsys.readouterr().out
        call_command("outlast_migrate")
        assert "database is up to date" in capsys.readouterr().out
        assert count("outlast_migrations") > 0
    finally:
        from django.db import connections

        connections.close_all()


def test_the_worker_command_takes_the_options_of_outlast_worker() -> None:
    from outlast.integrations.django.management.commands.outlast_worker import Command

    text = Command().create_parser("manage.py", "outlast_worker").format_help()
    for option in ("--concurrency", "--queue", "--grace", "--version", "--exit-when-drained",
                   "--metrics-port", "--database-url", "--env"):
        assert option in text
    with pytest.raises(CommandError, match="concurrency"):
        call_command("outlast_worker", concurrency="0")
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("outlast_worker", "--env", "nowhere")


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(("outlast", "message"), [
    ({"DATABSE": "default"}, "unknown key"),
    ({"DATABASE": "other"}, "not in settings.DATABASES"),
    ({"DATABASE": "default", "ENVIRONMENT": "production"}, "use one of dev, staging, prod"),
    ("default", "must be a dict"),
])
def test_a_mistake_in_the_settings_stops_the_app_saying_which(outlast: Any,
                                                              message: str) -> None:
    with override_settings(OUTLAST=outlast), pytest.raises(ImproperlyConfigured,
                                                          match=message):
        configure_client()


def test_the_database_url_is_the_one_django_connects_with(tmp_path: Path) -> None:
    from django.db import connections

    from outlast.integrations.django.conf import database_url
    from outlast.store.postgres.target import parse_target

    use_database(f"sqlite:///{tmp_path / 'shop.db'}")
    assert database_url("default") == f"sqlite:///{tmp_path / 'shop.db'}"
    connections.settings["pg"] = connections.configure_settings({"default": {
        "ENGINE": "django.db.backends.postgresql", "NAME": "shop db", "USER": "app",
        "PASSWORD": "p@ss:word", "HOST": "/run/postgresql", "PORT": "5433",
        "OPTIONS": {"sslmode": "require", "server_side_binding": True}}})["default"]
    try:
        url = database_url("pg")
    finally:
        del connections["pg"]
        del connections.settings["pg"]
    info = psycopg.conninfo.conninfo_to_dict(parse_target(url).conninfo)
    assert {k: info[k] for k in ("dbname", "user", "password", "host", "port", "sslmode")} == {
        "dbname": "shop db", "user": "app", "password": "p@ss:word",
        "host": "/run/postgresql", "port": "5433", "sslmode": "require"}
    assert "server_side_binding" not in url


def test_import_outlast_never_imports_django() -> None:
    code = ("import sys, outlast, outlast.integrations, outlast.cli.main; "
            "assert 'django' not in sys.modules, 'django imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def _project_env(store_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    env["SHOP_DATABASE_URL"] = store_url
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"),
                                         env.get("PYTHONPATH", "")])
    return env
