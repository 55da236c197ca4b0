"""Blobs as files in a directory: SQLite's default, a directory beside the database file.

One subdirectory per run (``<root>/<run id>/<name>``), so a run's blobs go with one
``rmtree``. A value is written to a temporary name and renamed into place: a reader sees
all of it or nothing. Like SQLite's own commits here (``synchronous=NORMAL``), a write
survives the process dying, not the machine losing power before the disk flushed it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from outlast.errors import NotFoundError
from outlast.ids import new_id
from outlast.store.blobs.protocol import CHUNK, check_key


class DirectoryBlobs:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.location = str(self.root)

    def _path(self, key: str) -> Path:
        owner, _, name = check_key(key).partition("/")
        return self.root / owner / name

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{new_id('tmp')}")
        temporary.write_bytes(data)
        os.replace(temporary, path)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"no blob {key!r} in {self.location}") from None

    def stream(self, key: str) -> Iterator[bytes]:
        try:
            handle = self._path(key).open("rb")
        except FileNotFoundError:
            raise NotFoundError(f"no blob {key!r} in {self.location}") from None
        with handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    def delete_runs(self, run_ids: list[str]) -> int:
        deleted = 0
        for run_id in run_ids:
            folder = self.root / run_id
            if check_key(f"{run_id}/x") and folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
                deleted += 1
        return deleted

    def owners(self, older_than: float = 0.0) -> list[str]:
        if not self.root.is_dir():
            return []
        before = time.time() - older_than
        return sorted(entry.name for entry in os.scandir(self.root)
                      if entry.is_dir() and entry.stat().st_mtime <= before)

    def close(self) -> None:
        return None
