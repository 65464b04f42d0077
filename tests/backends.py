"""S3 backends for tests: moto (in-process server) and SeaweedFS (scripts/local_s3.py).

A :class:`Backend` is what the ``s3backend`` fixture hands to a test: an
endpoint, a fresh bucket and credentials, plus helpers to reach it from this
process (:meth:`Backend.client`) and from a subprocess (:meth:`Backend.env`).

Server behaviour that decides how the engine verifies transfers
================================================================

Measured with boto3/botocore 1.44.5 against moto 5.2.5 (threaded server, :class:`MotoServer`)
and SeaweedFS 4.48 (``weed server`` as started by ``scripts/local_s3.py``).
Re-measure after upgrading any of them (the key ones are asserted in
``tests/integration/test_local_s3.py``).

Conditional writes (``If-None-Match: *``)
    - ``put_object(..., IfNoneMatch="*")``: both servers: new key -> 200;
      existing key -> 412 ``PreconditionFailed``, object left unchanged.
    - ``complete_multipart_upload(..., IfNoneMatch="*")``: both servers: new key
      -> 200, existing key -> 412 ``PreconditionFailed``, object unchanged.
      After the 412 the upload still exists (``list_multipart_uploads`` shows it)
      and must be aborted by the caller.
    - ``put_object(..., IfMatch='"wrong"')``: 412 on both.

Ranges (GET with ``Range``)
    - ``bytes=0-`` on a 0-byte object: 416 ``InvalidRange`` on BOTH (moto adds
      ``ActualObjectSize=0``). So an empty object can't be fetched with an
      open range: GET it without a Range header.
    - ``bytes=20-`` on a 10-byte object: 416 ``InvalidRange`` on both.
    - ``bytes=0-`` on 10 bytes: 206, ``ContentRange="bytes 0-9/10"``.
      ``bytes=5-100``: 206, ``bytes 5-9/10`` (end clamped).
      ``bytes=-3``: 206, ``bytes 7-9/10``. ``bytes=-20``: 206, ``bytes 0-9/10``.
    - ``bytes=-5`` on a 0-byte object: they DISAGREE: moto 200 with an empty
      body and no ``ContentRange``; SeaweedFS 416 ``InvalidRange``.
    - Total size comes from the ``/total`` part of ``ContentRange``.

Server-side encryption
    - ``ServerSideEncryption="AES256"`` round-trips: head_object and get_object
      return ``ServerSideEncryption="AES256"`` on both (objects without SSE:
      key absent). SeaweedFS only when a KEK is configured (local_s3.py sets a
      random ``WEED_S3_SSE_KEK``); without it the PUT fails with 500
      ``InternalError``. ETag of an SSE-S3 single-part object is still the MD5.

Checksums
    - A default boto3 client (>= 1.36: ``request_checksum_calculation=
      when_supported``) sends ``x-amz-checksum-crc32`` with every put_object and
      upload_part. Both servers store it for single-part objects and return
      ``ChecksumCRC32`` (base64 of the big-endian CRC32) on GET and HEAD with
      ``ChecksumMode="ENABLED"``. botocore's default
      ``response_checksum_validation=when_supported`` already asks for and
      validates it on GET (body is a ``StreamingChecksumBody``, error raised at
      end of stream), also without an explicit ChecksumMode.
    - Ranged GET: no checksum value (moto sends only
      ``x-amz-sdk-checksum-algorithm``). Verify ranged/parallel downloads by
      size, and the whole object afterwards if a full-object checksum exists.
    - Multipart, ``create_multipart_upload`` WITHOUT ``ChecksumAlgorithm``
      (parts still carry CRC32): NO object checksum on either server.
    - Multipart WITH ``ChecksumAlgorithm="CRC32"`` (what boto3's transfer
      manager ``upload_file`` does): COMPOSITE checksum ``"<b64>-N"`` with
      ``ChecksumType="COMPOSITE"`` on GET; botocore does NOT validate it (plain
      ``StreamingBody``). moto's HEAD drops the ``-N`` suffix (moto bug), its
      GET has it. Only verifiable part by part.
    - Multipart with ``ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"``
      and the whole-object ``ChecksumCRC32`` on complete: GET returns the full
      CRC32 (``ChecksumType="FULL_OBJECT"``), validated by botocore. Use this
      for our own multipart uploads if we want verifiable downloads.
    - Upload verification: SeaweedFS rejects a wrong ``ChecksumCRC32`` or
      ``ContentMD5`` with 400 ``BadDigest``; moto accepts and stores the data
      (then returns no checksum). Fault tests for upload corruption need
      SeaweedFS or injected faults.

ETags
    - Single-part (plain or SSE-S3): ``'"<md5 hex of content>"'`` on both;
      empty object ``"d41d8cd98f00b204e9800998ecf8427e"``.
    - Multipart: ``'"<md5 hex of concat(md5 digests of parts)>-<N>"'`` on both
      (checked: 5 MiB + 100 B -> ``...-2``). Not the MD5 of the content.

Other differences worth knowing
    - Default Content-Type when none is given: moto ``binary/octet-stream``;
      SeaweedFS sniffs the body (``text/plain; charset=utf-8`` for text).
    - User metadata keys come back lower-cased on both.
    - SeaweedFS shows "directories": after putting ``dir/a``, GET/HEAD of
      ``dir/`` returns 200, 0 bytes, ETag ``"d41d8...-0"``, ContentType
      ``application/x-directory``; moto returns 404. ``dir`` (no slash): 404 on both.
    - Missing key: GET -> ``NoSuchKey`` 404, HEAD -> code ``"404"``; missing
      bucket: ``NoSuchBucket`` 404 (both).
    - SeaweedFS keeps an object ``a/b`` and objects under ``a/b/`` side by side,
      but only when they are written one after the other: two *concurrent* PUTs
      of ``a/b`` and ``a/b/c`` both answer 200 and ``a/b`` is then gone (404) about
      one time in 20 (its filer turns the file into the directory). Tests that
      need both write ``a/b`` first, in a batch of its own.
"""

from __future__ import annotations

import threading
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Tuple

TEST_ACCESS_KEY = "testing"
TEST_SECRET_KEY = "testing"
REGION = "us-east-1"


@dataclass
class Backend:
    """An S3 endpoint with one bucket reserved for the current test."""

    name: str
    endpoint_url: str
    bucket: str
    access_key: str = TEST_ACCESS_KEY
    secret_key: str = TEST_SECRET_KEY

    def client(self) -> Any:
        """A boto3 S3 client for this endpoint (path-style addressing)."""
        return make_client(self.endpoint_url, self.access_key, self.secret_key)

    def root(self, prefix: str = "") -> str:
        """``s3://bucket/prefix``."""
        return f"s3://{self.bucket}/{prefix.lstrip('/')}"

    def env(self) -> Dict[str, str]:
        """Environment variables a subprocess needs to reach this endpoint."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": REGION,
        }


def make_client(endpoint_url: str, access_key: str, secret_key: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}),
    )


def unique_bucket(prefix: str = "t") -> str:
    """A fresh, valid bucket name."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


# -- moto ------------------------------------------------------------------------------------


class MotoServer:
    """moto's S3 app on a threaded werkzeug server, with conditional writes made atomic.

    moto 5.2.5 answers ``If-None-Match: *`` / ``If-Match`` on PutObject by looking the
    key up and then writing it, with no lock between the two, and its server handles
    each request on its own thread. Two racing create-only writers can therefore both
    get 200 (seen in CI: 2 winners out of 20 in the faults row 8; reproduced at 4 keys
    in 100 with a 1 us switch interval). S3 and SeaweedFS promise one winner. So this
    server runs object writes that carry a condition one at a time; every other request
    stays concurrent. It is ``moto.server.ThreadedMotoServer`` with that one wrapper.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()

        def serialised(environ: Dict[str, Any], start_response: Any) -> Any:
            conditional = environ.get("REQUEST_METHOD") in ("PUT", "POST") and (
                "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MATCH" in environ
            )
            if not conditional:
                return app(environ, start_response)
            with lock:
                return list(app(environ, start_response))

        self._server = make_server(
            host, port, serialised, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"


def start_moto() -> Tuple[MotoServer, str]:
    """Start moto on a free loopback port; return (server, endpoint_url)."""
    server = MotoServer()
    server.start()
    return server, server.endpoint_url


def reset_moto(endpoint_url: str) -> None:
    """Drop all state (buckets, objects) of a moto server."""
    req = urllib.request.Request(endpoint_url + "/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def delete_bucket(client: Any, bucket: str) -> None:
    """Best-effort removal of a bucket and everything in it (incl. open multipart uploads)."""
    try:
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        for up in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            client.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
        client.delete_bucket(Bucket=bucket)
    except Exception:  # noqa: BLE001 - cleanup must not fail a test
        pass
