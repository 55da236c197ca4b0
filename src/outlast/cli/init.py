"""``outlast init``: the two files a new project starts from.

Both come from templates shipped in the package, so what ``init`` writes is the same
code the test suite imports and runs.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import click

from outlast.cli.output import note


def template(name: str) -> str:
    return resources.files("outlast.cli").joinpath("templates", name).read_text("utf-8")


def project_files(root: Path, project: str) -> dict[Path, str]:
    """What ``init`` writes, by path."""
    toml = template("outlast.toml").replace('"{{ project }}"', json.dumps(project))
    return {root / "outlast.toml": toml, root / "tasks" / "example.py": template("example.py")}


@click.command(short_help="Start a project: outlast.toml and example tasks.")
@click.option("--project", metavar="NAME", help="Project name (default: the directory's name).")
@click.option("--force", is_flag=True, help="Overwrite files that already exist (else kept).")
def init(project: str | None, force: bool) -> None:
    """Create outlast.toml and tasks/example.py in the current directory."""
    root = Path.cwd()
    for path, text in project_files(root, project or root.name).items():
        if path.exists() and not force:  # never overwrite the user's work; re-running is safe
            click.echo(f"kept {path.relative_to(root)} (exists; --force overwrites it)")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        click.echo(f"created {path.relative_to(root)}")
    note("\nNext: start the dev server, then trigger a task from another terminal:\n"
         "  outlast dev\n"
         "  outlast trigger hello-world '{\"name\": \"Ada\"}' --wait")
