"""``outlast worker``: execute runs, as many processes and machines as needed.

The first SIGTERM (what a deploy sends) drains: no new claims, running attempts get
``--grace`` seconds to finish, the rest go back to the queue for another worker. A
second signal stops at once; the sweeper then recovers whatever was running.

The worker never exits unsaid: an error that ends it is one ``error:`` line and a
non-zero status, after the supervisor handed back the runs it held.
"""

from __future__ import annotations

import logging

import click

from outlast.cli.common import database_url_option, open_engine, project_config, require_task_dirs
from outlast.cli.output import fail, note, redact_url
from outlast.cli.serving import setup_logging, stop_signals
from outlast.core.environments import ENVIRONMENTS
from outlast.core.versions import check_version
from outlast.errors import OutlastError, ValidationError
from outlast.worker import DEFAULT_ASYNC_SLOTS


@click.command()
@click.option("--concurrency", type=click.IntRange(1), default=4, show_default=True,
              help="Processes executing runs (a sync task's run takes one).")
@click.option("--async-slots", type=click.IntRange(1), default=DEFAULT_ASYNC_SLOTS,
              show_default=True,
              help="Runs of async tasks one process runs at once (1: each alone).")
@click.option("--queue", "queues", multiple=True, metavar="NAME",
              help="Only claim runs from this queue (repeatable; default: all).")
@database_url_option
@click.option("--env", "environment", type=click.Choice(ENVIRONMENTS),
              help="Environment to serve (default: the config's, else dev).")
@click.option("--grace", type=float, default=30.0, show_default=True,
              help="Seconds running attempts get to finish when stopping.")
@click.option("--version", "version", envvar="OUTLAST_VERSION", metavar="V",
              callback=lambda _ctx, _param, value: _version(value),
              help="The version of the code this worker runs, e.g. a release number "
                   "(env OUTLAST_VERSION; default: a hash of the task modules it loads).")
@click.option("--exit-when-drained", is_flag=True,
              help="Stop once this worker's version is not current and no unfinished run "
                   "is pinned to it (checked every few seconds).")
@click.option("--metrics-port", type=click.IntRange(0, 65535), envvar="OUTLAST_WORKER_METRICS_PORT",
              metavar="N", help="Serve this worker's Prometheus metrics at "
              "http://HOST:N/metrics (env OUTLAST_WORKER_METRICS_PORT; default: not served).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              envvar="OUTLAST_WORKER_METRICS_HOST",
              help="Interface for --metrics-port (0.0.0.0: reachable from other machines).")
def worker(concurrency: int, async_slots: int, queues: tuple[str, ...],
           database_url: str | None,
           environment: str | None, grace: float, version: str | None,
           exit_when_drained: bool, metrics_port: int | None, metrics_host: str) -> None:
    """Execute runs of the project's tasks."""
    from outlast.worker import forkserver

    forkserver.warm(fork=True)  # first: its imports overlap opening the database
    from outlast.worker.metrics import WorkerMetrics
    from outlast.worker.supervisor import SWITCH_INTERVAL, Supervisor, database_error

    config = project_config(database_url).with_environment(environment)
    require_task_dirs(config)
    metrics = WorkerMetrics()
    served = None
    if metrics_port is not None:  # its HTTP server loads only when asked for
        from outlast.worker.metrics_server import MetricsServer

        # bound before anything starts: a busy port is an error up front, not after claims
        served = MetricsServer(metrics, metrics_host, metrics_port)
    engine = open_engine(config)
    setup_logging()
    supervisor = Supervisor(engine, environment=config.environment, task_dirs=list(config.dirs),
                            root=config.root, concurrency=concurrency,
                            task_defaults=config.task_defaults(),
                            queues=list(queues) or None, grace=grace, version=version,
                            exit_when_drained=exit_when_drained, metrics=metrics,
                            switch_interval=SWITCH_INTERVAL,  # a process of its own
                            async_slots=async_slots)
    note(f"Outlast worker: environment {config.environment}, concurrency {concurrency} "
         f"(async slots {async_slots}), "
         f"queues {', '.join(queues) or 'all'}, version {version or '(hash of the code)'}, "
         f"database {redact_url(config.database_url)}")
    if served is not None:
        served.start()
        note(f"worker metrics on http://{metrics_host}:{served.port}/metrics")
    with stop_signals(supervisor.request_stop, "the worker"):
        try:
            supervisor.run()
        except Exception as exc:
            if isinstance(exc, OutlastError) or database_error(exc):
                raise  # one line from the command group
            # never a silent exit (click would turn a broken pipe into exit code 1 unsaid)
            logging.getLogger("outlast.worker").exception("the worker stopped on an error")
            fail(f"the worker stopped on an unexpected error: {exc!r}; its runs were "
                 "handed back")
        finally:  # its connections end with it, also where the process goes on (a test)
            if served is not None:
                served.stop()
            engine.store.close()


def _version(value: str | None) -> str | None:
    """``--version`` / ``OUTLAST_VERSION``, checked before anything starts (exit 2)."""
    if value is None or value == "":
        return None
    try:
        return check_version(value, "--version (or OUTLAST_VERSION)")
    except ValidationError as exc:
        raise click.BadParameter(str(exc)) from None
