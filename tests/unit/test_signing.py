"""``s3op.signing`` gives exactly the headers botocore's own way gives.

The reference is botocore itself: an ``AWSRequest`` signed by a plain
``S3SigV4Auth``, at the same instant, with the same credentials.
"""

from __future__ import annotations

import datetime
from typing import Any, Dict, List, Tuple

import pytest
from botocore import auth as botocore_auth
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from s3op.fastsend import SigningConfig
from s3op.signing import Headers, Signer, sign

BASE = "http://127.0.0.1:9000/bucket"
CASES: List[Tuple[str, str, Dict[str, str]]] = [
    ("GET", f"{BASE}/dir/key.bin", {"x-amz-checksum-mode": "ENABLED"}),
    ("GET", f"{BASE}/a%20b/%E2%82%AC", {"Range": "bytes=0-99", "If-Match": '"abc"'}),
    ("HEAD", f"{BASE}/k", {"x-amz-checksum-mode": "ENABLED"}),
    (
        "PUT",
        f"{BASE}/up/k",
        {
            "Content-Type": "text/plain; charset=utf-8",
            "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==",
            "x-amz-meta-owner": "  two   spaces  ",
            "x-amz-server-side-encryption": "AES256",
            "Content-Length": "0",
        },
    ),
    ("PUT", f"{BASE}/k?partNumber=3&uploadId=xyz", {"Content-Length": "5"}),
    ("GET", f"{BASE}?list-type=2&prefix=a%2Fb&continuation-token=t%3D", {}),
    ("GET", f"{BASE}/k", {"User-Agent": "not signed", "x-amz-meta-A": "1", "X-Amz-Meta-a": "2"}),
]


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Any:
    """botocore's clock, set by the test."""
    clock = {"now": datetime.datetime(2026, 11, 24, 23, 59, 58)}
    monkeypatch.setattr(botocore_auth, "get_current_datetime", lambda: clock["now"])
    return clock


def botocore_way(creds: Any, method: str, url: str, headers: Dict[str, str]) -> Dict[str, str]:
    request = AWSRequest(method=method, url=url, headers=dict(headers, host="127.0.0.1:9000"))
    request.context["client_config"] = SigningConfig
    S3SigV4Auth(creds, "s3", "eu-west-1").add_auth(request)
    return dict(request.headers.items())


def our_way(signer: Signer, method: str, url: str, headers: Dict[str, str]) -> Dict[str, str]:
    with_host = dict(headers, host="127.0.0.1:9000")
    return dict(sign(signer, method, url, with_host, None, SigningConfig))


@pytest.mark.parametrize("token", [None, "session-token"])
@pytest.mark.parametrize("method,url,headers", CASES)
def test_the_same_headers_as_botocore_signing_an_awsrequest(
    frozen: Any, method: str, url: str, headers: Dict[str, str], token: Any
) -> None:
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    signer = Signer(creds, "s3", "eu-west-1")
    ours = our_way(signer, method, url, headers)
    assert ours == botocore_way(creds, method, url, headers)
    assert ours["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/")
    assert ("X-Amz-Security-Token" in ours) == (token is not None)
    assert "user-agent" not in ours["Authorization"]


def test_the_kept_key_follows_the_day_and_the_secret(frozen: Any) -> None:
    creds = Credentials("AKID", "first-secret")
    signer = Signer(creds, "s3", "eu-west-1")
    method, url, headers = CASES[0]
    for step in range(4):
        if step == 1:
            frozen["now"] += datetime.timedelta(seconds=5)  # the next day (UTC)
        if step == 2:
            creds.secret_key = "rotated-secret"  # refreshed credentials
        ours = our_way(signer, method, url, headers)
        assert ours == botocore_way(creds, method, url, headers)
        day = frozen["now"].strftime("%Y%m%d")
        assert f"/{day}/eu-west-1/s3/aws4_request" in ours["Authorization"]


def test_headers_compare_without_case_and_keep_repeats() -> None:
    h = Headers({"Content-Type": "a"})
    h["x-amz-meta-k"] = "1"
    h["X-Amz-Meta-K"] = "2"
    assert "content-type" in h and h["CONTENT-TYPE"] == "a" and h.get("nope", 7) == 7
    assert h.get_all("x-amz-meta-k") == ["1", "2"] and h["x-amz-meta-k"] == "1"
    assert h.get_all("absent") is None
    del h["X-AMZ-META-K"]
    assert "x-amz-meta-k" not in h and h.items() == [("Content-Type", "a")]
    with pytest.raises(KeyError):
        h["x-amz-meta-k"]
