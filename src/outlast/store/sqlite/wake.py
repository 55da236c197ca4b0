"""Wake-ups between processes that share one SQLite file: NOTIFY for SQLite.

SQLite has no LISTEN/NOTIFY, so a process used to notice other processes' commits only
by polling ``PRAGMA data_version``, every few milliseconds for an idle worker: a trigger
from another process waited for the next poll, and an idle ``outlast dev`` woke hundreds
of times a second. Here each listener binds a Unix datagram socket in a directory named
after the database file, and a committing transaction sends its notifications to every
socket there, so a run triggered by ``outlast trigger`` starts at once.

A datagram can be lost (a listener too busy to read, a directory that cannot be created);
listeners therefore still look at ``data_version``, only seldom. Sockets of processes
that died are removed by the next sender that finds them refusing.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import socket
import tempfile
from pathlib import Path

#: a datagram stays well under the default socket buffer; more notes than fit in one
#: are sent as OVERFLOW, which tells listeners to re-check everything
MAX_DATAGRAM = 32_000
OVERFLOW = b"*"
_SEP, _END = "\t", "\n"
_numbers = itertools.count()


def wake_dir(db_path: str) -> Path:
    """Short (socket paths are limited to ~100 bytes), private and per database file."""
    digest = hashlib.sha256(os.path.realpath(db_path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"outlast-{os.getuid()}" / digest


def encode(notes: list[tuple[str, str]]) -> bytes:
    data = "".join(f"{c}{_SEP}{p}{_END}" for c, p in notes).encode()
    return data if len(data) <= MAX_DATAGRAM else OVERFLOW


def decode(data: bytes) -> list[tuple[str, str]] | None:
    """The notes of one datagram; None for OVERFLOW (or anything unreadable)."""
    if data == OVERFLOW:
        return None
    try:
        lines = data.decode().split(_END)
    except UnicodeDecodeError:
        return None
    notes = []
    for line in lines:
        if line:
            channel, _, payload = line.partition(_SEP)
            notes.append((channel, payload))
    return notes


class WakeSocket:
    """One listener's socket: readable when another process committed notifications."""

    def __init__(self, db_path: str) -> None:
        directory = wake_dir(db_path)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if directory.stat().st_uid != os.getuid():  # someone else's: do not trust it
            raise PermissionError(f"{directory} belongs to another user")
        self.path = directory / f"{os.getpid()}-{next(_numbers)}"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a leftover of a process that had our pid before
        self._sock.bind(str(self.path))

    def fileno(self) -> int:
        return self._sock.fileno()

    def poke(self) -> None:
        """Make the socket readable from this process (an empty datagram to itself)."""
        with contextlib.suppress(OSError):  # full: it is readable already
            self._sock.sendto(b"", str(self.path))

    def receive(self) -> tuple[list[tuple[str, str]], bool]:
        """Everything waiting: (notes, whether some were lost and all must be re-checked)."""
        notes: list[tuple[str, str]] = []
        lost = False
        while True:
            try:
                data = self._sock.recv(MAX_DATAGRAM + 1)
            except (BlockingIOError, InterruptedError):
                return notes, lost
            decoded = decode(data)
            if decoded is None:
                lost = True
            else:
                notes.extend(decoded)

    def close(self) -> None:
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class WakeSender:
    """Sends a commit's notifications to every other process's listeners."""

    def __init__(self, db_path: str) -> None:
        self._dir = wake_dir(db_path)
        self._listing: tuple[int, list[str]] = (-1, [])

    def send(self, notes: list[tuple[str, str]]) -> None:
        """Best effort: a failure here never fails the commit that already happened."""
        if not notes:
            return
        with contextlib.suppress(OSError):
            self._send(encode(notes))

    def _send(self, data: bytes) -> None:
        own = f"{os.getpid()}-"  # this process hears its own commits without a socket
        targets = [n for n in self._names() if not n.startswith(own)]
        if not targets:
            return
        # a socket per send: nothing to close, share across threads or carry over a fork
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            for name in targets:
                path = str(self._dir / name)
                try:
                    sock.sendto(data, path)
                except (ConnectionRefusedError, FileNotFoundError):
                    with contextlib.suppress(OSError):
                        os.unlink(path)  # its process is gone
                except BlockingIOError:
                    pass  # that listener is behind; its data_version check catches up

    def _names(self) -> list[str]:
        """The directory's sockets, listed again only when the directory changed."""
        try:
            stamp = os.stat(self._dir).st_mtime_ns
        except FileNotFoundError:
            return []
        if stamp != self._listing[0]:
            self._listing = (stamp, os.listdir(self._dir))
        return self._listing[1]
