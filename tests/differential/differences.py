"""The deliberate differences between ``s3client.S3`` and ``metaflow.S3``, as data.

The differential suite compares every case strictly. The one way out is an
entry here: where it ``applies`` to a case, the suite checks that it
``holds`` (metaflow does what ``description`` says and s3client what
``s3client_does`` says) and then drops the case's mismatches: all of them,
or with ``attribute`` set only those of that S3Object attribute. An entry
that applies but does not hold is itself reported as a difference. Nothing
else is skipped.

What a predicate sees: a :class:`~tests.differential.harness.Case` with
``method`` (the label up to its ``(``: ``"get"``, ``"get_many"``..., and
``"S3"`` for a constructor), ``label``, ``mode`` (``"s3root"``, ``"urls"``,
``"run"``, ``"run+bucket"``, ``"run+prefix"``, ``"run+bucket+prefix"``, with
``"+encryption"`` when set), ``facts`` and both outcomes, ``metaflow`` and
``s3client`` (``.value`` or ``.error``, and ``.bucket``: what the bucket
held after that side's call, when the test snapshots it). The facts in use:

- from ``Pair.call``: its keyword arguments (``return_missing``,
  ``return_info``, ``metadata``...), ``prefixes`` (a listing: the URLs
  listed, as metaflow resolves the keys) and ``url`` (get, info, put of one
  key); from ``Differential.construct``: the constructor's arguments;
- given by the tests: ``bucket="missing"``; ``ranges`` (the (offset, length)
  forms of a ranged get, in order) with ``body`` (the object's contents);
  ``value`` (the kind of value put); ``put_object`` (the fields of the
  call's S3PutObjects, besides the key); ``uploads`` (bucket key -> the
  contents s3client stores); ``same_key_twice`` (a bucket key a batch names
  twice); ``client_params`` (``"after a single-key call"``).

The predicates are in ``predicates.py``. The README table "Where s3client
differs from metaflow.S3, and why" is made from these entries (``table.py``)::

    .venv/bin/python -m tests.differential.table > /tmp/differences_table.md
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional

from metaflow.plugins.datatools.s3.s3 import MetaflowS3InvalidObject

from tests.differential.harness import Case, Mismatch, compare
from tests.differential.predicates import (
    both_lists,
    downloads_siblings,
    empty_object_returned,
    encrypts_per_object,
    inside_directories,
    json_size,
    key_of,
    listing_times,
    lists_the_buckets,
    names_bare_bucket,
    objects,
    offset_to_the_end,
    only_metaflow_stored,
    only_s3client_stored,
    put_object_fields,
    puts_directory_key,
    raised,
    range_from_start_of_empty,
    reads_to_the_end,
    some_missing,
    stores_put_object_fields,
)

Predicate = Callable[[Case], bool]


@dataclass(frozen=True)
class Difference:
    """One deliberate difference and where it applies."""

    id: str
    what: str  # the calls concerned, in a few words
    description: str  # what metaflow does
    s3client_does: str  # what s3client does instead
    why: str  # why s3client differs, in one line
    applies: Predicate  # the cases it covers
    holds: Predicate  # both clients behave as described, in this case
    attribute: Optional[str] = None  # covers only this attribute's mismatches; None: all


DIFFERENCES: List[Difference] = [
    Difference(
        id="missing-bucket",
        what=(
            "get, get_many, info, info_many with return_missing=True, "
            "in a bucket that does not exist"
        ),
        description="Returns S3Objects with exists == False, as for a missing key.",
        s3client_does="Raises S3BucketNotFound (a subclass of S3NotFound).",
        why=(
            "A missing bucket is a mistake in the URL, not an absent key; "
            "return_missing must not hide it."
        ),
        applies=lambda c: (
            c.facts.get("bucket") == "missing" and c.facts.get("return_missing") is True
        ),
        holds=lambda c: (
            c.metaflow.error is None
            and some_missing(c.metaflow.value)
            and raised(c, "S3BucketNotFound")
        ),
    ),
    Difference(
        id="listing-last-modified",
        what="last_modified of the objects list_paths and list_recursive return",
        description="last_modified is None.",
        s3client_does=(
            "last_modified is the object's time (a float). A prefix (exists == False) keeps None."
        ),
        why="A listing has it at no cost.",
        applies=lambda c: (
            c.method in ("list_paths", "list_recursive")
            and both_lists(c)
            and any(o.exists for o in c.s3client.value)
        ),
        holds=listing_times,
        attribute="last_modified",
    ),
    Difference(
        id="prefix-is-a-directory",
        what="get_recursive and get_all: which objects a key matches",
        description=(
            'Matches the raw string prefix, so "s/b" also downloads siblings such as "s/b-c" '
            'and "s/bb/2", and an object named exactly like the prefix ("same", or the root '
            "object itself with get_all on an object root)."
        ),
        s3client_does='Treats each key as a directory: "s/b" means "s/b/".',
        why=(
            "list_recursive already means a directory in metaflow; "
            "downloading siblings is a silent surprise."
        ),
        applies=downloads_siblings,
        holds=lambda c: not compare(inside_directories(c), c.s3client.value),
    ),
    Difference(
        id="bucket-url-without-slash",
        what=(
            'Full-URL mode: a bucket URL without a trailing "/" '
            '(list_paths(["s3://B"]), get_recursive(["s3://B"]))'
        ),
        description="Raises MetaflowS3URLException.",
        s3client_does="Lists or gets the bucket root, as for s3://B/.",
        why="It is a valid prefix.",
        applies=names_bare_bucket,
        holds=lists_the_buckets,
    ),
    Difference(
        id="range-to-the-end",
        what="S3GetObject(key, offset, length) with an offset and a negative length",
        description=(
            "Ignores the offset and fetches the last -length bytes: (0, -1) and (100, -1) "
            "both give the last byte, also for a negative offset or one past the end."
        ),
        s3client_does=(
            "Reads from the offset to the end: (0, -1) is the whole object, (k, -1) is "
            "from byte k to the end. An offset past the end or a negative offset raises "
            "S3InvalidRange."
        ),
        why='The documented API: a negative length means "from offset to end".',
        applies=offset_to_the_end,
        holds=reads_to_the_end,
    ),
    Difference(
        id="range-on-empty-object",
        what="A range that starts at 0 (or has no offset) on a 0-byte object",
        description=(
            "The server answers 416: get raises MetaflowS3InvalidRange, get_many raises "
            "MetaflowS3Exception."
        ),
        s3client_does="Returns the empty object.",
        why="An empty object has no bytes to refuse.",
        applies=range_from_start_of_empty,
        holds=empty_object_returned,
    ),
    Difference(
        id="put-key-ending-in-slash",
        what='put of a key ending in "/"',
        description="Writes the object.",
        s3client_does="Raises S3URLError before anything is sent.",
        why="Many S3-compatible stores drop such an object's data.",
        applies=puts_directory_key,
        holds=lambda c: (
            c.metaflow.value == c.facts["url"]
            and raised(c, "S3URLError")
            and only_metaflow_stored(c, key_of(c.facts["url"]))
        ),
    ),
    Difference(
        id="more-value-types",
        what="put and put_many of a bytearray, memoryview, io.StringIO or text-mode file",
        description="Raises MetaflowS3InvalidObject.",
        s3client_does="Uploads them (text as UTF-8).",
        why="They are data.",
        applies=lambda c: (
            c.method in ("put", "put_many")
            and c.facts.get("value") in ("bytearray", "memoryview", "StringIO", "text file")
        ),
        holds=lambda c: (
            isinstance(c.metaflow.error, MetaflowS3InvalidObject)
            and c.s3client.error is None
            and only_s3client_stored(c)
        ),
    ),
    Difference(
        id="metadata-over-2kb",
        what="put with metadata over 2 KB as JSON",
        description="Sends it (S3 on AWS would reject it).",
        s3client_does="Raises S3InvalidMetadata before anything is sent.",
        why=(
            "AWS S3 allows 2 KB of user metadata; failing early gives the same error "
            "on every store."
        ),
        applies=lambda c: c.method == "put" and json_size(c.facts.get("metadata")) > 2048,
        holds=lambda c: (
            c.metaflow.value == c.facts["url"]
            and raised(c, "S3InvalidMetadata")
            and only_metaflow_stored(c, key_of(c.facts["url"]))
        ),
    ),
    Difference(
        id="put-object-fields-in-put",
        what="put(S3PutObject(key, content_type=..., metadata=...), value)",
        description="Ignores the S3PutObject's content_type and metadata.",
        s3client_does="Applies them.",
        why="The caller set them; dropping them silently loses data.",
        applies=lambda c: put_object_fields(c, ("put",), "content_type", "metadata"),
        holds=stores_put_object_fields,
    ),
    Difference(
        id="put-many-same-key-twice",
        what="put_many with the same key twice",
        description="Uploads both; which one is stored is a race.",
        s3client_does="Raises S3InvalidObject and uploads nothing.",
        why="The stored value would be a race; the batch is a mistake.",
        applies=lambda c: c.method == "put_many" and bool(c.facts.get("same_key_twice")),
        holds=lambda c: (
            c.metaflow.error is None
            and raised(c, "S3InvalidObject")
            and only_metaflow_stored(c, c.facts["same_key_twice"])
        ),
    ),
    Difference(
        id="put-files-with-value",
        what="put_files with S3PutObject(key, value=...)",
        description="Raises TypeError.",
        s3client_does="Uploads the value.",
        why="An S3PutObject is one upload, whichever batch method gets it.",
        applies=lambda c: put_object_fields(c, ("put_files",), "value"),
        holds=lambda c: (
            isinstance(c.metaflow.error, TypeError)
            and c.s3client.error is None
            and only_s3client_stored(c)
        ),
    ),
    Difference(
        id="put-many-with-path",
        what="put_many with S3PutObject(key, path=...)",
        description="Raises MetaflowS3InvalidObject.",
        s3client_does="Uploads the file.",
        why="An S3PutObject is one upload, whichever batch method gets it.",
        applies=lambda c: put_object_fields(c, ("put_many",), "path"),
        holds=lambda c: (
            isinstance(c.metaflow.error, MetaflowS3InvalidObject)
            and c.s3client.error is None
            and only_s3client_stored(c)
        ),
    ),
    Difference(
        id="per-object-encryption",
        what="S3PutObject(encryption=...) in put_many and put_files",
        description="Ignores it.",
        s3client_does="Applies it to that object.",
        why="The caller set it; storing the object unencrypted is a silent surprise.",
        applies=lambda c: put_object_fields(c, ("put_many", "put_files"), "encryption"),
        holds=encrypts_per_object,
    ),
    Difference(
        id="run-as-pathspec",
        what='S3(run="Flow/RunId"), a string',
        description="Raises AttributeError.",
        s3client_does="Accepts it.",
        why="A pathspec names a run as well as a Run object does.",
        applies=lambda c: c.method == "S3" and isinstance(c.facts.get("run"), str),
        holds=lambda c: isinstance(c.metaflow.error, AttributeError) and c.s3client.error is None,
    ),
    Difference(
        id="client-params-reused",
        what="client_params, then a batch call after a single-key call",
        description=(
            "The batch call raises TypeError (Object of type Config is not JSON serializable): "
            "the single-key call stored a botocore Config in the caller's client_params dict."
        ),
        s3client_does="The batch call works.",
        why="A client must not break on its own arguments.",
        applies=lambda c: c.facts.get("client_params") == "after a single-key call",
        holds=lambda c: (
            isinstance(c.metaflow.error, TypeError)
            and "Config" in str(c.metaflow.error)
            and c.s3client.error is None
            and [o.blob for o in objects(c.s3client.value)] == [c.facts["body"]]
        ),
    ),
    Difference(
        id="after-close",
        what="Any call on a client after close()",
        description=(
            "get, info, put, put_many, list_paths and list_recursive still work; get "
            "writes its file to the system temp directory, which nothing removes. "
            "get_many, get_recursive and info_many raise TypeError."
        ),
        s3client_does='Raises S3Error ("this S3 client is closed") and sends nothing.',
        why="A closed client has no temp directory to clean up after; one named error beats "
        "half the calls working and leaking files.",
        applies=lambda c: c.facts.get("closed") is True,
        holds=lambda c: (
            raised(c, "S3Error")
            and "closed" in str(c.s3client.error)
            and (
                c.metaflow.error is None
                if c.method not in ("get_many", "get_recursive", "info_many")
                else isinstance(c.metaflow.error, TypeError)
            )
        ),
    ),
]


def applying(case: Case) -> List[str]:
    """The ids of the documented differences that apply to ``case``."""
    return [d.id for d in DIFFERENCES if d.applies(case)]


def settle(case: Case) -> List[Mismatch]:
    """The mismatches of ``case`` that no documented difference covers.

    A documented difference that applies to the case but does not hold is
    added as a mismatch of its own (where ``"documented"``).
    """
    left = list(case.mismatches)
    broken: List[Mismatch] = []
    for difference in DIFFERENCES:
        if not difference.applies(case):
            continue
        if not difference.holds(case):
            broken.append(not_holding(case, difference))
        elif difference.attribute is None:
            left = []
        else:
            left = [m for m in left if m.attribute != difference.attribute]
    return left + broken


def not_holding(case: Case, difference: Difference) -> Mismatch:
    """The mismatch reporting that ``difference`` applies to ``case`` but does not hold."""
    return Mismatch(
        "documented",
        difference.id,
        f"{case.metaflow.show()}; documented: {difference.description}",
        f"{case.s3client.show()}; documented: {difference.s3client_does}",
    )
