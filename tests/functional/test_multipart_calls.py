"""A multipart upload's create, complete and abort on the lean path (``s3op.fastmultipart``).

What botocore used to send for them must still arrive: the content type,
metadata and encryption given to the create, the parts and full-object
CRC32 of the complete, and an abort that drops the parts. Checked on
moto's server with boto3, and the complete's XML body against botocore's
own serializer.
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Mapping
from xml.etree import ElementTree

import pytest
from botocore.exceptions import ClientError

from s3op.checksum import crc32_b64
from s3op.client import Credentials, make_client
from s3op.fastmultipart import complete_body, fast_create_upload
from s3op.fastsend import Endpoint, NotOurs, Sender
from tests.backends import Backend
from tests.conformance_ops import lines, s3op
from tests.functional.batches import fast_config
from tests.functional.test_cli import manifest

MIB = 1024 * 1024


def test_a_multipart_put_sends_what_its_create_and_complete_are_given(
    s3backend: Backend, tmp_path: Path
) -> None:
    data = os.urandom(11 * MIB)
    (tmp_path / "big").write_bytes(data)
    row = {
        "idx": 0,
        "url": s3backend.root("dir/big"),
        "local": str(tmp_path / "big"),
        "content_type": "application/x-parquet",
        "metadata": {"owner": "flow-7", "step": "train"},
        "encryption": "AES256",
    }
    inputs = manifest(tmp_path / "put.jsonl", [row])
    args = ["--multipart-threshold", str(5 * MIB), "--part-size", str(5 * MIB)]
    proc = s3op(s3backend, "put", "--inputs", inputs, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines(proc)[0]["etag"].strip('"').endswith("-3")
    client = s3backend.client()
    head = client.head_object(Bucket=s3backend.bucket, Key="dir/big", ChecksumMode="ENABLED")
    assert head["ContentType"] == "application/x-parquet"
    stored = head["Metadata"]  # metaflow.S3's form: one JSON header
    assert list(stored) == ["metaflow-user-attributes"]
    assert json.loads(stored["metaflow-user-attributes"]) == {"owner": "flow-7", "step": "train"}
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ChecksumCRC32"] == crc32_b64(zlib.crc32(data))
    got = client.get_object(Bucket=s3backend.bucket, Key="dir/big")["Body"].read()
    assert got == data


def test_an_aborted_upload_leaves_no_parts(s3backend: Backend) -> None:
    transport = make_client(fast_config(s3backend.endpoint_url))
    assert type(transport).__name__ == "FastClient"
    bucket, key = s3backend.bucket, "aborted"
    upload = transport.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    transport.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"x" * 10)
    client = s3backend.client()
    listed = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["UploadId"] for u in listed] == [upload]
    transport.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(Exception) as err:  # a second abort: the upload is gone
        transport.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
    assert "NoSuchUpload" in str(err.value)


def _parts_of(body: bytes) -> List[Dict[str, str]]:
    root = ElementTree.fromstring(body)
    assert root.tag.rpartition("}")[2] == "CompleteMultipartUpload"
    return [{c.tag.rpartition("}")[2]: c.text or "" for c in part} for part in root]


def _botocore_body(parts: List[Mapping[str, object]]) -> bytes:
    import botocore.session
    from botocore.serialize import create_serializer

    model = botocore.session.get_session().get_service_model("s3")
    operation = model.operation_model("CompleteMultipartUpload")
    params = {"Bucket": "b", "Key": "k", "UploadId": "u", "MultipartUpload": {"Parts": parts}}
    body = create_serializer("rest-xml").serialize_to_request(params, operation)["body"]
    return body if isinstance(body, bytes) else body.encode("utf-8")


@pytest.mark.parametrize(
    "parts",
    [
        [{"PartNumber": 1, "ETag": '"0cc175b9c0f1b6a831c399e269772661"'}],
        [
            {"PartNumber": n, "ETag": f'"{n:032x}"', "ChecksumCRC32": crc32_b64(n * 7919)}
            for n in range(1, 6)
        ],
        [{"PartNumber": 2, "ETag": "<odd> & 'etag'"}],  # escaped on the way
    ],
)
def test_the_complete_body_says_what_botocore_says(parts: List[Mapping[str, object]]) -> None:
    assert _parts_of(complete_body(parts)) == _parts_of(_botocore_body(parts))


class _Refusing(BaseHTTPRequestHandler):
    """Answers every request 400 with an error body and the region header it is given."""

    region = "us-east-1"

    def _answer(self) -> None:
        body = b"<Error><Code>InvalidRequest</Code><Message>refused</Message></Error>"
        self.send_response(400)
        self.send_header("x-amz-bucket-region", self.region)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(("region", "ours"), [("us-east-1", True), ("eu-west-3", False)])
def test_a_400_naming_our_own_region_stays_on_the_lean_path(region: str, ours: bool) -> None:
    """Some stores name their region on every answer: only another region means the
    bucket is elsewhere (``NotOurs``: botocore serves it from then on)."""
    handler = type("Handler", (_Refusing,), {"region": region})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = Endpoint(f"http://127.0.0.1:{server.server_address[1]}", "us-east-1", True)
        sender = Sender(endpoint, Credentials("testing", "testing"), 4, (5.0, 5.0))
        args = {"ChecksumAlgorithm": "CRC32", "ChecksumType": "FULL_OBJECT"}
        expected = ClientError if ours else NotOurs
        with pytest.raises(expected):
            fast_create_upload(sender, "bucket-a", "k", args, None)
        assert sender.serves("bucket-a") is ours
    finally:
        server.shutdown()
        thread.join()
