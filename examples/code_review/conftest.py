"""Lets the tests import this example's package, whichever folder pytest runs from."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
