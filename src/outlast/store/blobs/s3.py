"""Blobs in an S3-compatible bucket (AWS S3, MinIO, R2, …): ``OUTLAST_BLOB_URL`` or
``[blobs] url``.

``s3://bucket/prefix?endpoint_url=http://host:9000&region=us-east-1``; credentials come
the way boto3 finds them (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, an
instance role). Objects are ``<prefix>/<run id>/<name>``; a run's blobs are deleted by
listing its prefix. Needs the ``s3`` extra (``pip install 'outlast[s3]'``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from outlast.errors import ConfigError, NotFoundError
from outlast.store.blobs.protocol import CHUNK, check_key


class S3Blobs:
    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None,
                 region: str | None = None, client: Any = None) -> None:
        if not bucket:
            raise ConfigError("a blob store URL needs a bucket: s3://bucket/prefix")
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.location = f"s3://{bucket}/{self.prefix}"
        self._client = client if client is not None else _client(endpoint_url, region)

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put(self, key: str, data: bytes) -> None:
        self._client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data)

    def _body(self, key: str) -> Any:
        try:
            return self._client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        except self._client.exceptions.NoSuchKey:
            raise NotFoundError(f"no blob {key!r} in {self.location}") from None

    def get(self, key: str) -> bytes:
        body = self._body(key)
        try:
            return bytes(body.read())
        finally:
            body.close()

    def stream(self, key: str) -> Iterator[bytes]:
        body = self._body(key)
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def delete_runs(self, run_ids: list[str]) -> int:
        deleted = 0
        for run_id in run_ids:
            names = self._list(f"{self.prefix}{run_id}/")
            for start in range(0, len(names), 1000):  # DeleteObjects takes 1,000 at most
                self._client.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": n} for n in names[start:start + 1000]], "Quiet": True})
            deleted += bool(names)
        return deleted

    def _list(self, prefix: str) -> list[str]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def owners(self, older_than: float = 0.0) -> list[str]:
        before = time.time() - older_than
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix)
        return sorted({item["Key"][len(self.prefix):].partition("/")[0]
                       for page in pages for item in page.get("Contents", [])
                       if item["LastModified"].timestamp() <= before})

    def close(self) -> None:
        self._client.close()


def _client(endpoint_url: str | None, region: str | None) -> Any:
    try:
        import boto3  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigError("a blob store at s3://… (OUTLAST_BLOB_URL, [blobs] url) needs "
                          "boto3: pip install 'outlast[s3]'") from None
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region)
