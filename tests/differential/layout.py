"""The objects most differential tests read, and the keys they ask for.

:data:`LAYOUT` holds one of each kind of object a caller can meet: text with
a content type and metadata, 0 bytes, binary, SSE-S3 encrypted, nested
paths, sibling prefixes (``s/b`` and ``s/bb``, and ``s/b-c`` whose ``-``
sorts before ``/``), and an object with a prefix of the same name
(``same`` and ``same/child``; written in that order, see ``store.py``).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Union

from tests.differential.store import Stored

TEXT = b"hello, world\n"
BINARY = bytes(range(256)) * 4  # 1,024 bytes, every byte value

LAYOUT: Dict[str, Union[bytes, Stored]] = {
    "a": Stored(TEXT, content_type="text/plain", metadata={"k": "v", "n": 1}),
    "empty": b"",
    "bin": Stored(BINARY, content_type="application/octet-stream"),
    "enc": Stored(b"secret", encryption="AES256"),
    "x/y/z": b"deep",
    "x/w": b"shallow",
    "s/b/1": b"sibling one",
    "s/bb/2": b"sibling two",
    "s/b-c": b"dash",
    "same": b"object",
    "same/child": b"child",
}

#: Keys relative to a root: plain, leading and trailing ``/``, nested, a prefix,
#: the root itself ("" and None), missing.
ROOT_KEYS: List[Optional[str]] = [
    "a",
    "/a",
    "a/",
    "empty",
    "enc",
    "x/y/z",
    "//x/y/z",
    "x",
    "x/",
    "same",
    "",
    None,
    "nope",
]

#: Prefixes relative to a root, for listings: nested, siblings, an object
#: that is also a prefix, an object that is not, missing, and the root.
ROOT_PREFIXES: List[Optional[str]] = [
    "x",
    "x/",
    "/x/y",
    "s/b",
    "s/bb/",
    "same",
    "a",
    "nope",
    "",
    None,
]


def full_urls(root: str, keys: List[Optional[str]]) -> List[Optional[str]]:
    """``keys`` (not the root ones) as full URLs under ``root`` (no trailing ``/``)."""
    return [root + "/" + k.lstrip("/") for k in keys if k]
