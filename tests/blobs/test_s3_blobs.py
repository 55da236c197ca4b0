"""The S3 blob store against an S3 emulator (``moto_server``): what every blob store does,
and a run whose payload and output live in the bucket, on both stores."""

from __future__ import annotations

import json

import pytest

from outlast.core.settings import Settings
from outlast.engine import Engine, Outcome
from outlast.engine.blobs import ref_of
from outlast.errors import NotFoundError
from outlast.store import Store
from outlast.store.blobs import open_blob_url
from outlast.store.blobs.protocol import CHUNK
from tests.blobs.conftest import MB
from tests.conftest import definition
from tests.worker.support import trigger


def test_the_s3_store_puts_gets_streams_and_deletes_by_run(s3_url: str) -> None:
    blobs = open_blob_url(s3_url)
    data = bytes(range(256)) * (3 * CHUNK // 256 + 5)
    blobs.put("run_a/payload-1", data)
    blobs.put("run_a/output-2", b'"out"')
    blobs.put("run_b/payload-3", b"[]")
    assert blobs.get("run_a/payload-1") == data
    chunks = list(blobs.stream("run_a/payload-1"))
    assert b"".join(chunks) == data and max(map(len, chunks)) <= CHUNK
    assert blobs.owners() == ["run_a", "run_b"]
    assert blobs.owners(older_than=3600) == []
    assert blobs.delete_runs(["run_a", "run_none"]) == 1
    assert blobs.owners() == ["run_b"]
    with pytest.raises(NotFoundError):
        blobs.get("run_a/payload-1")
    blobs.close()


def test_a_key_cannot_climb_out_of_its_place(s3_url: str) -> None:
    blobs = open_blob_url(s3_url)
    for key in ("../x/y", "run_a/../../etc", "run_a", "/abs"):
        with pytest.raises(ValueError, match="bad blob key"):
            blobs.put(key, b"1")


def test_a_run_keeps_its_large_values_in_the_bucket(store: Store, s3_url: str) -> None:
    engine = Engine(store, settings=Settings(blob_url=s3_url))
    engine.register_tasks("dev", [definition("t")])
    run_id = trigger(engine, "t", {"data": "p" * (2 * MB)})
    [row] = engine.claim("dev", "w1", None, 1)
    assert json.loads(row["payload"]) == {"data": "p" * (2 * MB)}  # the worker's copy: whole
    engine.record([Outcome(run_id, row["lease_id"], 1, "completed", output="o" * MB)])
    run = engine.retrieve("dev", run_id)
    assert run["status"] == "COMPLETED"
    assert (run["payload_size"], run["output_size"]) == (2 * MB + 12, MB + 2)
    assert engine.blobs.store.owners() == [run_id]
    assert store.blob_store().owners() == []  # nothing went to the store's own place
    chunks, size = engine.run_value("dev", run_id, "output")
    assert json.loads(b"".join(chunks)) == "o" * MB and size == MB + 2
    with engine.store.transaction(write=False) as tx:
        stored = tx.one("get_run", id=run_id, environment="dev")
    assert stored is not None and ref_of(stored["output"]) is not None
