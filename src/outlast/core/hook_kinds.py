"""The kinds of lifecycle hook, shared by the SDK (``outlast.hooks``, ``@task``), the
project file (``[hooks]`` in ``outlast.toml``) and the engine (which final-state hooks a
run ended outside its process still needs)."""

from __future__ import annotations

#: every kind of hook, in the order the table of docs/guides/lifecycle-hooks.md lists them
KINDS = ("middleware", "init", "on_start", "on_wait", "on_resume", "cleanup", "handle_error",
         "on_success", "on_failure", "on_complete")
#: hooks a failed final state calls; for a run that ended outside its task's process (a
#: cancel, an expiry, a crash) a worker's hook job calls them (``runs.hook_pending``)
FAILURE_HOOKS = ("on_failure", "on_complete")
#: the value of ``runs.hook_pending`` for such a run (the name it has always had)
HOOK_JOB = "on_failure"
