"""The documentation site builds with ``mkdocs build --strict`` and covers what it must.

Strict mode turns every warning into a failure: a broken link or anchor between pages, a
page left out of the nav, a docstring mkdocstrings cannot render. The build renders the
CLI reference from the click commands, the HTTP reference from the OpenAPI document the
app serves, and the Python reference from the docstrings, so it also fails when the code
they are generated from does not load.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

import outlast
from outlast.api.routes import all_routes
from outlast.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: a Markdown link or image target: ``[text](target)``
LINK = re.compile(r"\]\(([^)\s]+)")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # a notice of the theme, not of ours
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
         "-d", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return out


def nav_pages(nav: Any) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in nav_pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in nav_pages(value)]
    return []


def markdown_pages() -> set[str]:
    return {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}


def test_every_page_is_in_the_nav_and_built(site: Path) -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    listed = nav_pages(config["nav"])
    assert len(listed) == len(set(listed)), "a page is listed twice"
    assert set(listed) == markdown_pages()
    for page in listed:
        built = "index.html" if page == "index.md" else page.removesuffix(".md") + "/index.html"
        assert (site / built).is_file(), page


def test_the_pages_the_issue_asks_for_exist() -> None:
    guides = ["tasks", "retries", "durable-steps-and-waits", "human-approval", "child-runs",
              "queues-and-flow-control", "schedules", "realtime", "deploying-new-code",
              "postgresql", "metrics", "embedding", "testing", "security"]
    wanted = {"index.md", "getting-started.md", "concepts.md", "limits.md",
              "reference/cli.md", "reference/http.md", "reference/python.md",
              *(f"guides/{g}.md" for g in guides)}
    assert wanted <= markdown_pages()


def test_links_stay_inside_the_docs() -> None:
    """The docs say what they mean themselves: no link to another site or out of docs/."""
    for page in DOCS.rglob("*.md"):
        for target in LINK.findall(page.read_text()):
            assert "://" not in target and not target.startswith("//"), (page, target)
            resolved = (page.parent / target.split("#")[0]).resolve()
            assert resolved.is_relative_to(DOCS.resolve()), (page, target)


def test_no_pointer_to_a_missing_api_md() -> None:
    for path in [*(ROOT / "src").rglob("*.py"), *DOCS.rglob("*.md"), ROOT / "README.md"]:
        assert "API.md" not in path.read_text(), path


def test_http_reference_lists_every_route(site: Path) -> None:
    page = (site / "reference/http/index.html").read_text()
    for route in all_routes():
        assert f"{route.method} /api/v1{route.path}" in page, route.path
    assert (site / "reference/openapi.json").is_file()


def test_cli_reference_documents_every_command(site: Path) -> None:
    page = (site / "reference/cli/index.html").read_text()
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert f"outlast {name}" in page, name
        for sub in getattr(command, "commands", {}):
            assert f"outlast {name} {sub}" in page, (name, sub)


def test_python_reference_covers_every_public_name(site: Path) -> None:
    source = (DOCS / "reference/python.md").read_text()
    documented = set(re.findall(r"^::: outlast\.(\w+)$", source, re.MULTILINE))
    documented |= set(re.findall(r'^\s+heading: "(\w+)"$', source, re.MULTILINE))
    missing = set(outlast.__all__) - documented - {"__version__"}
    assert not missing, f"add these to docs/reference/python.md: {sorted(missing)}"
    assert 'id="outlast.task"' in (site / "reference/python/index.html").read_text()
