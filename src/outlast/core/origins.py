"""Web origins from configuration: ``cors_origins`` in ``outlast.toml`` or
``OUTLAST_CORS_ORIGINS`` (comma-separated), the sites whose pages may read runs.

An origin is what a browser sends in ``Origin``: a scheme, a host and maybe a port, no
path (``https://app.example.com``, ``http://localhost:5173``). A typo here would silently
allow nothing, so anything else is a ConfigError naming it. ``*`` allows every site: the
reads still need a key or a token, which no page has by accident.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from outlast.errors import ConfigError

ANY = "*"


def web_origins(values: Iterable[object], where: str) -> tuple[str, ...]:
    """``values`` checked and lower-cased, duplicates dropped, order kept."""
    out: dict[str, None] = {}
    for value in values:
        out[web_origin(value, where)] = None
    return tuple(out)


def web_origin(value: object, where: str) -> str:
    text = value.strip().rstrip("/").lower() if isinstance(value, str) else ""
    if text == ANY:
        return text
    parts = urlsplit(text)
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.path
            or parts.query or parts.fragment or parts.username or parts.password):
        raise ConfigError(f"{where}: cors_origins entries are origins like "
                          f"'https://app.example.com' (scheme, host, port; no path), "
                          f"got {value!r}")
    return text


def env_origins(text: str) -> tuple[str, ...]:
    """``OUTLAST_CORS_ORIGINS``: comma-separated origins (empty: none)."""
    return web_origins([v for v in text.split(",") if v.strip()], "OUTLAST_CORS_ORIGINS")
