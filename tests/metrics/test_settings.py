"""``metrics_public``: from ``outlast.toml``, overridden by ``OUTLAST_METRICS_PUBLIC``."""

from __future__ import annotations

from pathlib import Path

import pytest

from outlast.config import load_config
from outlast.errors import ConfigError


def project(tmp_path: Path, line: str = "") -> Path:
    (tmp_path / "outlast.toml").write_text(f'project = "p"\n{line}\n')
    return tmp_path


def test_metrics_ask_for_a_key_unless_made_public(tmp_path: Path) -> None:
    assert load_config(project(tmp_path), environ={}).metrics_public is False
    assert load_config(project(tmp_path, "metrics_public = true"), environ={}).metrics_public


@pytest.mark.parametrize(("value", "public"), [("1", True), ("true", True), ("0", False),
                                               ("false", False), ("", False)])
def test_the_environment_overrides_the_file(tmp_path: Path, value: str, public: bool) -> None:
    config = load_config(project(tmp_path, "metrics_public = true"),
                         environ={"OUTLAST_METRICS_PUBLIC": value})
    assert config.metrics_public is public


def test_a_bad_value_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="metrics_public must be true or false"):
        load_config(project(tmp_path, 'metrics_public = "yes"'), environ={})
    with pytest.raises(ConfigError, match="OUTLAST_METRICS_PUBLIC"):
        load_config(project(tmp_path), environ={"OUTLAST_METRICS_PUBLIC": "maybe"})
