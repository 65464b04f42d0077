"""The bucket as seen without either client: seed objects, clear, snapshot (boto3).

Objects are written one at a time, in the order given: SeaweedFS loses an
object ``a/b`` written concurrently with ``a/b/c`` (see ``tests/backends.py``).
User metadata is stored the way ``metaflow.S3`` stores it, as JSON in the one
header ``metaflow-user-attributes``, so both clients can read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union

from tests.backends import Backend


@dataclass(frozen=True)
class Stored:
    """An object to seed: contents and the headers a client can observe."""

    body: bytes
    content_type: Optional[str] = None
    metadata: Optional[Dict[str, Any]] = None  # user metadata (JSON, as metaflow)
    encryption: Optional[str] = None  # "AES256" for SSE-S3


Seed = Mapping[str, Union[bytes, Stored]]


class Store:
    """One bucket of a backend, reached with a plain boto3 client."""

    def __init__(self, backend: Backend, bucket: Optional[str] = None) -> None:
        self.client = backend.client()
        self.bucket = bucket or backend.bucket

    def url(self, key: str = "") -> str:
        """``s3://bucket/key``."""
        return f"s3://{self.bucket}/{key}"

    def seed(self, objects: Seed, under: str = "") -> None:
        """Write ``objects`` (key -> bytes or Stored) under the prefix ``under``."""
        for key, value in objects.items():
            stored = value if isinstance(value, Stored) else Stored(value)
            self.client.put_object(Bucket=self.bucket, Key=under + key, **put_args(stored))

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key under ``prefix``, in listing order."""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                yield entry["Key"]

    def clear(self, prefix: str) -> None:
        """Delete every object under ``prefix``."""
        keys = list(self.keys(prefix))
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def reset(self, prefix: str, objects: Seed) -> None:
        """Make ``prefix`` hold exactly ``objects`` (keys relative to ``prefix``)."""
        self.clear(prefix)
        self.seed(objects, under=prefix)

    def snapshot(self, prefix: str, deep: bool = True) -> Dict[str, Tuple[Any, ...]]:
        """What is stored under ``prefix``: key -> (body, content type, metadata,
        encryption), or with ``deep=False`` key -> (size, ETag) from one listing."""
        if not deep:
            return {k: v for k, v in self._listing(prefix)}
        return {key: self._object(key) for key in self.keys(prefix)}

    def _listing(self, prefix: str) -> List[Tuple[str, Tuple[int, str]]]:
        paginator = self.client.get_paginator("list_objects_v2")
        return [
            (o["Key"], (o["Size"], o["ETag"]))
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix)
            for o in page.get("Contents", [])
        ]

    def _object(self, key: str) -> Tuple[Any, ...]:
        resp = self.client.get_object(Bucket=self.bucket, Key=key)
        return (
            resp["Body"].read(),
            resp.get("ContentType"),
            resp.get("Metadata"),
            resp.get("ServerSideEncryption"),
        )


def put_args(stored: Stored) -> Dict[str, Any]:
    """``put_object`` arguments for ``stored`` (beyond bucket and key)."""
    args: Dict[str, Any] = {"Body": stored.body}
    if stored.content_type is not None:
        args["ContentType"] = stored.content_type
    if stored.metadata is not None:
        args["Metadata"] = {"metaflow-user-attributes": json.dumps(stored.metadata)}
    if stored.encryption is not None:
        args["ServerSideEncryption"] = stored.encryption
    return args
