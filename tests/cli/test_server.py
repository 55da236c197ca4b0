"""What ``outlast server`` says when it starts, and which project its dashboard names."""

from __future__ import annotations

from pathlib import Path

from outlast.cli.server import project_name, started
from outlast.config import load_config

URL = "postgresql://outlast:secret@db.internal/outlast?schema=billing"


def test_the_start_line_names_the_project_of_outlast_toml(project: Path) -> None:
    (project / "outlast.toml").write_text('project = "billing"\n')
    config = load_config().with_database_url(URL)
    assert project_name(config) == "billing"
    assert started(config, "http://127.0.0.1:8030") == (
        "Outlast server for project 'billing' on http://127.0.0.1:8030 "
        "(database postgresql://outlast:***@db.internal/outlast?schema=billing)")


def test_without_outlast_toml_no_project_is_named(project: Path) -> None:
    config = load_config().with_database_url(URL)
    assert config.project == project.name  # only the directory's name: not shown
    assert project_name(config) is None
    assert started(config, "http://127.0.0.1:8030").startswith(
        "Outlast server on http://127.0.0.1:8030 (database postgresql://outlast:***@")
