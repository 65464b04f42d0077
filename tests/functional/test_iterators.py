"""The ``iter_*`` forms side by side with the list forms, against moto (issue 18).

Same objects with the same attributes; listings in the same order, gets and
infos in completion order; a bad key refused before anything is sent; a
failure raised when it arrives; files removed as the iterator moves on
(unless ``keep``); leaving a loop early stops the engine and leaves the
client usable.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from s3client import S3, S3GetObject, S3NotFound, S3URLError
from tests.backends import Backend

KEYS = {
    "a/1": b"one",
    "a/2": b"two!",
    "a/b/3": b"three",
    "a/b/c/4": b"",
    "z/5": b"five5",
}


@pytest.fixture
def s3(s3backend: Backend) -> Iterator[S3]:
    client = s3backend.client()
    for key, body in KEYS.items():
        client.put_object(
            Bucket=s3backend.bucket, Key=key, Body=body, ContentType="text/x-" + key[0]
        )
    with S3(s3root=s3backend.root()) as s3:
        yield s3


def attrs(obj: Any, blob: bool = False) -> Tuple[Any, ...]:
    info = (obj.content_type, obj.metadata, obj.range_info) if obj.has_info else ()
    return (
        obj.url,
        obj.key,
        obj.prefix,
        obj.exists,
        obj.size if obj.exists else None,
        obj.has_info,
        info,
        obj.blob if blob and obj.downloaded else None,
    )


@pytest.mark.parametrize("keys", [None, ["a"], ["a", "z", "a/b"], ["missing/"]])
def test_listings_match_the_list_forms_in_order(s3: S3, keys: Any) -> None:
    assert [attrs(o) for o in s3.iter_list_paths(keys)] == [attrs(o) for o in s3.list_paths(keys)]
    assert [attrs(o) for o in s3.iter_list_recursive(keys)] == [
        attrs(o) for o in s3.list_recursive(keys)
    ]
    last = [o.last_modified for o in s3.iter_list_recursive(keys)]
    assert last == [o.last_modified for o in s3.list_recursive(keys)]


def test_infos_match_the_list_form(s3: S3) -> None:
    keys = [*KEYS, "nope"]
    want = sorted(attrs(o) for o in s3.info_many(keys, return_missing=True))
    got = sorted(attrs(o) for o in s3.iter_info_many(iter(keys), return_missing=True))
    assert got == want and len(got) == len(keys)
    modified = {o.url: o.last_modified for o in s3.info_many(list(KEYS))}
    assert {o.url: o.last_modified for o in s3.iter_info_many(list(KEYS))} == modified


def test_gets_match_the_list_form(s3: S3) -> None:
    keys: List[Any] = [*KEYS, S3GetObject("a/b/3", 1, 3), S3GetObject("z/5", None, -2)]
    want = sorted(attrs(o, blob=True) for o in s3.get_many(keys))
    got = sorted(attrs(o, blob=True) for o in s3.iter_get_many(keys))
    assert got == want and len(got) == len(keys)
    plain = sorted(attrs(o, blob=True) for o in s3.get_many(list(KEYS), return_info=False))
    bare = s3.iter_get_many(list(KEYS), return_info=False)
    assert sorted(attrs(o, blob=True) for o in bare) == plain


def test_get_recursive_matches_the_list_form(s3: S3) -> None:
    for info in (False, True):
        want = sorted(attrs(o, blob=True) for o in s3.get_recursive(["a", "z"], return_info=info))
        got = sorted(
            attrs(o, blob=True) for o in s3.iter_get_recursive(["a", "z"], return_info=info)
        )
        assert got == want and len(got) == 5


def test_a_file_is_removed_when_the_iterator_moves_past_it(s3: S3) -> None:
    seen: Dict[str, bytes] = {}
    paths: List[str] = []
    for obj in s3.iter_get_many(list(KEYS)):
        assert all(not os.path.exists(p) for p in paths)  # every earlier one is gone
        seen[obj.key] = obj.blob  # readable while it is the current one
        paths.append(obj.path)
    assert seen == KEYS
    assert all(not os.path.exists(p) for p in paths)

    kept = list(s3.iter_get_many(list(KEYS), keep=True))
    assert {o.key: o.blob for o in kept} == KEYS


def test_a_bad_key_is_refused_before_anything_is_sent(s3backend: Backend) -> None:
    with S3() as s3:  # URL mode: a bare key is not a URL
        gen = s3.iter_get_many([s3backend.root("a/1"), "not-a-url"])
        with pytest.raises(S3URLError):
            next(gen)
        with pytest.raises(TypeError):
            next(s3.iter_info_many("s3://b/k"))  # a lone string, as the list forms


def test_a_missing_key_raises_when_it_arrives(s3: S3) -> None:
    with pytest.raises(S3NotFound):
        list(s3.iter_get_many(["a/1", "gone"]))
    with pytest.raises(S3NotFound):
        list(s3.iter_info_many(["gone"]))


def test_leaving_a_loop_early_leaves_the_client_usable(s3: S3) -> None:
    for _ in s3.iter_list_recursive():
        break
    first = next(iter(s3.iter_info_many(list(KEYS) * 50)))
    assert first.exists
    assert [o.key for o in s3.iter_list_recursive(["z"])] == ["5"]
    assert sorted(o.key for o in s3.iter_info_many(list(KEYS))) == sorted(KEYS)
