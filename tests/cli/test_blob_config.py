"""Where large values go, set in ``outlast.toml`` (``[blobs]``) or the environment, which
wins: an in-process client and a command's engine of one project find the same blob store,
on both stores, and a bad value is a ConfigError that names it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from outlast.config import load_config
from outlast.core.settings import DEFAULT_BLOB_THRESHOLD, project_settings
from outlast.engine import Engine
from outlast.engine.blobs import ref_of
from outlast.errors import ConfigError
from outlast.sdk.client import Client
from outlast.store import Store
from tests.blobs.test_blob_runs import row_of


def configure(project: Path, blobs: str) -> None:
    (project / "outlast.toml").write_text(f'project = "shop"\n\n[blobs]\n{blobs}\n')


def test_an_in_process_client_and_the_workers_engine_share_the_files_blob_directory(
        project: Path, store_url: str, store: Store, register: Callable[..., Any]) -> None:
    configure(project, 'url = "kept/blobs"\nthreshold = 1000')
    workers = Engine(store, settings=load_config().settings)
    register(workers, "t")
    payload = {"log": "x" * 5000}
    with Client(database_url=store_url) as client:
        run_id = client.tasks.trigger("t", payload).id
        assert client.runs.retrieve(run_id).payload == payload
    ref = ref_of(row_of(workers, run_id)["payload"])
    assert ref is not None  # over the file's threshold: kept apart...
    assert [p.parent.name for p in (project / "kept/blobs").rglob("payload-*")] == [run_id]
    kept = workers.blobs.text(row_of(workers, run_id)["payload"])
    assert json.loads(kept) == payload  # ...where the worker's engine reads it


def test_the_environment_wins_over_the_file(project: Path) -> None:
    configure(project, 'url = "s3://from-file/prefix?region=eu-west-1"\nthreshold = 1000')
    assert project_settings().blob_url == "s3://from-file/prefix?region=eu-west-1"
    assert load_config().settings.blob_threshold == 1000
    environ = {"OUTLAST_BLOB_URL": "file:///srv/blobs", "OUTLAST_BLOB_THRESHOLD": "2048"}
    for settings in (load_config(environ=environ).settings, project_settings(environ=environ)):
        assert (settings.blob_url, settings.blob_threshold) == ("file:///srv/blobs", 2048)


def test_a_directory_is_relative_to_the_project_root_from_any_subdirectory(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(project, 'url = "blobs"')
    (project / "tasks").mkdir()
    monkeypatch.chdir(project / "tasks")
    expected = f"file://{project.resolve() / 'blobs'}"
    assert load_config().settings.blob_url == expected
    assert project_settings().blob_url == expected
    assert load_config().settings.blob_threshold == DEFAULT_BLOB_THRESHOLD


def test_without_a_table_the_stores_own_blob_store_is_used(project: Path) -> None:
    (project / "outlast.toml").write_text('project = "shop"\n')
    assert load_config().settings.blob_url is None
    assert project_settings().blob_url is None


@pytest.mark.parametrize(("blobs", "message"), [
    ('url = "gs://bucket/x"', "is not a blob store; use s3://bucket/prefix"),
    ('url = "s3:///no-bucket"', "is not a blob store"),
    ('url = "file://host/dir"', "is not a blob store"),
    ('url = ""', "url must be a non-empty string"),
    ("url = 5", "url must be a non-empty string"),
    ("threshold = 0", "threshold must be a positive number of bytes"),
    ('threshold = "512KB"', "threshold must be a positive number of bytes"),
    ("threshold = true", "threshold must be a positive number of bytes"),
    ("bucket = 'b'", "unknown setting(s): bucket (known: threshold, url)"),
])
def test_a_bad_blobs_table_names_the_file_and_the_value(
        project: Path, blobs: str, message: str) -> None:
    configure(project, blobs)
    for read in (load_config, project_settings):
        with pytest.raises(ConfigError) as caught:
            read()
        assert message in caught.value.message and "outlast.toml: [blobs]" in caught.value.message


def test_blobs_that_is_not_a_table(project: Path) -> None:
    (project / "outlast.toml").write_text('blobs = "s3://b/p"\n')
    with pytest.raises(ConfigError, match=r"\[blobs\] must be a table"):
        load_config()


@pytest.mark.parametrize(("environ", "message"), [
    ({"OUTLAST_BLOB_URL": "gs://bucket/x"}, "OUTLAST_BLOB_URL: 'gs://bucket/x' is not a blob"),
    ({"OUTLAST_BLOB_THRESHOLD": "big"}, "OUTLAST_BLOB_THRESHOLD must be a positive number"),
])
def test_a_bad_environment_value_names_the_variable(
        project: Path, environ: dict[str, str], message: str) -> None:
    configure(project, 'url = "blobs"')
    with pytest.raises(ConfigError) as caught:
        load_config(environ=environ)
    assert message in caught.value.message
