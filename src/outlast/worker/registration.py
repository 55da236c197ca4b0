"""A worker's version: which one it runs, registering it, and what its claims carry.

The version is given (``outlast worker --version``, ``OUTLAST_VERSION``) or is the hash of
the project files the children loaded (``code_identity``). It is registered with the
tasks of each child generation (a reload in ``outlast dev`` is a new version), and only
then does the worker claim: a claim carries the version and the task ids
(``WorkerCode``), so the worker takes only runs its code can execute.
"""

from __future__ import annotations

import logging

from outlast.core.definitions import TaskDefinition
from outlast.core.versions import CURRENT, RETIRED, SOURCE_DEV, SOURCE_WORKER, code_version
from outlast.engine import Engine, WorkerCode

log = logging.getLogger("outlast.worker")

class WorkerVersion:
    """The version a supervisor claims as; ``code`` is None until it is registered."""

    def __init__(self, given: str | None = None, *, dev: bool = False) -> None:
        #: ``--version`` / ``OUTLAST_VERSION``: wins over the hash of the code
        self.given = given
        self.source = SOURCE_DEV if dev else SOURCE_WORKER
        self.code: WorkerCode | None = None

    def register(self, engine: Engine, environment: str, worker_id: str,
                 definitions: list[TaskDefinition], hashed: str | None,
                 import_errors: dict[str, dict[str, str]] | None = None) -> None:
        """Register the version with ``definitions`` (one child generation's tasks), the
        tasks themselves and the task files that failed to import (``import_errors``), in
        one transaction; ``hashed``: the version the generation's code hashes to."""
        version = self.given or hashed or code_version([])
        registered = engine.register_worker_code(environment, worker_id, version, definitions,
                                                 source=self.source, import_errors=import_errors)
        self.code = WorkerCode(version, tuple(sorted(d.id for d in definitions)))
        if registered.state == RETIRED:
            log.warning("version %s is retired; it takes only runs pinned to it", version)
        elif registered.state != CURRENT:
            log.warning(
                "version %s is draining; it takes only runs pinned to it and tasks the "
                "current version %s lacks; promote it with `outlast versions promote %s`",
                version, registered.current, version)
        else:
            log.info("running version %s (current)", version)

    @property
    def tasks(self) -> list[str] | None:
        return list(self.code.tasks) if self.code is not None else None
