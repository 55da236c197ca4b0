"""``python manage.py outlast_worker``: ``outlast worker`` with Django set up in every child
that runs task code, on the database ``settings.OUTLAST`` names."""

from __future__ import annotations

import multiprocessing.forkserver
from typing import Any

from outlast.cli.worker import worker
from outlast.integrations.django.commands import ClickCommand

#: what the fork server imports before it forks children (``outlast.worker.forkserver``
#: sets the first two), and Django's set-up after them
CHILDREN = "outlast.integrations.django.children"
PRELOAD = ["__main__", "outlast.worker.child"]


class Command(ClickCommand):
    click_command = worker

    def handle(self, *args: Any, **options: Any) -> None:
        prepare_children()
        super().handle(*args, **options)


def prepare_children() -> None:
    """Have the worker's fork server set Django up once for all the children it forks."""
    from outlast.worker.forkserver import CONTEXT

    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    preload = list(getattr(server, "_preload_modules", None) or PRELOAD)
    if CHILDREN not in preload:
        CONTEXT.set_forkserver_preload([*preload, CHILDREN])
