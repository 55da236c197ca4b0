"""The project's task modules, imported into the command's own process.

``outlast deploy --check`` and ``outlast runs debug`` run task code here, not in a worker:
they import the task files the way a worker's child does (each file on its own, with the
config's task defaults), and say which files failed instead of stopping.
"""

from __future__ import annotations

from outlast.cli.common import require_task_dirs
from outlast.cli.output import note
from outlast.config import Config
from outlast.core.import_failures import ImportFailure
from outlast.sdk import hooks as project_hooks
from outlast.sdk.registry import import_task_files
from outlast.sdk.task import set_task_defaults


def load_project_tasks(config: Config) -> dict[str, ImportFailure]:
    """Import the project's tasks into the default registry; warn about broken files
    (and return them, by path)."""
    require_task_dirs(config)
    defaults = config.task_defaults()
    declared = defaults.pop("hooks", None)
    set_task_defaults(**defaults)
    failures = import_task_files(list(config.dirs), config.root)
    project_hooks.declare_from(declared)
    for path, failure in sorted(failures.items()):
        note(f"warning: {path} did not import ({failure['error']}); its tasks are missing")
    return failures
