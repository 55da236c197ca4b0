"""Datagram wake-ups between processes sharing one SQLite file (store/sqlite/wake.py)."""

from __future__ import annotations

import multiprocessing
import os
import select
import socket
from pathlib import Path

import pytest

from outlast.store import open_store
from outlast.store.sqlite.wake import (
    ANY,
    MAX_DATAGRAM,
    OVERFLOW,
    WakeSender,
    WakeSocket,
    decode,
    encode,
    usable,
    wake_dir,
)


@pytest.fixture(autouse=True)
def private_runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own base directory (as ``$XDG_RUNTIME_DIR``), short enough for sockets."""
    base = Path(os.environ.get("TMPDIR", "/tmp")) / f"olw-{os.getpid()}-{tmp_path.name[-12:]}"
    base.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    yield base
    for root, dirs, files in os.walk(base, topdown=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            path = os.path.join(root, name)
            os.unlink(path) if os.path.islink(path) else os.rmdir(path)
    os.rmdir(base)


def _readable(sock: WakeSocket, timeout: float = 5.0) -> bool:
    return bool(select.select([sock.fileno()], [], [], timeout)[0])


def _send(db: str, notes: list[tuple[str, str]]) -> None:
    WakeSender(db).send(notes)


def _send_from_another_process(db: str, notes: list[tuple[str, str]]) -> None:
    proc = multiprocessing.get_context("fork").Process(target=_send, args=(db, notes))
    proc.start()
    proc.join(10)
    assert proc.exitcode == 0


def test_notes_round_trip_and_too_many_become_one_overflow() -> None:
    notes = [("outlast_queued", "q"), ("outlast_changed", "run_1"), ("c", "")]
    assert decode(encode(notes)) == notes
    many = [("outlast_changed", f"run_{i:020d}") for i in range(MAX_DATAGRAM // 20)]
    assert encode(many) == OVERFLOW and decode(OVERFLOW) is None
    assert decode(b"\xff\xfe") is None


def test_the_directories_are_short_private_and_per_database(tmp_path: Path) -> None:
    a, b = wake_dir(str(tmp_path / "a.db")), wake_dir(str(tmp_path / "b.db"))
    assert a != b and a.parent == b.parent
    sock = WakeSocket(str(tmp_path / "a.db"))
    try:
        assert len(str(sock.path)) < 100  # socket paths must stay short
        for level in (a, a.parent):
            assert (level.stat().st_mode & 0o777) == 0o700
    finally:
        sock.close()
    assert not sock.path.exists() and not a.exists()  # the last one out removes the directory


def test_another_process_wakes_every_listener(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    first, second = WakeSocket(db), WakeSocket(db)
    try:
        assert not _readable(first, 0)
        _send_from_another_process(db, [("outlast_queued", "q")])
        for sock in (first, second):
            assert _readable(sock)
            assert sock.receive() == [("outlast_queued", "q")]
        _send_from_another_process(db, [("x", "")] * MAX_DATAGRAM)
        assert _readable(first) and first.receive() == [ANY]  # too many: re-check all
    finally:
        first.close()
        second.close()


def test_a_store_does_not_send_to_its_own_listeners_but_to_another_stores(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    a, b = open_store(url), open_store(url)
    a.migrate()
    listen_a, listen_b = a.listen(["c"]), b.listen(["c"])
    try:
        with a.transaction() as tx:
            tx.notify("c", "p")
        assert listen_a.drain() == [("c", "p")]  # in process, once
        assert readable_within(listen_b) and listen_b.drain() == [("c", "p")]
    finally:
        listen_a.close()
        listen_b.close()
        a.close()
        b.close()


def readable_within(listener: object, timeout: float = 5.0) -> bool:
    return bool(select.select([listener.fileno()], [], [], timeout)[0])  # type: ignore[attr-defined]


def test_sockets_of_dead_processes_are_removed_and_nothing_else(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    live = WakeSocket(db)
    directory = wake_dir(db)
    dead = directory / "4194311-0123456789abcdef"  # bound, then its process went away
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(dead))
    s.close()
    kept = directory / "4194312-fedcba9876543210"  # shaped like a socket, but a file
    kept.write_text("not a socket")
    try:
        _send_from_another_process(db, [("c", "p")])
        assert not dead.exists() and kept.exists()
        assert _readable(live) and live.receive() == [("c", "p")]
    finally:
        live.close()


def test_a_directory_someone_else_could_write_into_turns_wake_ups_off(
        tmp_path: Path, private_runtime_dir: Path) -> None:
    """Another user made ``outlast-<uid>`` first, or made it a symlink to our files:
    no socket is bound there and no send removes anything."""
    db = str(tmp_path / "x.db")
    directory = wake_dir(db)
    victim = tmp_path / "project"
    victim.mkdir()
    (victim / "4194313-0123456789abcdef").write_text("precious")
    directory.parent.symlink_to(victim, target_is_directory=True)
    assert not usable(directory)
    with pytest.raises(PermissionError):
        WakeSocket(db)
    _send(db, [("c", "p")])
    assert (victim / "4194313-0123456789abcdef").read_text() == "precious"
    directory.parent.unlink()
    directory.parent.mkdir(mode=0o700)
    os.chown(directory.parent, 12345, 12345)  # another user's (the tests run as root)
    if os.getuid() == 0:
        assert not usable(directory, create=True)
    directory.parent.chmod(0o777)
    os.chown(directory.parent, os.getuid(), os.getgid())
    assert not usable(directory)  # ours, but open to everyone...
    assert usable(directory, create=True)  # ...until we close it again
    assert (directory.parent.stat().st_mode & 0o777) == 0o700
