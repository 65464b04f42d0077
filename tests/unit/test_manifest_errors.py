"""Manifest errors name the line and the field; per-command help documents the fields.

``s3op.manifest`` is pure logic: these tests feed it lines and check the
ProtocolError it raises (or the requests it builds). The CLI's side of the
same errors (exit 2, nothing sent) is in tests/functional/test_cli_messages.py.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import List

import pytest

import s3op
from s3op import __main__ as s3op_main
from s3op.cli_batch import put_from_pair
from s3op.cli_help import EXAMPLES, manifest_help
from s3op.manifest import read_manifest, request_from_dict, url_problem
from s3op.protocol import (
    REQUEST_TYPES,
    ExitCode,
    GetRequest,
    ListRequest,
    ProtocolError,
    PutRequest,
)

REPO = Path(__file__).resolve().parents[2]
GOOD = {
    "get": '{"url": "s3://bucket/ok"}',
    "put": '{"url": "s3://bucket/ok", "local": "/f"}',
    "info": '{"url": "s3://bucket/ok"}',
    "list": '{"url": "s3://bucket/ok/"}',
}


def error_of(op: str, lines: List[str]) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        read_manifest(op, lines)
    return info.value


# ------------------------------------------------------------ line and field


K = '"url": "s3://bucket/k"'


@pytest.mark.parametrize(
    "op,bad,message",
    [
        ("get", '{"idx": 7}', "manifest line 3: missing field 'url'"),
        ("put", "{" + K + "}", "manifest line 3: missing field 'local'"),
        ("info", '{"url": 5}', "manifest line 3: url must be a string, not a number"),
        ("get", "{" + K + ', "range": []}', "line 3: range must be a string, not an array"),
        ("put", "{" + K + ', "local": true}', "line 3: local must be a string, not a boolean"),
        (
            "put",
            "{" + K + ', "local": "/f", "metadata": "x"}',
            "line 3: metadata must be a JSON object, not a string",
        ),
        ("info", "{" + K + ', "idx": "3"}', "line 3: idx must be an integer, not a string"),
        ("info", "{" + K + ', "idx": null}', "line 3: idx must not be null"),
        ("info", '{"url": null}', "line 3: url must not be null"),
        ("list", "[1, 2]", "line 3: expected a JSON object, not an array"),
    ],
)
def test_a_bad_line_is_named_by_line_and_field(op: str, bad: str, message: str) -> None:
    err = error_of(op, [GOOD[op], "", bad, GOOD[op]])
    assert message in str(err)
    assert err.line_no == 2  # 0-based, as idx defaults are


def test_a_missing_field_no_longer_leaks_the_constructor_error() -> None:
    err = error_of("get", ['{"range": "bytes=0-1"}'])
    assert str(err) == "manifest line 1: missing field 'url'"
    assert "__init__" not in str(err) and "positional" not in str(err)


def test_unknown_fields_are_each_named_with_what_the_op_takes() -> None:
    err = error_of("get", ['{"url": "s3://bucket/k", "colour": "red", "size": 1}'])
    assert "line 1: unknown fields 'colour', 'size'" in str(err)
    assert "(get takes: idx, url, range, local)" in str(err)
    err = error_of("put", ['{"url": "s3://bucket/k", "local": "/f", "range": "bytes=0-1"}'])
    assert "unknown field 'range'" in str(err)


def test_an_optional_field_given_as_null_is_left_out() -> None:
    reqs = read_manifest("get", ['{"url": "s3://bucket/k", "range": null, "local": null}'])
    assert reqs == [GetRequest(0, "s3://bucket/k")]


# ----------------------------------------------------------------------- URLs


@pytest.mark.parametrize("op", ["get", "put", "info", "list"])
@pytest.mark.parametrize("url", ["http://example.com/k", "/local/path", "s3:/bucket/k", ""])
def test_a_url_that_is_not_s3_is_a_manifest_error(op: str, url: str) -> None:
    body = {"url": url, "local": "/f"} if op == "put" else {"url": url}
    err = error_of(op, [GOOD[op], json.dumps(body)])
    assert "manifest line 2: field 'url' is not an s3:// URL" in str(err)
    assert err.line_no == 1


def test_only_the_scheme_is_checked_in_the_manifest() -> None:
    """Bucket names and empty keys are answered per request (invalid_url), not here."""
    reqs = read_manifest("info", ['{"url": "s3://Bad_Bucket!/k"}', '{"url": "s3://bucket/"}'])
    assert [r.url for r in reqs] == ["s3://Bad_Bucket!/k", "s3://bucket/"]


def test_a_put_url_ending_in_a_slash_is_refused() -> None:
    err = error_of("put", [GOOD["put"], '{"url": "s3://bucket/dir/", "local": "/f"}'])
    assert "manifest line 2: field 'url' ends in '/': a put must name an object" in str(err)
    assert "s3://bucket/dir/" in str(err)


@pytest.mark.parametrize("op", ["get", "info", "list"])
def test_other_ops_may_end_a_url_in_a_slash(op: str) -> None:
    assert url_problem(op, "s3://bucket/dir/") is None
    assert read_manifest(op, ['{"url": "s3://bucket/dir/"}'])[0].url == "s3://bucket/dir/"


@pytest.mark.parametrize(
    "local,url,want",
    [
        ("/data/a.csv", "s3://bucket/dir/", "s3://bucket/dir/a.csv"),
        ("a.csv", "s3://bucket/", "s3://bucket/a.csv"),
        ("/data/a.csv", "s3://bucket/dir/b.csv", "s3://bucket/dir/b.csv"),
        ("/data/a.csv", "s3://bucket", "s3://bucket"),  # no '/': an empty key, refused later
        ("/data/dir/", "s3://bucket/x/", "s3://bucket/x/"),  # no base name: still refused
    ],
)
def test_a_put_destination_ending_in_a_slash_gets_the_base_name(
    local: str, url: str, want: str
) -> None:
    assert put_from_pair(4, f"{local}\0{url}") == PutRequest(4, want, local)


# ------------------------------------------------------------------ duplicates


def test_an_idx_not_above_the_one_before_names_both_lines() -> None:
    """idx must ascend: a duplicate is found holding one line, not every idx seen."""
    lines = [
        '{"url": "s3://bucket/a"}',
        "",
        '{"url": "s3://bucket/c"}',
        '{"url": "s3://bucket/d", "idx": 0}',
    ]
    err = error_of("info", lines)
    assert "line 4: idx 0 is not above idx 2 on line 3 (idx must ascend)" in str(err)
    assert err.line_no == 3
    err = error_of("info", ['{"url": "s3://bucket/a", "idx": 7}', '{"url": "s3://bucket/b"}'])
    assert "line 2: idx 1 is not above idx 7 on line 1" in str(err)
    err = error_of("info", ['{"url": "s3://b/a"}', "", '{"url": "s3://b/c", "idx": 0}'])
    assert "duplicate idx 0 on lines 1 and 3" in str(err)


def test_an_explicit_idx_may_take_a_number_no_line_defaults_to() -> None:
    reqs = read_manifest(
        "list", ['{"url": "s3://bucket/a/"}', '{"url": "s3://bucket/b/", "idx": 5}']
    )
    assert reqs == [ListRequest(0, "s3://bucket/a/"), ListRequest(5, "s3://bucket/b/")]
    with pytest.raises(ProtocolError, match="line 2: idx 1 is not above idx 5 on line 1"):
        read_manifest("list", ['{"url": "s3://bucket/a/", "idx": 5}', '{"url": "s3://b/c/"}'])


def test_manifest_parser_names_both_lines_of_a_duplicate_idx() -> None:
    """The one manifest parser lives in s3op.manifest (s3op.protocol does not import
    it back: the two would import each other)."""
    lines = ['{"url": "s3://bucket/a"}', '{"url": "s3://bucket/b", "idx": 0}']
    with pytest.raises(ProtocolError, match="duplicate idx 0 on lines 1 and 2"):
        read_manifest("info", lines)
    with pytest.raises(ProtocolError, match="missing field 'url'"):
        request_from_dict("get", 0, {})


# ------------------------------------------------------------------------ help


@pytest.mark.parametrize("op", sorted(REQUEST_TYPES))
def test_help_documents_every_manifest_field_with_an_example(op: str) -> None:
    text = manifest_help(op)
    for f in dataclasses.fields(REQUEST_TYPES[op]):
        assert re.search(rf"^  {f.name} +(required|optional) ", text, re.M), f.name
    for name in ("src", "dst") if op == "sync" else ("url",):  # sync names its two sides
        assert re.search(rf"^  {name} +required ", text, re.M)
    assert re.search(r"^  idx +optional ", text, re.M)
    assert EXAMPLES[op] in text
    (req,) = read_manifest(op, [EXAMPLES[op]])  # the example is a valid line
    assert isinstance(req, REQUEST_TYPES[op])


# --------------------------------------------------------------------- version


def test_version_is_setup_py_version() -> None:
    setup = (REPO / "setup.py").read_text(encoding="utf-8")
    match = re.search(r'version="([^"]+)"', setup)
    assert match is not None
    assert s3op.__version__ == match.group(1)


def test_main_module_exits_130_as_the_protocol_says() -> None:
    assert s3op_main.INTERRUPTED == ExitCode.INTERRUPTED == 130
