"""What every blob store does: put, get, stream and delete the values of runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from outlast.errors import ConfigError, NotFoundError, ValidationError

#: how much of a blob one read answers (a stream's chunk, a table row's part)
CHUNK = 1024 * 1024


class BlobStore(Protocol):
    """Values kept apart from the database's rows, keyed ``<run id>/<name>``.

    Every call stands alone (none joins the caller's database transaction): a value is
    written before the row that references it commits, so a reader that sees the row finds
    the value. A rolled-back write leaves an orphan, which ``owners`` lets retention
    find and delete.
    """

    #: where the blobs are, for messages and ``outlast`` commands (no secret in it)
    location: str

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes:
        """The whole value; ``outlast.errors.NotFoundError`` when it is not there."""
        ...

    def stream(self, key: str) -> Iterator[bytes]:
        """The value in chunks of at most ``CHUNK`` bytes, without holding all of it."""
        ...

    def delete_runs(self, run_ids: list[str]) -> int:
        """Delete every blob of these runs; how many runs had some (best effort count)."""
        ...

    def owners(self, older_than: float = 0.0) -> list[str]:
        """Run ids that own blobs written at least ``older_than`` seconds ago (by this
        store's own clock: a file's or object's time is the machine's, not the engine's)."""
        ...

    def close(self) -> None: ...


class NoBlobs:
    """Where no blob store is known (a trigger in the caller's transaction through a
    client without ``database_url``): a value over the threshold is refused, clearly."""

    location = "no blob store"

    def put(self, key: str, data: bytes) -> None:
        raise ValidationError(
            f"a value of {len(data)} bytes is over the blob threshold, and this client does "
            "not know the project's blob store: trigger it without connection=, or from a "
            "client given database_url")

    def get(self, key: str) -> bytes:
        raise NotFoundError(f"no blob {key!r}: this client has no blob store")

    def stream(self, key: str) -> Iterator[bytes]:
        yield self.get(key)

    def delete_runs(self, run_ids: list[str]) -> int:
        return 0

    def owners(self, older_than: float = 0.0) -> list[str]:
        return []

    def close(self) -> None:
        return None


def blob_owner(key: str) -> str:
    """The run a key belongs to (its first part)."""
    return key.partition("/")[0]


def check_key(key: str) -> str:
    """A key the stores accept: ``<owner>/<name>`` of letters, digits, ``_`` and ``-``
    (a key is also a file path: nothing in it may climb out of the directory)."""
    owner, _, name = key.partition("/")
    for part in (owner, name):
        if not part or not all(c.isalnum() or c in "_-" for c in part):
            raise ValueError(f"bad blob key {key!r}")
    return key


def open_blob_url(url: str) -> BlobStore:
    """The blob store an ``OUTLAST_BLOB_URL`` (or ``[blobs] url``) names:
    ``s3://bucket/prefix`` (options ``?endpoint_url=…&region=…``) or ``file:///abs/dir``."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        from outlast.store.blobs.s3 import S3Blobs

        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return S3Blobs(parts.netloc, parts.path.strip("/"),
                       endpoint_url=options.get("endpoint_url"), region=options.get("region"))
    if parts.scheme == "file":
        from outlast.store.blobs.directory import DirectoryBlobs

        return DirectoryBlobs(parts.path)
    raise ConfigError(f"unsupported blob store URL {url!r}: use s3://bucket/prefix or "
                      "file:///a/directory")
