"""Blob stores: where values too large for a row are kept (payloads, outputs, step results
and wait outputs over the blob threshold).

A row keeps a small reference in their place (``engine/blobs.py`` decides when and writes
it); the bytes go to one of three backends behind ``BlobStore``:

- ``DirectoryBlobs``: files in a directory beside the SQLite database (``outlast dev``);
- ``TableBlobs``: the ``blobs`` table of PostgreSQL, in parts of 1 MiB (the default there);
- ``S3Blobs``: any S3-compatible bucket, when ``OUTLAST_BLOB_URL`` (or ``[blobs] url``) is
  ``s3://bucket/prefix``.

Keys are ``<run id>/<name>``: every blob belongs to one run, so deleting a run's blobs is
one prefix (``delete_runs``), whatever the backend.
"""

from outlast.store.blobs.protocol import BlobStore, blob_owner, open_blob_url

__all__ = ["BlobStore", "blob_owner", "open_blob_url"]
