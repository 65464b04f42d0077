"""s3op.protocol: the wire contract (requests, results, URLs, ranges, exit codes, metadata)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from s3op.manifest import read_manifest
from s3op.protocol import (
    MAX_KEY_BYTES,
    METADATA_HEADER,
    ByteRange,
    Error,
    ErrorKind,
    ExitCode,
    GetRequest,
    InfoRequest,
    ListRequest,
    ProtocolError,
    PutRequest,
    RangeServed,
    Result,
    decode_metadata,
    encode_metadata,
    exit_code_for,
    exit_code_of,
    parse_range,
    parse_url,
    request_to_json,
    worst_exit,
)

# ------------------------------------------------------------------ requests

REQUESTS = [
    ("get", GetRequest(idx=7, url="s3://b/k")),
    ("get", GetRequest(idx=0, url="s3://b/a b#?%ü", range="bytes=-5", local="/tmp/x y")),
    ("put", PutRequest(idx=3, url="s3://b/k", local="/data/f")),
    (
        "put",
        PutRequest(
            idx=4,
            url="s3://b/k2",
            local="/data/ü",
            content_type="text/plain",
            metadata={"a": [1, {"b": None}], "ü": "é", "n": 1.5, "t": True},
            encryption="AES256",
        ),
    ),
    ("info", InfoRequest(idx=12, url="s3://b/k")),
    ("list", ListRequest(idx=1, url="s3://b/prefix/")),
]


@pytest.mark.parametrize("op,req", REQUESTS, ids=lambda v: v if isinstance(v, str) else "")
def test_request_round_trips_through_a_manifest_line(op: str, req: object) -> None:
    line = request_to_json(req)  # type: ignore[arg-type]
    assert "\n" not in line
    assert read_manifest(op, [line]) == [req]


def test_request_json_leaves_out_none_fields() -> None:
    body = json.loads(request_to_json(GetRequest(idx=2, url="s3://b/k")))
    assert body == {"idx": 2, "url": "s3://b/k"}


def test_idx_defaults_to_the_zero_based_line_number_and_blank_lines_count() -> None:
    lines = [
        '{"url": "s3://b/0"}',
        "",
        "   ",
        '{"url": "s3://b/3"}',
        '{"url": "s3://b/x", "idx": 99}',
    ]
    reqs = read_manifest("info", lines)
    assert [(r.idx, r.url) for r in reqs] == [(0, "s3://b/0"), (3, "s3://b/3"), (99, "s3://b/x")]


# ------------------------------------------------------------- manifest errors


@pytest.mark.parametrize(
    "op,bad,why",
    [
        ("get", '{"url": "s3://b/k",', "not valid JSON"),
        ("get", '{"url": "s3://b/k", "colour": "red"}', "unknown field"),
        ("put", '{"url": "s3://b/k", "local": "/f", "range": "bytes=0-1"}', "unknown field"),
        ("get", '{"range": "bytes=0-1"}', "url"),
        ("put", '{"url": "s3://b/k"}', "local"),
        ("info", '{"url": 5}', "url must be a string"),
        ("get", '{"url": "s3://b/k", "range": 5}', "range must be a string"),
        ("put", '{"url": "s3://b/k", "local": ["/f"]}', "local must be a string"),
        ("put", '{"url": "s3://b/k", "local": "/f", "metadata": [1]}', "metadata"),
        ("put", '{"url": "s3://b/k", "local": "/f", "content_type": 1}', "content_type"),
        ("info", '{"url": "s3://b/k", "idx": "3"}', "idx must be an integer"),
        ("info", '{"url": "s3://b/k", "idx": true}', "idx must be an integer"),
        ("info", '{"url": "s3://b/k", "idx": 1.0}', "idx must be an integer"),
        ("list", '["s3://b/k"]', "expected a JSON object"),
        ("list", '"s3://b/k"', "expected a JSON object"),
        ("list", "null", "expected a JSON object"),
    ],
)
def test_a_bad_manifest_line_is_refused_naming_its_line(op: str, bad: str, why: str) -> None:
    lines = ['{"url": "s3://b/ok0"}' if op != "put" else '{"url": "s3://b/0", "local": "/f"}']
    lines += ["", bad, '{"url": "s3://b/never-reached"}']
    with pytest.raises(ProtocolError) as info:
        read_manifest(op, lines)
    # line_no counts as ``idx`` does (from 0, blank lines included);
    # the message counts from 1, as an editor does.
    assert info.value.line_no == 2
    assert "line 3" in str(info.value)
    assert why in str(info.value)


@pytest.mark.parametrize(
    "op,line",
    [
        ("put", '{"url": "s3://b/k", "local": null}'),
        ("put", '{"url": null, "local": "/f"}'),
        ("info", '{"url": null}'),
        ("get", '{"url": null}'),
    ],
)
def test_null_in_a_required_field_is_a_manifest_error(op: str, line: str) -> None:
    with pytest.raises(ProtocolError):
        read_manifest(op, [line])


# ------------------------------------------------------------------- results


def test_result_round_trips_with_every_field() -> None:
    res = Result(
        idx=3,
        url="s3://b/ü k",
        local="/d/ü k",
        size=10,
        content_type="text/plain",
        metadata={"a": [1, {"b": None}]},
        encryption="AES256",
        last_modified=1_700_000_000,
        range=RangeServed(start=2, end=5, total=10),
        etag='"abc"',
        attempts=2,
    )
    line = res.to_json()
    assert "\n" not in line
    assert Result.from_json(line) == res
    assert json.loads(line)["range"] == {"start": 2, "end": 5, "total": 10}


def test_failure_round_trips_and_carries_the_kind_as_a_string() -> None:
    res = Result.failure(4, "s3://b/k", ErrorKind.NOT_FOUND, "NoSuchKey: gone", attempts=1)
    body = json.loads(res.to_json())
    assert body == {
        "idx": 4,
        "url": "s3://b/k",
        "ok": False,
        "attempts": 1,
        "error": {"kind": "not_found", "message": "NoSuchKey: gone"},
    }
    back = Result.from_json(res.to_json())
    assert back == res
    assert back.error == Error(ErrorKind.NOT_FOUND, "NoSuchKey: gone")


def test_a_parsed_result_is_a_constructed_one() -> None:
    res = Result(idx=3, url="s3://b/k", size=5, etag='"e"', attempts=1)
    back = Result.from_json(res.to_json())
    assert back == res and back.__dict__ == res.__dict__
    assert list(back.__dict__) == list(res.__dict__)  # the same line when written again
    assert back.to_json() == res.to_json()
    with pytest.raises(dataclasses.FrozenInstanceError):
        back.size = 6  # type: ignore[misc]


@pytest.mark.parametrize(
    "line",
    [
        '{"idx": 1, "url": "s3://b/k", "sise": 3}',  # unknown field
        '{"url": "s3://b/k"}',  # no idx
        '{"idx": 1}',  # no url
        '[1, "s3://b/k"]',  # not an object
        '{"idx": 1, "url": "s3://b/k", "error": {"kind": "bogus", "message": ""}}',
        '{"idx": 1, "url": "s3://b/k", "range": {"start": 1}}',
        '{"idx": 1, "url": ',
    ],
)
def test_a_line_that_is_not_a_result_is_refused(line: str) -> None:
    with pytest.raises((ValueError, TypeError, KeyError)):
        Result.from_json(line)


LINE = '{"idx":1,"url":"s3://b/k","ok":true,"size":3}'


@pytest.mark.parametrize(
    "line",
    [LINE, LINE + "\n", LINE + "\r\n", " " + LINE, LINE + " \t\n", "\n" + LINE + "\n\n"],
)
def test_a_line_reads_as_json_loads_reads_it(line: str) -> None:
    """Lines in s3op's form go to the JSON scanner directly; others through json's
    decode; whitespace json allows around the object is allowed either way."""
    assert Result.from_json(line) == Result(idx=1, url="s3://b/k", size=3)


@pytest.mark.parametrize(
    "line", [LINE + "x", LINE + "\x0b", LINE + "\n{}", LINE + LINE, "{", "{}}", '{"idx":1,'],
)  # fmt: skip
def test_what_json_loads_refuses_is_refused(line: str) -> None:
    with pytest.raises(ValueError):
        json.loads(line)
    with pytest.raises(ValueError):
        Result.from_json(line)


def test_prefix_and_skipped_results_round_trip() -> None:
    for res in (
        Result(idx=1, url="s3://b/p/", is_prefix=True),
        Result(idx=2, url="s3://b/k", skipped="exists"),
    ):
        assert Result.from_json(res.to_json()) == res


def test_result_json_leaves_out_none_fields() -> None:
    assert json.loads(Result(idx=0, url="s3://b/k").to_json()) == {
        "idx": 0,
        "url": "s3://b/k",
        "ok": True,
    }


# ---------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    "key",
    [
        "k",
        "dir/sub/file.txt",
        "a key with spaces",
        "hash#frag",
        "q?x=1&y=2",
        "pct%20%2F%zz",
        "ünïcødé/日本語/😀",
        "ctl\x01\x1f\x7f",
        "new\nline\ttab\r",
        " lead and trail ",
        "a//b/./../c/",
        "",
    ],
)
def test_parse_url_keeps_the_key_verbatim(key: str) -> None:
    loc = parse_url(f"s3://my-bucket/{key}")
    assert (loc.bucket, loc.key) == ("my-bucket", key)
    assert loc.url == f"s3://my-bucket/{key}"


def test_bucket_without_slash_is_the_bucket_root() -> None:
    assert parse_url("s3://my-bucket").key == ""


@pytest.mark.parametrize(
    "url",
    [
        "https://my-bucket/k",
        "s3a://my-bucket/k",
        "S3://my-bucket/k",
        "my-bucket/k",
        "/my-bucket/k",
        "s3:/my-bucket/k",
        "s3://",
        "s3:///k",
        "s3://a/k",
        "s3://-bucket/k",
        "s3://.bucket/k",
        "s3://buck et/k",
        "s3://bu*cket/k",
        "s3://" + "b" * 256 + "/k",
    ],
)
def test_parse_url_rejects_non_s3_urls_and_bad_buckets(url: str) -> None:
    with pytest.raises(ValueError):
        parse_url(url)


@pytest.mark.parametrize("non_string", [None, 3, b"s3://b/k"])
def test_parse_url_rejects_non_strings(non_string: object) -> None:
    with pytest.raises(ValueError):
        parse_url(non_string)  # type: ignore[arg-type]


def test_parse_url_rejects_a_newline_in_the_bucket() -> None:
    with pytest.raises(ValueError):
        parse_url("s3://my-bucket\n/k")


def test_parse_url_rejects_a_two_character_bucket() -> None:
    with pytest.raises(ValueError):
        parse_url("s3://ab/k")


def test_parse_url_rejects_a_key_that_is_not_valid_unicode() -> None:
    with pytest.raises(ValueError):
        parse_url("s3://bk1/a\udc80b")


def test_key_length_limit_is_1024_utf8_bytes() -> None:
    assert len(parse_url("s3://bk1/" + "k" * MAX_KEY_BYTES).key) == 1024
    assert parse_url("s3://bk1/" + "é" * 512).key == "é" * 512  # 1024 bytes, 512 chars
    with pytest.raises(ValueError):
        parse_url("s3://bk1/" + "k" * (MAX_KEY_BYTES + 1))
    with pytest.raises(ValueError):
        parse_url("s3://bk1/" + "é" * 512 + "k")  # 513 chars, 1025 bytes


# -------------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    "text,rng,header",
    [
        ("bytes=0-0", ByteRange(start=0, end=0), "bytes=0-0"),
        ("bytes=0-99", ByteRange(start=0, end=99), "bytes=0-99"),
        ("bytes=5-5", ByteRange(start=5, end=5), "bytes=5-5"),
        ("bytes=100-", ByteRange(start=100), "bytes=100-"),
        ("bytes=0-", ByteRange(start=0), "bytes=0-"),
        ("bytes=-1", ByteRange(suffix=1), "bytes=-1"),
        ("bytes=-500", ByteRange(suffix=500), "bytes=-500"),
        (" bytes=1-2 ", ByteRange(start=1, end=2), "bytes=1-2"),
    ],
)
def test_parse_range_forms(text: str, rng: ByteRange, header: str) -> None:
    assert parse_range(text) == rng
    assert parse_range(text).header() == header


@pytest.mark.parametrize(
    "text",
    [
        "bytes=5-4",  # inverted
        "bytes=-0",  # empty suffix
        "bytes=-",
        "bytes=",
        "bytes=a-b",
        "bytes=1-2-3",
        "bytes=0-1,5-6",  # several ranges
        "bytes=--1",
        "bytes=-1-",
        "bytes 0-1",
        "0-1",
        "items=0-1",
        "",
    ],
)
def test_parse_range_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_range(text)


def test_parse_range_refuses_non_strings() -> None:
    with pytest.raises(ValueError):
        parse_range(None)  # type: ignore[arg-type]


# ----------------------------------------------------------------- exit codes


def _fail(kind: ErrorKind) -> Result:
    return Result.failure(0, "s3://b/k", kind, "x")


OK = Result(idx=0, url="s3://b/k")


@pytest.mark.parametrize(
    "kinds,expected",
    [
        ([], ExitCode.OK),
        ([None], ExitCode.OK),
        ([ErrorKind.NOT_FOUND], ExitCode.FAILED),
        ([ErrorKind.ACCESS_DENIED, None], ExitCode.FAILED),
        ([ErrorKind.INTERNAL], ExitCode.FAILED),
        ([ErrorKind.TRANSIENT], ExitCode.TRANSIENT),
        ([ErrorKind.CORRUPT], ExitCode.TRANSIENT),
        ([ErrorKind.WORKER_DIED], ExitCode.TRANSIENT),
        ([ErrorKind.NOT_FOUND, ErrorKind.TRANSIENT, ErrorKind.NOT_FOUND], ExitCode.TRANSIENT),
        ([ErrorKind.TRANSIENT, ErrorKind.NOT_FOUND], ExitCode.TRANSIENT),
        ([ErrorKind.OUT_OF_DISK], ExitCode.OUT_OF_DISK),
        ([ErrorKind.OUT_OF_DISK, ErrorKind.TRANSIENT, None], ExitCode.OUT_OF_DISK),
        (
            [ErrorKind.TRANSIENT, ErrorKind.OUT_OF_DISK, ErrorKind.ACCESS_DENIED],
            ExitCode.OUT_OF_DISK,
        ),
    ],
)
def test_exit_code_for_takes_the_most_severe(kinds: list, expected: ExitCode) -> None:
    results = [OK if k is None else _fail(k) for k in kinds]
    assert exit_code_for(results) is expected
    assert exit_code_for(reversed(results)) is expected


def test_allow_missing_forgives_not_found_only() -> None:
    assert exit_code_for([_fail(ErrorKind.NOT_FOUND), OK], allow_missing=True) is ExitCode.OK
    mixed = [_fail(ErrorKind.NOT_FOUND), _fail(ErrorKind.ACCESS_DENIED)]
    assert exit_code_for(mixed, allow_missing=True) is ExitCode.FAILED
    assert exit_code_of(_fail(ErrorKind.TRANSIENT), allow_missing=True) is ExitCode.TRANSIENT


def test_worst_exit_is_symmetric() -> None:
    codes = [ExitCode.OK, ExitCode.FAILED, ExitCode.TRANSIENT, ExitCode.OUT_OF_DISK]
    for i, a in enumerate(codes):
        for j, b in enumerate(codes):
            assert worst_exit(a, b) is codes[max(i, j)]


def test_worst_exit_accepts_every_exit_code() -> None:
    assert worst_exit(ExitCode.INTERRUPTED, ExitCode.FAILED) is ExitCode.INTERRUPTED
    assert worst_exit(ExitCode.OK, ExitCode.USAGE) is ExitCode.USAGE


# ------------------------------------------------------------------ metadata


@pytest.mark.parametrize(
    "metadata",
    [
        {"a": 1},
        {"nested": {"list": [1, 2.5, None, True, {"deep": ["x"]}]}, "s": "ü 日本 \n"},
        {"UPPER": "Case", "empty": "", "zero": 0},
    ],
)
def test_metadata_round_trips_through_one_ascii_header(metadata: dict) -> None:
    raw = encode_metadata(metadata)
    assert list(raw) == [METADATA_HEADER]
    assert raw[METADATA_HEADER].isascii()
    assert decode_metadata(raw) == metadata


def test_no_metadata_means_no_header() -> None:
    assert encode_metadata(None) == {}
    assert encode_metadata({}) == {}
    assert decode_metadata(None) is None
    assert decode_metadata({}) is None


@pytest.mark.parametrize(
    "metadata",
    [
        {"s": {1, 2}},
        {"b": b"bytes"},
        {"o": object()},
        {"nan": float("nan")},
        {"inf": float("inf")},
    ],
)
def test_metadata_that_is_not_json_is_refused(metadata: dict) -> None:
    with pytest.raises(ValueError, match="JSON"):
        encode_metadata(metadata)


def test_metadata_over_two_kilobytes_is_refused() -> None:
    with pytest.raises(ValueError):
        encode_metadata({"k": "x" * 2048})
    # Non-ASCII text is escaped, so its size as sent is what counts.
    with pytest.raises(ValueError):
        encode_metadata({"k": "ü" * 400})  # 400 chars, 2400 bytes as \u00fc escapes
    encode_metadata({"k": "x" * 1900})  # well under: accepted


def test_foreign_metadata_passes_through_raw() -> None:
    raw = {"owner": "someone", "x-custom": "{not json"}
    assert decode_metadata(raw) == raw
    assert decode_metadata({METADATA_HEADER: "{broken"}) == {METADATA_HEADER: "{broken"}
    assert decode_metadata({METADATA_HEADER: "[1, 2]"}) == {METADATA_HEADER: "[1, 2]"}
