"""Datagram wake-ups between processes sharing one SQLite file (store/sqlite/wake.py)."""

from __future__ import annotations

import multiprocessing
import os
import select
from pathlib import Path

from outlast.store.sqlite.wake import (
    MAX_DATAGRAM,
    OVERFLOW,
    WakeSender,
    WakeSocket,
    decode,
    encode,
    wake_dir,
)


def _readable(sock: WakeSocket, timeout: float = 5.0) -> bool:
    return bool(select.select([sock.fileno()], [], [], timeout)[0])


def _send(db: str, notes: list[tuple[str, str]]) -> None:
    WakeSender(db).send(notes)


def _send_from_another_process(db: str, notes: list[tuple[str, str]]) -> None:
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_send, args=(db, notes))
    proc.start()
    proc.join(10)
    assert proc.exitcode == 0


def test_notes_round_trip_and_too_many_become_one_overflow() -> None:
    notes = [("outlast_queued", "q"), ("outlast_changed", "run_1"), ("c", "")]
    assert decode(encode(notes)) == notes
    many = [("outlast_changed", f"run_{i:020d}") for i in range(MAX_DATAGRAM // 20)]
    assert encode(many) == OVERFLOW and decode(OVERFLOW) is None
    assert decode(b"\xff\xfe") is None


def test_the_directory_is_short_private_and_per_database(tmp_path: Path) -> None:
    a, b = wake_dir(str(tmp_path / "a.db")), wake_dir(str(tmp_path / "b.db"))
    assert a != b and a.parent == b.parent
    assert len(str(a / f"{2**22}-{10**6}")) < 100  # socket paths must stay short
    sock = WakeSocket(str(tmp_path / "a.db"))
    try:
        assert (a.stat().st_mode & 0o777) == 0o700
    finally:
        sock.close()
    assert not sock.path.exists()


def test_another_process_wakes_every_listener(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    first, second = WakeSocket(db), WakeSocket(db)
    try:
        assert not _readable(first, 0)
        _send_from_another_process(db, [("outlast_queued", "q")])
        for sock in (first, second):
            assert _readable(sock)
            assert sock.receive() == ([("outlast_queued", "q")], False)
        _send_from_another_process(db, [("x", "")] * MAX_DATAGRAM)
        assert _readable(first) and first.receive() == ([], True)
    finally:
        first.close()
        second.close()


def test_a_process_does_not_send_to_itself(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    sock = WakeSocket(db)
    try:
        _send(db, [("outlast_queued", "q")])
        assert not _readable(sock, 0.1)  # its own commits reach it in process
    finally:
        sock.close()


def test_sockets_of_dead_processes_are_removed(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    live = WakeSocket(db)
    dead = wake_dir(db) / f"{2**22 + 7}-0"  # bound, then its process went away
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(dead))
    s.close()
    try:
        _send_from_another_process(db, [("c", "p")])
        assert not dead.exists()
        assert _readable(live) and live.receive() == ([("c", "p")], False)
    finally:
        live.close()
        if dead.exists():
            os.unlink(dead)
