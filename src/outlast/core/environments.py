"""The environments a project's runs, tasks and keys live in (``outlast.config`` reads
which one a process serves): a module of its own, so a command's options name them
without loading the config."""

from __future__ import annotations

ENVIRONMENTS = ("dev", "staging", "prod")
