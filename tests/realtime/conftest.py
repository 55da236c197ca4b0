"""Browser tests of realtime share the dashboard's headless Chromium and real-clock engine."""

from tests.dashboard.conftest import browser, live_engine, shots

__all__ = ["browser", "live_engine", "shots"]
