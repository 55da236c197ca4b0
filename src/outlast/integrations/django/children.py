"""Imported by the fork server of ``manage.py outlast_worker``: Django set up once, so the
task code of every child forked from it may use the ORM, the cache, settings…

The fork server is a fresh interpreter with the worker's environment, so
``DJANGO_SETTINGS_MODULE`` is the one ``manage.py`` chose. It opens no connection: each
child connects when its task code first queries. A failure here must not stop the fork
server (its children could not start at all); task files that need Django then fail to
import, and the worker reports them with this error.
"""

from __future__ import annotations

import logging
import os

if os.environ.get("DJANGO_SETTINGS_MODULE"):
    try:
        import django

        django.setup()
    except Exception:
        logging.getLogger("outlast.worker").exception("Django could not be set up for "
                                                      "the worker's children")
