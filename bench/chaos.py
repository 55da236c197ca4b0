"""Outlast's fault suite: ``python bench/chaos.py --store postgres --runs 300 --duration 60``.

Starts N ``outlast worker`` processes on SQLite or on a private PostgreSQL cluster,
triggers M runs, kills and stops parts of the workers (and restarts the database) at
seeded random moments, waits for every run to be final and checks that none was lost or
stuck, no recorded step ran again and no worker died unasked. Prints the counts; exits 1
when one is not 0. The code is in ``bench/chaos/`` (``run.py`` first).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # the repository root, so that ``bench.chaos`` (the package beside this file) imports
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    from bench.chaos.run import main

    sys.exit(main())
