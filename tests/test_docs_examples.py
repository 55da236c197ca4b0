"""The examples in README.md and docs/ name what exists: every attribute, keyword and CLI
option they use (see ``tests/docs_names.py`` for how they are followed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs_names import check_command, check_python, check_span, code_of

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def page_id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_python_examples_name_what_exists(page: Path) -> None:
    blocks, _, spans = code_of(page)
    problems = [p for i, block in enumerate(blocks, 1)
                for p in check_python(block, f"{page_id(page)} example {i}")]
    problems += [p for span in spans for p in check_span(span, f"{page_id(page)} `{span}`")]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_commands_name_what_exists(page: Path) -> None:
    _, shell, spans = code_of(page)
    lines = shell + [s for s in spans if s.startswith("outlast ")]
    problems = [p for line in lines for p in check_command(line, page_id(page))]
    assert not problems, "\n".join(problems)


WRONG = '''
from outlast import task, runs, Client, AsyncClient, wait, Retry
from outlast.testing import TestRuns

@task(id="x", retries=3)
def fetch_price(payload, ctx):
    ctx.run.idd
    wait.sleeep(1)

handle = fetch_price.trigger({}, delays="1h")
handle.idd
runs.journal_x("r")
client = Client(url="u", apikey="k")
client.runs.jornal("r")
with TestRuns() as env:
    env.client.runs.retrieve("x").statuss

async def main():
    async with AsyncClient(url="u") as aclient:
        await aclient.runs.retrieveX("x")
for run in runs.list(status=["FAILED"]):
    run.statu
Retry(max_attempt=3)
'''


def test_the_check_finds_names_that_do_not_exist() -> None:
    """So that a clean pass means something: each wrong name below is reported."""
    found = "\n".join(check_python(WRONG, "wrong"))
    for wrong in ["keyword 'retries'", "'idd'", "'sleeep'", "keyword 'delays'", "'journal_x'",
                  "keyword 'apikey'", "'jornal'", "'statuss'", "'retrieveX'", "'statu'",
                  "keyword 'max_attempt'"]:
        assert wrong in found, wrong
    assert found.count("\n") + 1 == 12  # ``ctx.run.idd`` and ``handle.idd`` both
    assert check_span("runs.journall(id)", "span")
    assert check_span("task.trigger_asyncc(...)", "span")
    assert not check_span("outlast.toml", "span")  # a file name, not an attribute
    assert check_command("$ outlast dev --prot 1", "cmd")
    assert check_command("outlast runs lst", "cmd")
    assert not check_command("outlast trigger hello --wait --delay 5m  # a comment", "cmd")
