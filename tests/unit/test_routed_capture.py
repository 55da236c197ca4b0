"""A worker's child routes its output once (``capture.route_process``) instead of swapping
streams and a handler per attempt: what an attempt's logs get, and what is left around
it, is what ``captured`` gives without the routing."""

from __future__ import annotations

import io
import json
import logging
import multiprocessing
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from outlast import logger
from outlast.worker import capture
from outlast.worker.capture import LogBuffer, captured


def _in_child(check: Callable[..., None], *args: Any) -> None:
    """The routing is for a process's whole life: each check runs in a fresh process."""
    process = multiprocessing.get_context("spawn").Process(target=check, args=args)
    process.start()
    process.join(60)
    assert process.exitcode == 0


def _attempt(actions: Callable[[], None]) -> list[tuple[str, str, dict[str, Any]]]:
    """The lines ``actions`` logs as one attempt: (level, message, attributes)."""
    shipped: list[dict[str, Any]] = []
    with captured(LogBuffer(shipped.extend)):
        actions()
    return [(r["level"], r["message"], r["attributes"]) for r in shipped]


def _writes() -> None:
    print("one")
    print("partial", end="", flush=True)  # its own line, as a partial line flushed is
    print(" rest")
    sys.stderr.write("err line\n")
    logging.getLogger("user").info("info %s", 1)
    logging.getLogger("user").debug("below the level")
    logger.info("structured", k=1)

    def elsewhere() -> None:  # a thread of the task: its own context, no route in it
        print("from a thread")
        logging.getLogger("user.thread").warning("warned from a thread")

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    inner: list[dict[str, Any]] = []
    with captured(LogBuffer(inner.extend)):  # one attempt inside another: a deploy check
        print("inner")
    print("inner lines:", [line["message"] for line in inner])
    print("no newline", end="")


def _lines_of_writes(routed: bool, out: str) -> None:
    real_out, real_err = sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
    if routed:
        capture.route_process()
    first, second = _attempt(_writes), _attempt(_writes)
    Path(out).write_text(json.dumps({"attempts": [first, second],
                                     "stdout": real_out.getvalue(),
                                     "stderr": real_err.getvalue()}))


def test_an_attempt_logs_the_same_lines_with_the_process_routed(tmp_path: Path) -> None:
    found = {}
    for routed in (False, True):
        out = tmp_path / f"{routed}.json"
        _in_child(_lines_of_writes, routed, str(out))
        found[routed] = json.loads(out.read_text())
    assert found[True] == found[False]
    first, second = found[True]["attempts"]
    assert first == second
    assert ["INFO", "from a thread", {"source": "print"}] in first
    assert ["WARNING", "warned from a thread", {"logger": "user.thread"}] in first
    assert ["INFO", "partial", {"source": "print"}] in first
    assert ["INFO", "inner lines: ['inner']", {"source": "print"}] in first
    assert first[-1] == ["INFO", "no newline", {"source": "print"}]
    assert found[True]["stdout"] == found[True]["stderr"] == ""


def _around_attempts() -> None:
    real_out, real_err = io.StringIO(), io.StringIO()
    sys.stdout, sys.stderr = real_out, real_err
    capture.route_process()
    routed_out, root = sys.stdout, logging.getLogger()
    root.setLevel(logging.WARNING)  # as a task module may

    def undone() -> None:  # what a task may change, undone once it ends
        sys.stdout = io.StringIO()
        logging.basicConfig(force=True)  # removes the root's handlers, the routing's too
        root.setLevel(logging.ERROR)

    _attempt(undone)
    assert sys.stdout is routed_out
    assert root.level == logging.WARNING
    # the next attempt's logging is still captured (the handler basicConfig added writes
    # to ``sys.stderr``, routed to the attempt running: a line of its own)
    assert ("INFO", "again", {"logger": "user"}) in _attempt(
        lambda: logging.getLogger("user").info("again"))
    root.handlers = [h for h in root.handlers if isinstance(h, capture._RoutedHandler)]
    # between attempts: prints go to the real stream, and a warning no handler takes goes
    # to Python's last resort, as in a process without the routing
    print("between")
    logging.getLogger("user").warning("a warning between attempts")
    logging.getLogger("user").info("an info between attempts")
    assert real_out.getvalue() == "between\n"
    assert real_err.getvalue() == "a warning between attempts\n"
    handled = logging.getLogger("own")
    handled.addHandler(logging.NullHandler())
    handled.warning("taken by its own handler")
    assert real_err.getvalue() == "a warning between attempts\n"


def test_an_attempt_leaves_the_routing_as_it_found_it() -> None:
    _in_child(_around_attempts)
