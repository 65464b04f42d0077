"""The predicates of ``differences.DIFFERENCES``: what a case is about, and checks
that each client did what an entry says.

Each takes a :class:`~tests.differential.harness.Case` (see ``differences``
for its fields and the facts in use) and answers True or False.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterable, List, Optional, Sequence

from metaflow.plugins.datatools.s3.s3 import (
    MetaflowS3Exception,
    MetaflowS3InvalidRange,
    MetaflowS3URLException,
)

import s3client.errors
from tests.differential.harness import Case, compare

# ------------------------------------------------------------------- helpers


def objects(value: Any) -> List[Any]:
    """An S3Object or a list of them, as a list."""
    return value if isinstance(value, list) else [value]


def some_missing(value: Any) -> bool:
    """An S3Object, or a list of them, of which at least one does not exist."""
    return any(getattr(o, "exists", True) is False for o in objects(value))


def raised(case: Case, class_name: str) -> bool:
    """s3client raised ``s3client.errors.<class_name>`` (False while it is not defined)."""
    cls = getattr(s3client.errors, class_name, None)
    return isinstance(cls, type) and isinstance(case.s3client.error, cls)


def both_lists(case: Case) -> bool:
    """Both clients returned a list."""
    return isinstance(case.metaflow.value, list) and isinstance(case.s3client.value, list)


def mismatched_only(case: Case, attributes: Iterable[str]) -> bool:
    """Every mismatch of ``case`` is about one of ``attributes``."""
    return all(m.attribute in attributes for m in case.mismatches)


def key_of(url: Any) -> str:
    """The key of ``s3://bucket/key`` ("" for anything else)."""
    if not isinstance(url, str) or not url.startswith("s3://"):
        return ""
    return url[len("s3://") :].partition("/")[2]


def as_directory(prefix: str) -> str:
    """``prefix`` read as a directory: with exactly one trailing ``/``."""
    return prefix.rstrip("/") + "/"


# ---------------------------------------------------------------- the bucket


def changed_keys(case: Case) -> Optional[set]:
    """The bucket keys whose objects differ between the two sides (None: no snapshot)."""
    mf, ours = case.metaflow.bucket, case.s3client.bucket
    if mf is None or ours is None:
        return None
    return {k for k in mf.keys() | ours.keys() if mf.get(k) != ours.get(k)}


def only_metaflow_stored(case: Case, key: str) -> bool:
    """metaflow's bucket has ``key``, s3client's has not; they agree on every other key."""
    return changed_keys(case) == {key} and key not in case.s3client.bucket


def only_s3client_stored(case: Case) -> bool:
    """s3client stored ``facts["uploads"]`` (key -> contents), metaflow none of those
    keys; the buckets agree on every other key."""
    uploads: Dict[str, bytes] = case.facts["uploads"]
    ours = case.s3client.bucket or {}
    return changed_keys(case) == set(uploads) and all(
        key not in case.metaflow.bucket and key in ours and ours[key][0] == contents
        for key, contents in uploads.items()
    )


def user_metadata(stored: Any) -> Any:
    """The user metadata of a snapshot entry (body, content type, metadata, encryption)."""
    header = (stored[2] or {}).get("metaflow-user-attributes")
    return None if header is None else json.loads(header)


def json_size(metadata: Any) -> int:
    """Bytes of ``metadata`` as JSON (0 when it is not JSON-encodable)."""
    try:
        return len(json.dumps(metadata).encode())
    except (TypeError, ValueError):
        return 0


# ------------------------------------------------------ listings and prefixes


def listed_prefixes(case: Case) -> Optional[List[str]]:
    """The URLs a listing case lists (None when any is unknown)."""
    prefixes = case.facts.get("prefixes")
    if not prefixes or not all(isinstance(p, str) for p in prefixes):
        return None
    return prefixes


def by_prefix(results: Sequence[Any], prefixes: List[str]) -> Optional[List[List[Any]]]:
    """metaflow's result of a recursive get, split by the prefix each object came from.

    metaflow returns, prefix after prefix, every object whose URL starts with
    the prefix string. An object continues the current group while its URL
    starts with that prefix and is not in the group yet (the next group's first
    object, if it matched this prefix, would already be in this group). None
    when the objects do not split that way.
    """
    groups: List[List[Any]] = [[] for _ in prefixes]
    at = 0
    for obj in results:
        while at < len(prefixes) and (
            not obj.url.startswith(prefixes[at]) or obj.url in {o.url for o in groups[at]}
        ):
            at += 1
        if at == len(prefixes):
            return None
        groups[at].append(obj)
    return groups


def inside_directories(case: Case) -> Optional[List[Any]]:
    """metaflow's objects of a get_recursive/get_all case that lie inside their
    prefix read as a directory (None: the case is not one to read so)."""
    prefixes = listed_prefixes(case)
    if case.method not in ("get_recursive", "get_all") or not both_lists(case) or not prefixes:
        return None
    groups = by_prefix(case.metaflow.value, prefixes)
    if groups is None:
        return None
    return [
        obj
        for prefix, group in zip(prefixes, groups)
        for obj in group
        if obj.url.startswith(as_directory(prefix))
    ]


def downloads_siblings(case: Case) -> bool:
    """metaflow's get_recursive/get_all downloaded objects outside the directories."""
    inside = inside_directories(case)
    return inside is not None and len(inside) < len(case.metaflow.value)


def is_bucket_url(url: str) -> bool:
    """``s3://bucket``, without a trailing ``/``."""
    return re.fullmatch(r"s3://[^/]+", url) is not None


def names_bare_bucket(case: Case) -> bool:
    """A listing in full-URL mode of a bucket URL without a trailing ``/``."""
    prefixes = listed_prefixes(case) or []
    return (
        case.mode.startswith("urls")
        and case.method in ("list_paths", "list_recursive", "get_recursive")
        and any(is_bucket_url(p) for p in prefixes)
    )


def lists_the_buckets(case: Case) -> bool:
    """metaflow refused the bare bucket URL; s3client listed inside the buckets."""
    directories = [as_directory(p) for p in case.facts["prefixes"]]
    value = case.s3client.value
    return (
        isinstance(case.metaflow.error, MetaflowS3URLException)
        and isinstance(value, list)
        and len(value) > 0
        and all(any(o.url.startswith(d) for d in directories) for o in value)
    )


def listing_times(case: Case) -> bool:
    """metaflow's listed objects have no last_modified; s3client's objects a float."""
    return all(o.last_modified is None for o in case.metaflow.value) and all(
        isinstance(o.last_modified, float) if o.exists else o.last_modified is None
        for o in case.s3client.value
    )


# -------------------------------------------------------------------- ranges

#: The attributes a range changes.
RANGE_ATTRIBUTES = ("blob", "text", "size", "range_info")


def is_ranged(case: Case) -> bool:
    """A get or get_many with ranges of a known object."""
    return case.method in ("get", "get_many") and bool(case.facts.get("ranges"))


def offset_to_the_end(case: Case) -> bool:
    """Every range has an offset and a negative length, on a non-empty object."""
    return (
        is_ranged(case)
        and case.facts["body"] != b""
        and all(o is not None and n is not None and n < 0 for o, n in case.facts["ranges"])
    )


def reads_to_the_end(case: Case) -> bool:
    """metaflow read the last -length bytes; s3client from the offset to the end,
    or raised S3InvalidRange for an offset outside the object."""
    body, ranges = case.facts["body"], case.facts["ranges"]
    if case.metaflow.error is not None:
        return False
    if [o.blob for o in objects(case.metaflow.value)] != [body[n:] for _, n in ranges]:
        return False
    if not all(0 <= o < len(body) for o, _ in ranges):
        return raised(case, "S3InvalidRange")
    if case.s3client.error is not None:
        return False
    ours = objects(case.s3client.value)
    return (
        [o.blob for o in ours] == [body[o:] for o, _ in ranges]
        and all(
            o.range_info is None or o.range_info[1:] == (start, len(body) - start)
            for o, (start, _) in zip(ours, ranges)
        )
        and mismatched_only(case, RANGE_ATTRIBUTES)
    )


def range_from_start_of_empty(case: Case) -> bool:
    """Ranges that start at 0 (or at no offset) on the 0-byte object."""
    return (
        is_ranged(case)
        and case.facts["body"] == b""
        and all(
            (o, n) != (None, None) and o in (None, 0) and n != 0 for o, n in case.facts["ranges"]
        )
    )


def empty_object_returned(case: Case) -> bool:
    """metaflow raised (get: MetaflowS3InvalidRange, get_many: MetaflowS3Exception);
    s3client returned the empty object."""
    error = case.metaflow.error
    refused = (
        isinstance(error, MetaflowS3InvalidRange)
        if case.method == "get"
        else type(error) is MetaflowS3Exception
    )
    value = case.s3client.value
    return (
        refused
        and case.s3client.error is None
        and all(o.exists and o.blob == b"" for o in objects(value))
    )


# -------------------------------------------------------------------- writes


def puts_directory_key(case: Case) -> bool:
    """put of one key that ends in ``/`` (not the bucket root)."""
    key = key_of(case.facts.get("url"))
    return case.method == "put" and key.endswith("/")


def put_object_fields(case: Case, method: Iterable[str], *fields: str) -> bool:
    """A ``method`` call whose S3PutObjects set one of ``fields``."""
    given = case.facts.get("put_object") or {}
    return case.method in method and any(f in given for f in fields)


def stores_put_object_fields(case: Case) -> bool:
    """put stored the S3PutObject's content type and metadata (s3client) or not (metaflow)."""
    fields = case.facts["put_object"]
    (key,) = case.facts["uploads"]
    if case.metaflow.error or case.s3client.error or case.metaflow.value != case.s3client.value:
        return False
    if changed_keys(case) != {key}:
        return False
    mf, ours = case.metaflow.bucket[key], case.s3client.bucket[key]
    content_type, metadata = fields.get("content_type"), fields.get("metadata")
    return (
        mf[0] == ours[0] == case.facts["uploads"][key]
        and (content_type is None or mf[1] != content_type == ours[1])
        and (metadata is None or user_metadata(mf) is None and user_metadata(ours) == metadata)
    )


def encrypts_per_object(case: Case) -> bool:
    """The same results and objects, but for the encryption of some: none in
    metaflow's bucket, the S3PutObject's in s3client's."""
    wanted = case.facts["put_object"]["encryption"]
    changed = changed_keys(case)
    if not changed or case.metaflow.error or compare(case.metaflow.value, case.s3client.value):
        return False
    mf, ours = case.metaflow.bucket, case.s3client.bucket
    return all(
        k in mf
        and k in ours
        and mf[k][:3] == ours[k][:3]
        and mf[k][3] is None
        and ours[k][3] == wanted
        for k in changed
    )
