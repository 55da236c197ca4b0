"""Wake-ups between processes that share one SQLite file: NOTIFY for SQLite.

SQLite has no LISTEN/NOTIFY, so a process used to notice other processes' commits only
by polling ``PRAGMA data_version``, every few milliseconds for an idle worker: a trigger
from another process waited for the next poll, and an idle ``outlast dev`` woke hundreds
of times a second. Here each listener binds a Unix datagram socket in a directory named
after the database file, and a committing transaction sends its notifications to every
other listener's socket there, so a run triggered by ``outlast trigger`` starts at once.

The directory lives under ``$XDG_RUNTIME_DIR`` or the temp dir, in ``outlast-<uid>``.
In a shared temp dir another user could have made that name first, or swap things in it
for symlinks; so both levels must be real directories of ours that nobody else may
write into, or wake-ups are off. Only entries shaped like our sockets are ever removed.

A datagram can be lost (a listener too busy to read, a directory that cannot be used,
a platform without Unix sockets); listeners therefore still look at ``data_version``,
only seldom, and a listener that knows it missed something reports ``ANY``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import socket
import stat
import tempfile
import time
from collections.abc import Collection
from pathlib import Path

from outlast.store.protocol import ANY_CHANNEL

#: macOS refuses Unix datagrams over 2,048 bytes by default; a commit with more notes than
#: fit is sent as OVERFLOW, which tells listeners to re-check everything
MAX_DATAGRAM = 2000
OVERFLOW = b"*"
#: the note a listener reports for notifications it knows it lost: re-check everything
ANY = (ANY_CHANNEL, "")
_SEP, _END = "\t", "\n"
_SOCKET_NAME = re.compile(r"\d+-[0-9a-f]{16}")
#: a directory changed this recently (seconds) is listed again on every send: some
#: kernels stamp times a whole tick apart, so an entry added in the same tick as the
#: last listing would leave the time as it was
_RELIST_WITHIN = 2.0


def supported() -> bool:
    return hasattr(socket, "AF_UNIX") and hasattr(os, "getuid")


def wake_dir(db_path: str) -> Path:
    """Short (socket paths are limited to ~100 bytes) and per database file."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    digest = hashlib.sha256(os.path.realpath(db_path).encode()).hexdigest()[:16]
    return Path(base) / f"outlast-{os.getuid()}" / digest


def usable(directory: Path, create: bool = False) -> bool:
    """Both levels are real directories of ours, closed to everyone else."""
    return _private(directory.parent, create) and _private(directory, create)


def _private(path: Path, create: bool) -> bool:
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
    try:
        st = os.lstat(path)  # a symlink is not a directory here
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        return False
    if st.st_mode & 0o077 and create:  # ours but open: close it (no one else can swap it)
        with contextlib.suppress(OSError):
            os.chmod(path, 0o700)
            st = os.lstat(path)
    return not st.st_mode & 0o077


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
        if not supported():
            raise OSError("no Unix domain sockets on this platform")
        directory = wake_dir(db_path)
        if not usable(directory, create=True):
            raise PermissionError(f"{directory} is not a private directory of this user")
        self.name = f"{os.getpid()}-{secrets.token_hex(8)}"
        self.path = directory / self.name
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            try:
                sock.bind(str(self.path))
            except FileNotFoundError:  # the last listener removed the directory meanwhile
                usable(directory, create=True)
                sock.bind(str(self.path))
        except BaseException:
            sock.close()
            raise
        self._sock = sock

    def fileno(self) -> int:
        return self._sock.fileno()

    def poke(self) -> None:
        """Make the socket readable from this process (an empty datagram to itself)."""
        with contextlib.suppress(OSError):  # full: it is readable already
            self._sock.sendto(b"", str(self.path))

    def receive(self) -> list[tuple[str, str]]:
        """Everything waiting; ``ANY`` among them when some notes were lost."""
        notes: list[tuple[str, str]] = []
        lost = False
        while True:
            try:
                data = self._sock.recv(MAX_DATAGRAM + 1)
            except (BlockingIOError, InterruptedError):
                return [*notes, ANY] if lost else notes
            decoded = decode(data)
            if decoded is None:
                lost = True
            else:
                notes.extend(decoded)

    def close(self) -> None:
        self._sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()
        with contextlib.suppress(OSError):
            os.rmdir(self.path.parent)  # only when it was the last one: leave no litter


class WakeSender:
    """Sends a commit's notifications to the other listeners of one database file."""

    def __init__(self, db_path: str) -> None:
        self._dir = wake_dir(db_path) if supported() else None
        self._listing: tuple[int, list[str]] = (-1, [])

    def send(self, notes: list[tuple[str, str]], skip: Collection[str] = ()) -> None:
        """Best effort: a failure here never fails the commit that already happened.
        ``skip``: sockets that hear this commit in process."""
        if not notes or self._dir is None:
            return
        with contextlib.suppress(OSError):
            targets = [n for n in self._names() if n not in skip]
            if targets:
                self._send(encode(notes), targets)

    def _send(self, data: bytes, targets: list[str]) -> None:
        assert self._dir is not None
        # a socket per send: nothing to close, share across threads or carry over a fork
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            for name in targets:
                path = self._dir / name
                try:
                    sock.sendto(data, str(path))
                except (ConnectionRefusedError, FileNotFoundError):
                    _remove_stale(path)
                except OSError:
                    pass  # that listener is full or refuses the size: it re-checks itself

    def _names(self) -> list[str]:
        """Our sockets in the directory; none unless the directory is ours alone."""
        assert self._dir is not None
        if not usable(self._dir):
            return []
        stamp = os.lstat(self._dir).st_mtime_ns
        if stamp != self._listing[0] or time.time() - stamp / 1e9 < _RELIST_WITHIN:
            names = [n for n in os.listdir(self._dir) if _SOCKET_NAME.fullmatch(n)]
            self._listing = (stamp, names)
        return self._listing[1]


def _remove_stale(path: Path) -> None:
    """A socket whose process is gone (it refuses datagrams); never anything else."""
    with contextlib.suppress(OSError):
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
