"""Project configuration: ``outlast.toml`` or ``[tool.outlast]`` in ``pyproject.toml``.

The file is searched from the working directory upward, like git finds its repository,
so every command behaves the same from any subdirectory of a project. The directory
holding the file is the project root: task directories and relative SQLite paths are
resolved against it, never against wherever the command happened to start.

Environment variables override the file (``OUTLAST_DATABASE_URL``,
``OUTLAST_ENVIRONMENT``, ``OUTLAST_METRICS_PUBLIC``, ``OUTLAST_CORS_ORIGINS``,
``OUTLAST_BLOB_URL``, ``OUTLAST_BLOB_THRESHOLD``) so one checked-in file serves a laptop
and a deployment. Secrets, deployment names and limits come from the environment only,
read here once into ``Config.settings`` (see ``outlast.core.settings``), which commands
hand to the engine and the app.

    project = "my-app"
    dirs = ["tasks"]
    database_url = "sqlite:///.outlast/dev.db"
    environment = "dev"
    metrics_public = false      # true: GET /metrics needs no API key
    cors_origins = ["https://app.example.com"]   # sites whose pages may read runs

    [defaults]
    machine = "small-1x"
    max_duration = "1h"

    [defaults.retry]
    max_attempts = 3

    [retention]                  # how long finished runs are kept (outlast.core.retention)
    finished = "30d"
    failed = "90d"

    [retention.prod]             # per environment: what it sets wins, the rest is inherited
    failed = "365d"

    [blobs]                      # where values over the threshold are kept (default: the
    url = "s3://bucket/prefix"   # store's own); or a directory, relative to this file
    threshold = 524288           # bytes

    [hooks]                     # project-wide hooks, imported by every worker
    on_failure = ["myapp.alerts:notify"]
    middleware = ["myapp.db:with_connection"]
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outlast.core.definitions import DEFAULT_MACHINE
from outlast.core.environments import ENVIRONMENTS as ENVIRONMENTS
from outlast.core.hook_kinds import KINDS
from outlast.core.origins import env_origins, web_origins
from outlast.core.project_file import CONFIG_FILE, PYPROJECT, find_config_file, project_table
from outlast.core.retention import Retention, parse_retention
from outlast.core.retry import Retry
from outlast.core.settings import Settings, file_settings, read_settings
from outlast.durations import parse_duration
from outlast.errors import ConfigError, ValidationError
from outlast.machines import machine as check_machine

DEFAULT_DATABASE_URL = "sqlite:///.outlast/dev.db"

_TOP_KEYS = {"project", "dirs", "database_url", "environment", "defaults", "metrics_public",
             "hooks", "retention", "cors_origins", "blobs"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}
_DEFAULT_KEYS = {"retry", "machine", "max_duration"}


@dataclass(frozen=True)
class Config:
    """Everything a command needs to know about the project it runs in."""

    project: str
    root: Path
    dirs: tuple[str, ...] = ("tasks",)
    database_url: str = DEFAULT_DATABASE_URL
    environment: str = "dev"
    retry: Retry = field(default_factory=Retry)
    machine: str = DEFAULT_MACHINE
    max_duration: float | None = None
    #: ``GET /metrics`` answers without an API key (for a scraper on a private network)
    metrics_public: bool = False
    #: ``[hooks]``: project-wide hooks by kind, as import paths ("package.module:function")
    hooks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: sites whose web pages may read runs and follow them (``server/cors.py``)
    cors_origins: tuple[str, ...] = ()
    #: ``[retention]`` resolved for each environment (``retention`` picks this one's)
    retention_by_env: Mapping[str, Retention] = field(
        default_factory=lambda: {env: Retention() for env in ENVIRONMENTS})
    #: The file the values came from; None when no file was found.
    source: Path | None = None
    #: what the file says of ``settings`` (``[blobs]``); the environment wins over it
    file_settings: Settings = field(default_factory=Settings)
    #: what the environment says over ``file_settings``, read once by ``load_config``
    settings: Settings = field(default_factory=Settings)

    @property
    def secret(self) -> str | None:
        """``OUTLAST_SECRET``: signs public tokens and dashboard sessions (None: the
        database's)."""
        return self.settings.secret

    @property
    def public_url(self) -> str | None:
        """``OUTLAST_PUBLIC_URL``: where clients reach the server (its host is always
        allowed)."""
        return self.settings.public_url

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        """``OUTLAST_ALLOWED_HOSTS``: more host names ``outlast server`` answers to (``*``:
        any)."""
        return self.settings.allowed_hosts

    @property
    def retention(self) -> Retention:
        """How long this environment keeps finished runs, unless a task says otherwise."""
        return self.retention_by_env.get(self.environment, Retention())

    def task_defaults(self) -> dict[str, Any]:
        """The ``[defaults]`` for workers to apply to tasks that set none themselves,
        this environment's retention, which travels with each task's definition, and the
        ``[hooks]`` they import for every task (``"hooks"``, when there are some)."""
        defaults: dict[str, Any] = {"retry": self.retry.to_dict(), "machine": self.machine,
                                    "max_duration": self.max_duration,
                                    "retention": self.retention.to_dict()}
        if self.hooks:
            where = f"{self.source.name if self.source else CONFIG_FILE} [hooks]"
            defaults["hooks"] = {"where": where,
                                 "declared": {k: list(v) for k, v in self.hooks.items()}}
        return defaults

    def task_dirs(self) -> list[Path]:
        return [self.root / d for d in self.dirs]

    def state_dir(self) -> Path:
        """Where ``outlast dev`` keeps its database and ``dev.env``."""
        return self.root / ".outlast"

    def with_database_url(self, url: str | None, base: Path | None = None) -> Config:
        """A copy using ``url`` (from a command-line flag) when given.

        A relative SQLite path on the command line is relative to where the user typed
        it (``base``, the working directory by default), as shell users expect.
        """
        if not url:
            return self
        resolved = resolve_database_url(_check_url(url), base or Path.cwd())
        return dataclasses.replace(self, database_url=resolved)

    def with_environment(self, environment: str | None) -> Config:
        if not environment:
            return self
        return dataclasses.replace(self, environment=_check_environment(environment))


def load_config(
    start: Path | None = None,
    *,
    required: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Load the project's configuration, with environment variables applied on top.

    Without a file, commands that only need a database still work (``required=False``):
    the working directory becomes the root and the defaults apply.
    """
    env = os.environ if environ is None else environ
    path = find_config_file(start)
    if path is None:
        if required:
            raise ConfigError(
                f"no {CONFIG_FILE} (or [tool.outlast] in {PYPROJECT}) found in "
                f"{(start or Path.cwd()).resolve()} or its parents; run `outlast init` first"
            )
        root = (start or Path.cwd()).resolve()
        return _apply_env(Config(project=root.name, root=root), env)
    return _apply_env(parse_config(project_table(path), path), env)


def parse_config(data: Mapping[str, Any], path: Path) -> Config:
    """Build a Config from one TOML table; every bad value is a ConfigError naming it."""
    where = str(path)
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s): {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(sorted(_TOP_KEYS))})")
    root = path.parent.resolve()
    defaults = _defaults(data.get("defaults", {}), where)
    return Config(
        project=_text(data.get("project", root.name), "project", where),
        root=root,
        dirs=_dirs(data.get("dirs", ["tasks"]), where),
        database_url=resolve_database_url(
            _check_url(_text(data.get("database_url", DEFAULT_DATABASE_URL), "database_url",
                             where), where), root),
        environment=_check_environment(
            _text(data.get("environment", "dev"), "environment", where), where),
        metrics_public=_flag(data.get("metrics_public", False), "metrics_public", where),
        hooks=_hooks(data.get("hooks", {}), where),
        cors_origins=_origins(data.get("cors_origins", []), where),
        source=path,
        retention_by_env=_retention(data.get("retention", {}), where),
        file_settings=file_settings(data, path),
        **defaults,
    )


def resolve_database_url(url: str, base: Path) -> str:
    """Make a relative ``sqlite:///path`` absolute against ``base``; others unchanged."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    path = url.removeprefix(prefix)
    if path == ":memory:" or os.path.isabs(path):
        return url
    return prefix + str((base / path).resolve())


# -- reading -----------------------------------------------------------------------------


def _apply_env(config: Config, env: Mapping[str, str]) -> Config:
    # Relative paths in the environment resolve against the project root too: the same
    # variable then means the same database from any subdirectory.
    url = env.get("OUTLAST_DATABASE_URL")
    if url:
        where = "OUTLAST_DATABASE_URL"
        config = dataclasses.replace(
            config, database_url=resolve_database_url(_check_url(url, where), config.root))
    environment = env.get("OUTLAST_ENVIRONMENT")
    if environment:
        config = dataclasses.replace(
            config, environment=_check_environment(environment, "OUTLAST_ENVIRONMENT"))
    public = env.get("OUTLAST_METRICS_PUBLIC")
    if public is not None:
        config = dataclasses.replace(config, metrics_public=_env_flag(
            public, "OUTLAST_METRICS_PUBLIC"))
    origins = env.get("OUTLAST_CORS_ORIGINS")
    if origins is not None:
        config = dataclasses.replace(config, cors_origins=env_origins(origins))
    return dataclasses.replace(
        config, settings=read_settings(env, config.file_settings, config.root))


# -- validation --------------------------------------------------------------------------


def _text(value: Any, name: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {name} must be a non-empty string, got {value!r}")
    return value.strip()


def _flag(value: Any, name: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {name} must be true or false, got {value!r}")
    return value


def _env_flag(value: str, name: str) -> bool:
    text = value.strip().lower()
    if text not in _TRUE | _FALSE:
        raise ConfigError(f"{name} must be 1 or 0 (true or false), got {value!r}")
    return text in _TRUE


def _origins(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: cors_origins must be a list of origins, got {value!r}")
    return web_origins(value, where)


def _dirs(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: dirs must be a list of directories, got {value!r}")
    dirs = tuple(_text(v, "each entry of dirs", where) for v in value)
    for d in dirs:
        if os.path.isabs(d) or ".." in Path(d).parts:
            raise ConfigError(f"{where}: dirs entries are paths inside the project, got {d!r}")
    return dirs


def _check_url(url: str, where: str = "--database-url") -> str:
    if url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        return url
    raise ConfigError(
        f"{where}: unsupported database_url {url!r}; use sqlite:///path/to.db or "
        "postgresql://user@host/db"
    )


def _check_environment(value: str, where: str = "--env") -> str:
    if value not in ENVIRONMENTS:
        raise ConfigError(f"{where}: environment must be one of {', '.join(ENVIRONMENTS)}, "
                          f"got {value!r}")
    return value


def _defaults(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [defaults] must be a table")
    unknown = set(value) - _DEFAULT_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown default(s): {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(sorted(_DEFAULT_KEYS))})")
    out: dict[str, Any] = {}
    try:
        if "retry" in value:
            out["retry"] = _retry(value["retry"], where)
        if "machine" in value:
            out["machine"] = check_machine(_text(value["machine"], "machine", where)).name
        if "max_duration" in value:
            out["max_duration"] = parse_duration(value["max_duration"], "max_duration")
    except ValidationError as exc:
        raise ConfigError(f"{where}: defaults: {exc.message}") from None
    return out


def _hooks(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    """``[hooks]``: kind = "pkg.mod:fn" or a list of them (imported by the worker at start,
    where a path that does not resolve stops it, naming the key)."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [hooks] must be a table")
    unknown = set(value) - set(KINDS)
    if unknown:
        raise ConfigError(f"{where}: unknown hook(s) in [hooks]: {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(KINDS)})")
    hooks: dict[str, tuple[str, ...]] = {}
    for kind, paths in value.items():
        listed = [paths] if isinstance(paths, str) else paths
        if not isinstance(listed, list) or not all(
                isinstance(p, str) and ":" in p for p in listed):
            raise ConfigError(f"{where}: [hooks] {kind} must be an import path "
                              f"'package.module:function' or a list of them, got {paths!r}")
        hooks[kind] = tuple(p.strip() for p in listed)
    return hooks


def _retry(value: Any, where: str) -> Retry:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [defaults.retry] must be a table")
    known = {f.name for f in dataclasses.fields(Retry)}
    unknown = set(value) - known
    if unknown:
        raise ConfigError(f"{where}: unknown retry setting(s): {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(sorted(known))})")
    try:
        return Retry(**value)
    except TypeError:
        raise ConfigError(f"{where}: [defaults.retry] values must be numbers "
                          f"(and randomize a boolean), got {value!r}") from None


def _retention(value: Any, where: str) -> dict[str, Retention]:
    """``[retention]`` resolved for each environment: the project's periods (defaults
    where unset), then an environment's own table over them."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [retention] must be a table")
    known = {"finished", "failed", *ENVIRONMENTS}
    unknown = set(value) - known
    if unknown:
        raise ConfigError(f"{where}: unknown retention setting(s): "
                          f"{', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
    try:
        project = parse_retention({k: value[k] for k in ("finished", "failed") if k in value},
                                  Retention(), "retention")
        out = {}
        for env in ENVIRONMENTS:
            own = value.get(env, {})
            if not isinstance(own, dict):
                raise ConfigError(f"{where}: [retention.{env}] must be a table")
            out[env] = parse_retention(own, project, f"retention.{env}")
    except ValidationError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None
    return out
