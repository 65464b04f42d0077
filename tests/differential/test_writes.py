"""put, put_many and put_files: values, content type, metadata, encryption, overwrite.

Each case starts from the same bucket state (``SEED`` under ``w/``, reset
before each side) and compares the return value and what each side left in
the bucket (contents, content type, metadata, encryption of every object).
File objects are made anew for each side: metaflow closes what it uploads.

Facts the documented differences read: ``value`` (the kind of value put),
``put_object`` (the fields, besides the key, of the call's S3PutObjects),
``uploads`` (bucket key -> the contents s3client stores), ``same_key_twice``
(the bucket key a batch names twice).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Callable, Dict, List, Union

from tests.differential.conftest import Differential
from tests.differential.harness import Pair, put_object
from tests.differential.store import Stored

SEED: Dict[str, Union[bytes, Stored]] = {
    "old": Stored(b"old value", content_type="text/x-old", metadata={"v": 1}),
    "old2": b"old two",
}

Value = Callable[[], Any]


class Unseekable(io.RawIOBase):
    """A readable raw stream that cannot seek."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return 0


#: The local file's contents (UTF-8 text, so a text-mode file reads it too).
FILE_BYTES = "from a file \u20ac".encode()
#: What s3client stores for the kinds of value metaflow refuses.
STORED_AS = {
    "bytearray": b"array",
    "memoryview": b"view",
    "StringIO": b"string io",
    "text file": FILE_BYTES,
}


def values(tmp_path: Path) -> Dict[str, Value]:
    """Every kind of value, each made fresh by its factory."""
    data = tmp_path / "data.bin"
    data.write_bytes(FILE_BYTES)

    def at_3() -> io.BytesIO:
        buf = io.BytesIO(b"abcdef")
        buf.seek(3)
        return buf

    return {
        "str": lambda: "text \u20ac",
        "empty str": lambda: "",
        "bytes": lambda: b"\x00\xffbytes",
        "empty bytes": lambda: b"",
        "bytearray": lambda: bytearray(b"array"),
        "memoryview": lambda: memoryview(b"view"),
        "BytesIO": lambda: io.BytesIO(b"bytes io"),
        "BytesIO read to 3": at_3,
        "file rb": lambda: open(data, "rb"),  # noqa: SIM115 - the client reads and closes it
        "raw file": lambda: open(data, "rb", buffering=0),  # noqa: SIM115
        "StringIO": lambda: io.StringIO("string io"),
        "text file": lambda: open(data, encoding="utf-8"),  # noqa: SIM115
        "unseekable": lambda: io.BufferedReader(Unseekable()),
        "int": lambda: 5,
        "None": lambda: None,
        "dict": lambda: {"a": 1},
    }


def writer(differential: Differential, **kwargs: Any) -> Pair:
    """A pair rooted at ``w/``; the bucket is reset to SEED before each side."""
    store = differential.store
    return differential.pair(
        reset=lambda: store.reset("w", SEED),
        snapshot=lambda: store.snapshot("w"),
        s3root=store.url("w"),
        **kwargs,
    )


def put_value(key: str, make: Value, **options: Any) -> Callable[[Any], Any]:
    """``fn(s3)``: put ``key`` with a fresh value."""
    return lambda s3: s3.put(key, make(), **options)


def put_values(pairs: List[Any], **options: Any) -> Callable[[Any], Any]:
    """``fn(s3)``: put_many of (key, factory) pairs with fresh values."""
    return lambda s3: s3.put_many([(k, make()) for k, make in pairs], **options)


def value_facts(name: str) -> Dict[str, Any]:
    """The facts of a put of one value of kind ``name`` to ``k``."""
    if name in STORED_AS:
        return {"value": name, "uploads": {"w/k": STORED_AS[name]}}
    return {"value": name}


def test_put_every_kind_of_value(differential: Differential, tmp_path: Path) -> None:
    both = writer(differential)
    kinds = values(tmp_path)
    for name, make in kinds.items():
        both.run_both(f"put('k', <{name}>)", put_value("k", make), **value_facts(name))
    good = ["str", "empty str", "bytes", "empty bytes", "BytesIO", "BytesIO read to 3", "file rb"]
    pairs = [(f"k{i}", kinds[name]) for i, name in enumerate(good)]
    both.run_both(f"put_many(<{good}>)", put_values(pairs))
    for name in ("bytearray", "memoryview", "raw file", "StringIO", "text file", "int", "None"):
        label = f"put_many([('k', <{name}>)])"
        both.run_both(label, put_values([("k", kinds[name])]), **value_facts(name))
    differential.assert_same()


def test_put_options(differential: Differential) -> None:
    both = writer(differential)
    both.call("put", "k", "v", content_type="text/x-custom")
    both.call("put", "k", "v", metadata={"a": 1, "list": [1, 2], "u": "\u20ac"})
    both.call("put", "k", "v", metadata={})
    both.call("put", "k", "v", content_type=None, metadata=None)
    both.call("put", "k", "v", metadata={"bad": object()})
    both.call("put", "k", "v", metadata={"big": "x" * 3000})
    fields = {"content_type": "text/x-po", "metadata": {"p": 1}}
    both.run_both(
        "put(S3PutObject('k', content_type='text/x-po', metadata={'p': 1}), 'v')",
        lambda s3: s3.put(put_object(s3, "k", **fields), "v"),
        put_object=fields,
        uploads={"w/k": b"v"},
    )
    both.run_both(
        "put_many([S3PutObject(value, content_type, metadata), S3PutObject(value)])",
        lambda s3: s3.put_many(
            [
                put_object(s3, "m1", value="one", content_type="text/x-m", metadata={"i": 1}),
                put_object(s3, "m2", value=b"two"),
            ]
        ),
        put_object={"value": "one", "content_type": "text/x-m", "metadata": {"i": 1}},
    )
    both.run_both(
        "put_many([S3PutObject('k', metadata={'bad': object()})])",
        lambda s3: s3.put_many([put_object(s3, "k", value="v", metadata={"bad": object()})]),
        put_object={"value": "v", "metadata": "{'bad': object()}"},
    )
    differential.assert_same()


def test_overwrite(differential: Differential, tmp_path: Path) -> None:
    both = writer(differential)
    for overwrite in (True, False):
        both.call("put", "old", "new value", overwrite=overwrite)
        both.call("put", "new", "new value", overwrite=overwrite)
        pairs = [("old", "n1"), ("new", "n2"), ("old2", "n3"), ("new2", "n4")]
        both.call("put_many", pairs, overwrite=overwrite)
        files = [(key, str(local(tmp_path, key, "file " + key))) for key, _ in pairs]
        both.call("put_files", files, overwrite=overwrite)
    both.call("put_many", [("dup", "first"), ("dup", "second")], facts={"same_key_twice": "w/dup"})
    differential.assert_same()


def local(directory: Path, name: str, text: str) -> Path:
    """A local file ``directory/name`` holding ``text``."""
    path = directory / name
    path.write_text(text)
    return path


def test_put_files(differential: Differential, tmp_path: Path) -> None:
    both = writer(differential)
    one, empty = local(tmp_path, "one", "one"), local(tmp_path, "empty", "")
    both.run_both(
        "put_files([('f1', path), ('f0', 0-byte path), S3PutObject(path, content_type, metadata)])",
        lambda s3: s3.put_files(
            [
                ("f1", str(one)),
                ("f0", str(empty)),
                put_object(s3, "f2", path=str(one), content_type="text/x-f", metadata={"f": 2}),
            ]
        ),
        put_object={"path": str(one), "content_type": "text/x-f", "metadata": {"f": 2}},
    )
    both.call("put_files", [("f", str(tmp_path / "no-such-file"))])
    both.call("put_files", [("f", str(tmp_path))])  # a directory
    both.run_both(
        "put_files([S3PutObject('f', value='v')])",
        lambda s3: s3.put_files([put_object(s3, "f", value="v")]),
        put_object={"value": "v"},
        uploads={"w/f": b"v"},
    )
    both.run_both(
        "put_many([S3PutObject('f', path=path)])",
        lambda s3: s3.put_many([put_object(s3, "f", path=str(one))]),
        put_object={"path": str(one)},
        uploads={"w/f": b"one"},
    )
    both.call("put_files", [])
    both.call("put_many", [])
    differential.assert_same()


def test_encryption(differential: Differential, tmp_path: Path) -> None:
    both = writer(differential, encryption="AES256")
    path = local(tmp_path, "one", "one")
    both.call("put", "e", "encrypted")
    both.call("put_many", [("e1", "one"), ("e2", b"two")])
    both.call("put_files", [("e3", str(path))])
    plain = writer(differential)
    both_objects = "put_many([S3PutObject('e', value, encryption='AES256'), ('p', value)])"
    plain.run_both(
        both_objects,
        lambda s3: s3.put_many([put_object(s3, "e", value="x", encryption="AES256"), ("p", "y")]),
        put_object={"value": "x", "encryption": "AES256"},
    )
    differential.assert_same()
