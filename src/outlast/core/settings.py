"""Settings that come from the environment, read once per process into one frozen record.

The project file may set some of them too (``[blobs]``: where large values are kept);
the environment wins over it, as for the file's other settings.

The command line (``load_config``) and the in-process client read them when they start and
hand the record to the engine and the app; the engine itself never looks at
``os.environ`` (a test says so), so what a process does cannot change behind its back
and a test states its settings instead of patching the environment.

    OUTLAST_LEASE_SECONDS            how long an attempt keeps its run without a heartbeat
    OUTLAST_PUBLIC_URL               where clients reach the server (token callback URLs)
    OUTLAST_SECRET                   signs public tokens and dashboard sessions
                                     (``OUTLAST_SECRET_KEY``: its deprecated old name)
    OUTLAST_ALLOWED_HOSTS            more host names ``outlast server`` answers to
    OUTLAST_ENV_CONCURRENCY_LIMIT    EXECUTING runs per environment, unless set by the API
    OUTLAST_ALERT_WEBHOOK_URL        where failure alerts go, unless set by the API
    OUTLAST_ALERT_WEBHOOK_SECRET     signs them (default: ``OUTLAST_SECRET``)
    OUTLAST_RETENTION_INTERVAL       seconds between upkeep's retention passes (default 300)
    OUTLAST_MAX_PAYLOAD_BYTES        the largest payload, output, step result or wait output
                                     (default 100 MB; over it: 413 ``payload_too_large``)
    OUTLAST_BLOB_THRESHOLD           values larger than this many bytes are kept in the
                                     blob store, their row holds a reference (default 512 KB)
    OUTLAST_BLOB_URL                 the blob store: ``s3://bucket/prefix``, ``file:///dir``
                                     or a directory (default: a directory beside SQLite's
                                     file, PostgreSQL's table)

    [blobs]                          in ``outlast.toml``, under those two variables
    url = "s3://bucket/prefix"       or a directory, relative to the project's root
    threshold = 524288
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from outlast.core.project_file import find_config_file, project_table
from outlast.errors import ConfigError

#: the environment-wide limit when none was set through the API
ENV_LIMIT_VAR = "OUTLAST_ENV_CONCURRENCY_LIMIT"
DEFAULT_LEASE_SECONDS = 30.0
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8030"
DEFAULT_RETENTION_INTERVAL = 300.0
DEFAULT_MAX_PAYLOAD_BYTES = 100 * 1024 * 1024
DEFAULT_BLOB_THRESHOLD = 512 * 1024


@dataclass(frozen=True)
class Settings:
    """What the environment says; the defaults are what an empty environment means."""

    lease_seconds: float = DEFAULT_LEASE_SECONDS
    #: None: not set (the engine's token URLs then point at ``DEFAULT_PUBLIC_URL``)
    public_url: str | None = None
    #: None: the secret the database keeps
    secret: str | None = field(default=None, repr=False)
    allowed_hosts: tuple[str, ...] = ()
    env_concurrency_limit: int | None = None
    alert_webhook_url: str | None = None
    alert_webhook_secret: str = field(default="", repr=False)
    #: seconds between two retention passes of the upkeep holder (``upkeep/pruning.py``)
    retention_interval: float = DEFAULT_RETENTION_INTERVAL
    #: the largest value a run keeps (payload, output, step result, wait output)
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    #: values over this many bytes go to the blob store (``engine/blobs.py``)
    blob_threshold: int = DEFAULT_BLOB_THRESHOLD
    #: None: the store's own blob store; else ``s3://bucket/prefix`` (``store/blobs``)
    blob_url: str | None = None


def read_settings(environ: Mapping[str, str] | None = None, file: Settings | None = None,
                  root: Path | None = None) -> Settings:
    """The settings ``environ`` (``os.environ`` by default) gives, over those the project
    file gave (``file``; ``file_settings``); a relative directory in ``OUTLAST_BLOB_URL``
    is taken from ``root`` (default: the working directory)."""
    env = os.environ if environ is None else environ
    base = file or Settings()
    secret = server_secret(env)
    blob_url = (env.get("OUTLAST_BLOB_URL") or "").strip()
    return Settings(
        lease_seconds=_seconds(env, "OUTLAST_LEASE_SECONDS", base.lease_seconds),
        public_url=env.get("OUTLAST_PUBLIC_URL") or base.public_url,
        secret=secret or base.secret,
        allowed_hosts=tuple(h.strip() for h in env.get("OUTLAST_ALLOWED_HOSTS", "").split(",")
                            if h.strip()) or base.allowed_hosts,
        env_concurrency_limit=_positive(env.get(ENV_LIMIT_VAR, "")) or base.env_concurrency_limit,
        alert_webhook_url=env.get("OUTLAST_ALERT_WEBHOOK_URL") or base.alert_webhook_url,
        alert_webhook_secret=(env.get("OUTLAST_ALERT_WEBHOOK_SECRET")
                              or env.get("OUTLAST_SECRET") or base.alert_webhook_secret),
        retention_interval=_seconds(env, "OUTLAST_RETENTION_INTERVAL", base.retention_interval),
        max_payload_bytes=_bytes(env, "OUTLAST_MAX_PAYLOAD_BYTES", base.max_payload_bytes),
        blob_threshold=_bytes(env, "OUTLAST_BLOB_THRESHOLD", base.blob_threshold),
        blob_url=(check_blob_url(blob_url, "OUTLAST_BLOB_URL", root or Path.cwd())
                  if blob_url else base.blob_url),
    )


def file_settings(table: Mapping[str, Any], path: Path) -> Settings:
    """What a project file's table (``project_table``) sets of these: ``[blobs]``."""
    blobs = table.get("blobs", {})
    where = f"{path}: [blobs]"
    if not isinstance(blobs, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(blobs) - {"url", "threshold"}
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s): {', '.join(sorted(unknown))} "
                          "(known: threshold, url)")
    url, threshold = blobs.get("url"), blobs.get("threshold", DEFAULT_BLOB_THRESHOLD)
    if url is not None and (not isinstance(url, str) or not url.strip()):
        raise ConfigError(f"{where} url must be a non-empty string, got {url!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold <= 0:
        raise ConfigError(f"{where} threshold must be a positive number of bytes, "
                          f"got {threshold!r}")
    return Settings(blob_threshold=threshold, blob_url=(
        None if url is None else check_blob_url(url, f"{where} url", path.parent.resolve())))


def project_settings(start: Path | None = None,
                     environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of a process that does not load the whole configuration (an
    in-process client, Django, a replay check): the environment over the project file's
    (found from ``start`` upward), so its large values go where the workers' do."""
    path = find_config_file(start)
    if path is None:
        return read_settings(environ)
    return read_settings(environ, file_settings(project_table(path), path),
                         path.parent.resolve())


def check_blob_url(value: str, where: str, root: Path) -> str:
    """A blob store's URL as ``store.blobs.open_blob_url`` takes it: ``s3://bucket/prefix``
    and ``file:///abs/dir`` as given, a directory path as ``file://`` (relative: to
    ``root``)."""
    text = value.strip()
    if "://" not in text:
        return "file://" + str((root / text).resolve())
    parts = urlsplit(text)
    if (parts.scheme == "s3" and parts.netloc) or (
            parts.scheme == "file" and not parts.netloc and parts.path.startswith("/")):
        return text
    raise ConfigError(f"{where}: {value!r} is not a blob store; use s3://bucket/prefix, "
                      "file:///a/directory or a directory path")


def server_secret(env: Mapping[str, str]) -> str | None:
    """``OUTLAST_SECRET``, or its deprecated old name ``OUTLAST_SECRET_KEY`` (warned of)."""
    secret, old = env.get("OUTLAST_SECRET"), env.get("OUTLAST_SECRET_KEY")
    if old:
        used = "ignored: OUTLAST_SECRET is set" if secret else "used as OUTLAST_SECRET"
        warnings.warn(f"OUTLAST_SECRET_KEY is deprecated ({used}); set OUTLAST_SECRET, "
                      "the one secret for public tokens and dashboard sessions",
                      FutureWarning, stacklevel=3)
    return secret or old or None


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name) or ""
    try:
        return float(text) if text.strip() else default
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {text!r}") from None


def _bytes(env: Mapping[str, str], name: str, default: int) -> int:
    text = (env.get(name) or "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) <= 0:
        raise ConfigError(f"{name} must be a positive number of bytes, got {text!r}")
    return int(text)


def _positive(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and int(text) > 0 else None
