"""Locate and import the shared peer harness (``common.py``) without copying it.

``PEERS_DIR`` points at the shared peer-benchmark directory; by default it is
``../shared/bench/peers`` relative to the repository root.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_DEFAULT = REPO.parent / "shared" / "bench" / "peers"
PEERS_DIR = Path(os.environ.get("PEERS_DIR") or _DEFAULT).resolve()


def load_common():  # type: ignore[no-untyped-def]
    if not (PEERS_DIR / "common.py").is_file():
        raise SystemExit(f"common.py not found in PEERS_DIR={PEERS_DIR}")
    if str(PEERS_DIR) not in sys.path:
        sys.path.insert(0, str(PEERS_DIR))
    import common

    return common
