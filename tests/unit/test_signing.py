"""``s3op.signing`` gives exactly the headers botocore's S3 signer gives.

The reference is botocore itself: an ``AWSRequest`` signed by a plain
``S3SigV4Auth``, at the same instant, with the same credentials. Requests
are generated (keys of any characters, queries, headers with odd spacing,
repeated names, names botocore leaves unsigned, names the signer sets) and
both ways' headers must be the same list, in the same order, byte for byte.
"""

from __future__ import annotations

import datetime
import hashlib
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import quote

import pytest
from botocore import auth as botocore_auth
from botocore.auth import SIGNED_HEADERS_BLACKLIST, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3op.fastsend import Endpoint
from s3op.signing import UNSIGNED_HEADERS, UNSIGNED_PAYLOAD, Signer, canonical_query

ORIGIN = "http://127.0.0.1:9000"
HOST = "127.0.0.1:9000"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#: 2026-11-24T23:59:58.75Z: a second's fraction, two seconds before the day ends.
EPOCH = 1795564798.75


class PayloadConfig:
    """botocore's ``client_config.s3`` as a client with payload signing on or off."""

    def __init__(self, signed: bool) -> None:
        self.s3 = {"payload_signing_enabled": signed}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Dict[str, float]:
    """One clock for both signers (epoch seconds), set by the test."""
    now = {"epoch": EPOCH}

    def botocore_now() -> datetime.datetime:
        aware = datetime.datetime.fromtimestamp(now["epoch"], datetime.timezone.utc)
        return aware.replace(tzinfo=None)

    monkeypatch.setattr(botocore_auth, "get_current_datetime", botocore_now)
    return now


def botocore_way(
    creds: Any,
    method: str,
    target: str,
    headers: Dict[str, str],
    body: Optional[bytes] = None,
    region: str = "eu-west-1",
) -> List[Tuple[str, str]]:
    request = AWSRequest(method=method, url=ORIGIN + target, headers=headers, data=body)
    request.context["client_config"] = PayloadConfig(signed=body is not None)
    S3SigV4Auth(creds, "s3", region).add_auth(request)
    return list(request.headers.items())


def our_way(
    signer: Signer, method: str, target: str, headers: Dict[str, str], body: Optional[bytes] = None
) -> List[Tuple[str, str]]:
    path, _, query = target.partition("?")
    payload = UNSIGNED_PAYLOAD if body is None else hashlib.sha256(body).hexdigest()
    return list(signer.sign(method, path, query, headers, payload).items())


def signer_for(creds: Any, clock: Dict[str, float], region: str = "eu-west-1") -> Signer:
    return Signer(creds, "s3", region, clock=lambda: clock["epoch"])


# -- generated requests --------------------------------------------------------------

_KEY_CHARS = st.characters(blacklist_categories=("Cs",))  # any character but a lone surrogate
_NAMES = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,15}", fullmatch=True),
    st.sampled_from(
        [
            "Content-Type",
            "content-md5",
            "X-Amz-Meta-Owner",
            "x-amz-meta-owner",
            "Range",
            "If-None-Match",
            "x-amz-checksum-crc32",
            "x-amz-checksum-mode",
            "User-Agent",  # left unsigned by botocore
            "Expect",
            "Connection",
            "transfer-encoding",
            "Authorization",  # set by the signer
            "x-amz-date",
            "X-AMZ-CONTENT-SHA256",
            "X-Amz-Security-Token",
        ]
    ),
).filter(lambda name: name.lower() not in ("date", "host"))
_VALUES = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f")
    | st.sampled_from([" ", "\t"]),
    max_size=24,
)
_QUERY_TEXT = st.text(_KEY_CHARS, max_size=12)


@st.composite
def requests(draw: Any) -> Tuple[str, str, Dict[str, str]]:
    """(method, target as sent: path and query, headers with a host)."""
    method = draw(st.sampled_from(["GET", "HEAD", "PUT", "DELETE", "POST", "get"]))
    key = draw(st.text(_KEY_CHARS, min_size=1, max_size=40) | st.sampled_from(KEYS))
    path = Endpoint(ORIGIN, "eu-west-1", True).place("bucket").target(key)
    pairs = draw(st.lists(st.tuples(_QUERY_TEXT, _QUERY_TEXT), max_size=4))
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)
    query = draw(st.sampled_from([query, "attributes", "delete", "uploads", "a&b=1&a=0"]))
    headers = {draw(st.sampled_from(["host", "Host"])): HOST}
    headers.update(draw(st.dictionaries(_NAMES, _VALUES, max_size=8)))
    return method, path + ("?" + query if query else ""), headers


#: Keys S3 users trip on: spaces, unicode, reserved and unreserved URL characters.
KEYS = ["a b", "dir/€uro", "plus+sign", "tilde~", "eq=uals", "a//b/", "%2F", "q?x#y&z", "*'()!"]

_PRINTABLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
_TOKENS = st.one_of(st.none(), st.just(""), st.text(_PRINTABLE, min_size=1))
_FIXTURE_OK = [HealthCheck.function_scoped_fixture]  # the clock is the same for every example


@settings(max_examples=400, deadline=None, suppress_health_check=_FIXTURE_OK)
@given(request=requests(), token=_TOKENS, region=st.sampled_from(["eu-west-1", "us-east-1"]))
def test_generated_requests_are_signed_as_botocore_signs_them(
    clock: Dict[str, float], request: Tuple[str, str, Dict[str, str]], token: Any, region: str
) -> None:
    method, target, headers = request
    creds = Credentials("AKIDEXAMPLE", SECRET, token)
    ours = our_way(signer_for(creds, clock, region), method, target, dict(headers))
    assert ours == botocore_way(creds, method, target, dict(headers), region=region)
    names = [name for name, _ in ours]
    if token:
        assert dict(ours)["X-Amz-Security-Token"] == token
    assert names[-1] == "Authorization" and names.count("Authorization") == 1


@settings(max_examples=100, deadline=None, suppress_health_check=_FIXTURE_OK)
@given(request=requests(), body=st.binary(max_size=64))
def test_a_payload_hash_is_signed_as_botocore_signs_a_body(
    clock: Dict[str, float], request: Tuple[str, str, Dict[str, str]], body: bytes
) -> None:
    method, target, headers = request
    creds = Credentials("AKIDEXAMPLE", SECRET)
    ours = our_way(signer_for(creds, clock), method, target, dict(headers), body)
    assert ours == botocore_way(creds, method, target, dict(headers), body)
    assert dict(ours)["X-Amz-Content-SHA256"] == hashlib.sha256(body).hexdigest()


def test_a_known_request_and_what_is_signed(clock: Dict[str, float]) -> None:
    creds = Credentials("AKIDEXAMPLE", SECRET, "session-token")
    headers = {"host": HOST, "x-amz-meta-A": " a   b ", "X-Amz-Meta-a": "2", "User-Agent": "u"}
    ours = dict(our_way(signer_for(creds, clock), "PUT", "/bucket/a%20b?uploads", headers))
    assert ours == dict(botocore_way(creds, "PUT", "/bucket/a%20b?uploads", headers))
    auth = ours["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/eu-west-1/s3/")
    signed = "host;x-amz-content-sha256;x-amz-date;x-amz-meta-a;x-amz-security-token"
    assert f"SignedHeaders={signed}, Signature=" in auth
    assert ours["X-Amz-Date"] == "20261124T235958Z"
    assert ours["X-Amz-Content-SHA256"] == UNSIGNED_PAYLOAD
    assert "user-agent" not in auth


def test_the_kept_key_follows_the_day_and_the_secret(clock: Dict[str, float]) -> None:
    creds = Credentials("AKID", "first-secret")
    signer = signer_for(creds, clock)
    target, headers = "/bucket/dir/key.bin", {"host": HOST, "x-amz-checksum-mode": "ENABLED"}
    for step in range(4):
        if step == 1:
            clock["epoch"] += 5  # the next day (UTC)
        if step == 2:
            creds.secret_key = "rotated-secret"  # refreshed credentials
        ours = our_way(signer, "GET", target, dict(headers))
        assert ours == botocore_way(creds, "GET", target, dict(headers))
        day = time.strftime("%Y%m%d", time.gmtime(clock["epoch"]))
        assert f"/{day}/eu-west-1/s3/aws4_request" in dict(ours)["Authorization"]


def test_credentials_are_read_once_a_request_and_never_mixed() -> None:
    sets = [Credentials("AKFIRST", "s1"), Credentials("AKSECOND", "s2", "tok2")]
    calls: List[int] = []

    def current() -> Any:
        calls.append(1)
        return sets[min(len(calls), 2) - 1]

    signer = Signer(current, "s3", "us-east-1")
    first = signer.sign("GET", "/b/k", "", {"host": HOST})
    second = signer.sign("GET", "/b/k", "", {"host": HOST})
    assert len(calls) == 2
    assert "Credential=AKFIRST/" in first["Authorization"] and "X-Amz-Security-Token" not in first
    assert "Credential=AKSECOND/" in second["Authorization"]
    assert second["X-Amz-Security-Token"] == "tok2"


def test_a_request_without_host_or_with_a_date_is_refused() -> None:
    signer = Signer(Credentials("AK", "SK"), "s3", "us-east-1")
    with pytest.raises(ValueError, match="host"):
        signer.sign("GET", "/b/k", "", {"x-amz-meta-a": "1"})
    with pytest.raises(ValueError, match="Date"):
        signer.sign("GET", "/b/k", "", {"host": HOST, "Date": "Tue, 24 Nov 2026 23:59:58 GMT"})


def test_the_canonical_query_sorts_pairs_as_sent() -> None:
    assert canonical_query("") == ""
    assert canonical_query("uploads") == "uploads="
    assert canonical_query("prefix=a%2Fb&list-type=2&a=2&a=1") == "a=1&a=2&list-type=2&prefix=a%2Fb"


@settings(max_examples=300, deadline=None)
@given(
    key=st.text(_KEY_CHARS, min_size=1, max_size=40) | st.sampled_from(KEYS),
    bucket=st.sampled_from(["bucket", "my.dotted.bucket", "b-1_x"]),
    base=st.sampled_from(
        ["http://127.0.0.1:9000", "https://S3.Example.com", "http://[::1]:8333/", "http://h:1/s3/"]
    ),
    path_style=st.booleans(),
)
def test_a_place_gives_what_urlsplit_makes_of_the_url(
    key: str, bucket: str, base: str, path_style: bool
) -> None:
    from urllib.parse import urlsplit

    endpoint = Endpoint(base, "us-east-1", path_style)
    place = endpoint.place(bucket)
    of_key, of_bucket = urlsplit(endpoint.url(bucket, key)), urlsplit(endpoint.bucket_url(bucket))
    assert (place.host, place.port) == (of_key.hostname, of_key.port)
    assert place.target(key) == of_key.path
    assert place.target(None) == of_bucket.path


def test_the_unsigned_headers_are_botocores() -> None:
    assert UNSIGNED_HEADERS == frozenset(SIGNED_HEADERS_BLACKLIST)


def test_the_fast_path_signs_without_importing_botocores_signer() -> None:
    """``botocore.auth`` pulls in urllib3 and awscrt: a fresh engine's start pays for them."""
    code = "import sys, s3op.fastsend; print('botocore.auth' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
