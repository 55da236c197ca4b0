"""Loading ``outlast.toml`` / ``[tool.outlast]``: search, defaults, overrides, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from outlast.config import Config, find_config_file, load_config, resolve_database_url
from outlast.core.retry import Retry
from outlast.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_from_a_minimal_file(project: Path) -> None:
    write(project / "outlast.toml", 'project = "shop"\n')
    config = load_config()
    assert config.project == "shop"
    assert config.root == project.resolve()
    assert config.dirs == ("tasks",)
    assert config.database_url == f"sqlite:///{project.resolve() / '.outlast' / 'dev.db'}"
    assert config.environment == "dev"
    assert config.retry == Retry()
    assert config.machine == "small-1x"
    assert config.max_duration is None
    assert config.source == project.resolve() / "outlast.toml"


def test_every_setting(project: Path) -> None:
    write(project / "outlast.toml", """
project = "shop"
dirs = ["jobs", "more/tasks"]
database_url = "postgresql://outlast@db/outlast"
environment = "staging"

[defaults]
machine = "large-1x"
max_duration = "15m"

[defaults.retry]
max_attempts = 5
min_delay = 2
""")
    config = load_config()
    assert config.dirs == ("jobs", "more/tasks")
    assert config.task_dirs() == [project.resolve() / "jobs", project.resolve() / "more/tasks"]
    assert config.database_url == "postgresql://outlast@db/outlast"
    assert config.environment == "staging"
    assert config.machine == "large-1x"
    assert config.max_duration == 900.0
    assert config.retry == Retry(max_attempts=5, min_delay=2)


def test_found_from_a_subdirectory_and_paths_resolve_against_the_root(project: Path,
                                                                      monkeypatch) -> None:
    write(project / "outlast.toml", 'database_url = "sqlite:///data/runs.db"\n')
    deep = project / "src" / "app"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    config = load_config()
    assert config.root == project.resolve()
    assert config.project == "project"
    assert config.database_url == f"sqlite:///{project.resolve() / 'data' / 'runs.db'}"


def test_pyproject_tool_table(project: Path) -> None:
    write(project / "pyproject.toml", '[project]\nname = "x"\n\n[tool.outlast]\n'
          'project = "from-pyproject"\ndirs = "workers"\n')
    config = load_config()
    assert config.project == "from-pyproject"
    assert config.dirs == ("workers",)


def test_a_pyproject_without_the_table_is_passed_over(project: Path, monkeypatch) -> None:
    write(project / "outlast.toml", 'project = "outer"\n')
    inner = project / "pkg"
    write(inner / "pyproject.toml", '[project]\nname = "pkg"\n')
    monkeypatch.chdir(inner)
    assert find_config_file() == project.resolve() / "outlast.toml"
    assert load_config().project == "outer"


def test_outlast_toml_wins_over_pyproject_in_the_same_directory(project: Path) -> None:
    write(project / "pyproject.toml", '[tool.outlast]\nproject = "py"\n')
    write(project / "outlast.toml", 'project = "toml"\n')
    assert load_config().project == "toml"


def test_environment_variables_override_the_file(project: Path) -> None:
    write(project / "outlast.toml", 'database_url = "sqlite:///a.db"\n')
    env = {"OUTLAST_DATABASE_URL": "sqlite:///b.db", "OUTLAST_ENVIRONMENT": "prod"}
    config = load_config(environ=env)
    assert config.database_url == f"sqlite:///{project.resolve() / 'b.db'}"
    assert config.environment == "prod"


def test_no_file(project: Path) -> None:
    config = load_config()
    assert config.source is None
    assert config.root == project.resolve()
    with pytest.raises(ConfigError, match="outlast init"):
        load_config(required=True)


def test_command_line_database_url_is_relative_to_the_working_directory(project: Path) -> None:
    config = Config(project="p", root=project / "elsewhere")
    assert config.with_database_url("sqlite:///x.db").database_url == \
        f"sqlite:///{project.resolve() / 'x.db'}"
    assert config.with_database_url(None) is config


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite:///rel/a.db", "sqlite:////base/rel/a.db"),
    ("sqlite:////abs/a.db", "sqlite:////abs/a.db"),
    ("sqlite:///:memory:", "sqlite:///:memory:"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
])
def test_resolve_database_url(url: str, expected: str) -> None:
    assert resolve_database_url(url, Path("/base")) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("project = ", "not valid TOML"),
    ("projekt = 'x'", "unknown setting(s): projekt"),
    ("project = 3", "project must be a non-empty string"),
    ("dirs = []", "dirs must be a list"),
    ("dirs = ['../outside']", "paths inside the project"),
    ("database_url = 'mysql://x'", "unsupported database_url"),
    ("environment = 'production'", "environment must be one of dev, staging, prod"),
    ("defaults = 1", "[defaults] must be a table"),
    ("[defaults]\nmachine = 'huge'", "unknown machine 'huge'"),
    ("[defaults]\nmax_duration = 'soon'", "cannot read 'soon' as a duration"),
    ("[defaults]\ntimeout = 3", "unknown default(s): timeout"),
    ("[defaults.retry]\nattempts = 3", "unknown retry setting(s): attempts"),
    ("[defaults.retry]\nmax_attempts = 0", "max_attempts must be at least 1"),
    ("[defaults.retry]\nmax_attempts = 'many'", "values must be numbers"),
])
def test_bad_files_name_the_problem(project: Path, text: str, message: str) -> None:
    write(project / "outlast.toml", text + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert message in caught.value.message
    assert "outlast.toml" in caught.value.message


def test_bad_environment_variables(project: Path) -> None:
    with pytest.raises(ConfigError, match="OUTLAST_DATABASE_URL"):
        load_config(environ={"OUTLAST_DATABASE_URL": "redis://x"})
    with pytest.raises(ConfigError, match="OUTLAST_ENVIRONMENT"):
        load_config(environ={"OUTLAST_ENVIRONMENT": "qa"})


def test_config_errors_through_the_cli_are_one_line(project: Path, outlast) -> None:
    write(project / "outlast.toml", "dirs = 7\n")
    result = outlast("migrate")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "dirs must be a list" in result.stderr
    assert "Traceback" not in result.output
