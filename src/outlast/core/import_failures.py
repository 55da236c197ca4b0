"""Task files that failed to import, as a worker reports them and a run explains them.

The worker's child imports each task file on its own (``sdk/registry.py``) and keeps the
error of each that failed; the engine, asked for a task no worker has, names the files
that most likely held it.
"""

from __future__ import annotations

#: what one task file that failed to import said: {"error": one line, "traceback": ...,
#: "names": the task ids and function names its text mentions, space-separated}
ImportFailure = dict[str, str]


def no_worker_has(task_id: str, failures: dict[str, ImportFailure]) -> str:
    """Why a task is missing when task files failed to import: the message a run shows.

    The files whose text mentions the task are named; when none does, all of them.
    """
    return f"no worker has task {task_id!r}: {failed_files(task_id, failures)}"


def failed_files(task_id: str, failures: dict[str, ImportFailure]) -> str:
    """The files that most likely held ``task_id`` and why each failed to import."""
    names = {task_id, task_id.replace("-", "_")}
    likely = {p: f for p, f in failures.items() if names & set(f.get("names", "").split())}
    return "; ".join(f"{path} failed to import: {f['error']}"
                     for path, f in sorted((likely or failures).items()))
