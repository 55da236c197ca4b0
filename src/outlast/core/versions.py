"""Versions of a project's code: their names, their states, and who may claim which runs.

A version is the identity of the code a worker runs. It is given (``--version``,
``OUTLAST_VERSION``) or derived from the code itself (``code_version``): the same files
give the same version on every machine, so two workers started from one release agree
without being told, and any edit gives a new one.

A run is pinned to the version of its first attempt; later attempts go to workers of that
version only, because replaying a run's history on other code is what breaks it. Runs not
yet pinned go to the current version: ``fresh_tasks`` is the pure rule for which of them a
worker may take. Nothing here touches a store.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from outlast.errors import ValidationError

CURRENT = "current"
DRAINING = "draining"
RETIRED = "retired"
STATES = (CURRENT, DRAINING, RETIRED)

#: who registered a version: a worker starting, ``outlast deploy``, or ``outlast dev``
SOURCE_WORKER = "worker"
SOURCE_DEPLOY = "deploy"
SOURCE_DEV = "dev"

MAX_VERSION_LENGTH = 100
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def check_version(value: object, what: str = "version") -> str:
    """A version name as given by a person: 1–100 of letters, digits and ``._+-``,
    starting with a letter or digit (it appears in URLs, CLI arguments and logs)."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > MAX_VERSION_LENGTH or not _VERSION.fullmatch(value):
        raise ValidationError(
            f"{what} {value[:120]!r} is not a version name: use at most {MAX_VERSION_LENGTH} "
            "letters, digits and . _ + - (starting with a letter or digit), e.g. '20261204.1'")
    return value


def code_version(files: Iterable[tuple[str, bytes]]) -> str:
    """The version of a body of code: 12 hex digits of a hash of its files.

    ``files`` are (path relative to the project root, contents); their order does not
    matter. Paths are part of the hash, so moving a task module is a new version too.
    """
    digest = hashlib.sha256()
    for path, content in sorted(files):
        name = path.replace("\\", "/").encode()
        digest.update(len(name).to_bytes(4, "big") + name)
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()[:12]


def fresh_tasks(own_version: str, own_tasks: Iterable[str], current: str | None,
                current_tasks: Iterable[str]) -> frozenset[str]:
    """The tasks whose unpinned runs a worker of ``own_version`` may claim.

    Unpinned runs belong to the current version. A worker of another version takes only
    the runs of tasks the current version does not have (two services sharing one
    environment, each with its own tasks), so no run waits for a worker that can never
    take it. With no current version at all, every worker takes its own tasks' runs.
    """
    own = frozenset(own_tasks)
    if current is None or current == own_version:
        return own
    return own - frozenset(current_tasks)
