"""``.outlast/dev.env``: how clients in a project find the running ``outlast dev``.

The dev API key is kept across restarts (when the database still accepts it), so a
shell or notebook that read the file before a restart keeps working after it.
"""

from __future__ import annotations

import os
from pathlib import Path

from outlast.engine import Engine
from outlast.sdk.client import read_env_file

DEV_ENVIRONMENT = "dev"

_HEADER = ("# Written by `outlast dev` on every start. Clients started in this project read it\n"
           "# when OUTLAST_API_URL is not set. Keep it out of version control.\n")


def dev_api_key(engine: Engine, env_file: Path) -> str:
    """The key from a previous run if the database still accepts it, else a new one."""
    if env_file.is_file():
        key = read_env_file(env_file).get("OUTLAST_API_KEY")
        if key and engine.authenticate(key) == DEV_ENVIRONMENT:
            return key
    return engine.create_api_key(DEV_ENVIRONMENT)


def write_dev_env(env_file: Path, url: str, api_key: str) -> None:
    """Write the file atomically and readable by its owner only (it holds a secret)."""
    state_dir = env_file.parent
    state_dir.mkdir(parents=True, exist_ok=True)
    ignore = state_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Local state of `outlast dev`: database and dev API key.\n*\n")
    tmp = env_file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{_HEADER}OUTLAST_API_URL={url}\nOUTLAST_API_KEY={api_key}\n")
    os.replace(tmp, env_file)
