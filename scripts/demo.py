"""The main job, end to end, against whatever S3 the environment points at.

``make demo`` runs it against a throw-away SeaweedFS on loopback (see
scripts/local_s3.py); with ``AWS_ENDPOINT_URL_S3`` or ordinary AWS
configuration it runs against that instead. It writes a small dataset,
reads it back every way the API offers, and checks what it got.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from s3client import S3, S3GetObject, S3NotFound, S3Object, S3PutObject


def main() -> int:
    """Run the demo; exit status 0 when every check passed."""
    bucket = os.environ.get("S3CLIENT_DEMO_BUCKET", "s3client-demo")
    root = f"s3://{bucket}/demo-{int(time.time())}"
    print(f"s3client demo against {os.environ.get('AWS_ENDPOINT_URL_S3', 'AWS')} at {root}\n")
    with S3(s3root=root) as s3:
        written = put_dataset(s3)
        check_gets(s3, written)
        check_info_and_listing(s3, written)
        check_copy_and_delete(s3, written)
        with tempfile.TemporaryDirectory() as tmp:
            check_sync(s3, Path(tmp))
        removed = s3.delete_recursive([None], allow_root=True)
        expect(s3.list_recursive() == [], "delete_recursive of the root leaves nothing")
        show("delete_recursive", f"the demo's root: {len(removed)} objects deleted", [])
    print("\nall checks passed")
    return 0


def put_dataset(s3: S3) -> dict:
    """put_many: text, bytes, a JSON document with metadata, and a 0-byte object."""
    records = [json.dumps({"id": i, "value": i * i}) for i in range(50)]
    objects = {
        "raw/hello.txt": "hello, world\n",
        "raw/random.bin": os.urandom(256 * 1024),
        "raw/empty": b"",
        "tables/squares.jsonl": "\n".join(records),
    }
    pairs = [(key, value) for key, value in objects.items() if key != "tables/squares.jsonl"]
    document = S3PutObject(
        key="tables/squares.jsonl",
        value=objects["tables/squares.jsonl"],
        content_type="application/x-ndjson",
        metadata={"rows": len(records), "schema": ["id", "value"]},
    )
    t0 = time.time()
    done = s3.put_many([*pairs, document])
    show("put_many", f"{len(done)} objects in {time.time() - t0:.2f}s", [url for _, url in done])
    return {k: v.encode() if isinstance(v, str) else v for k, v in objects.items()}


def check_gets(s3: S3, written: dict) -> None:
    """get_many (with a missing key), a ranged get, and get_recursive."""
    keys = [*written, "raw/missing"]
    objs = s3.get_many(keys, return_missing=True)
    for obj in objs:
        if obj.exists:
            expect(obj.blob == written[obj.key], f"{obj.key} round-trips")
    expect(not objs[-1].exists, "a missing key comes back with exists=False")
    show(
        "get_many",
        f"{sum(o.exists for o in objs)} found, 1 missing",
        [
            f"{o.key}: {o.size} bytes, sha256 {digest(o)}" if o.exists else f"{o.key}: missing"
            for o in objs
        ],
    )
    part = s3.get(S3GetObject("raw/hello.txt", offset=7, length=5))
    expect(part.text == "world", "range get returns bytes 7-11")
    tail = s3.get(S3GetObject("raw/random.bin", offset=None, length=-16))
    expect(tail.blob == written["raw/random.bin"][-16:], "suffix range returns the last 16 bytes")
    show(
        "range get",
        f"{part.text!r}, range_info {tuple(part.range_info)}",
        [f"last 16 bytes of raw/random.bin: range_info {tuple(tail.range_info)}"],
    )
    tree = s3.get_recursive(["tables"])
    # As in metaflow: keys relative to the requested prefix.
    expect([o.key for o in tree] == ["squares.jsonl"], "get_recursive finds the table")
    expect(tree[0].blob == written["tables/squares.jsonl"], "get_recursive content matches")


def check_info_and_listing(s3: S3, written: dict) -> None:
    """info_many, list_paths (one level) and list_recursive (every object)."""
    infos = s3.info_many(["tables/squares.jsonl", "raw/empty"])
    table = infos[0]
    expect(table.metadata == {"rows": 50, "schema": ["id", "value"]}, "metadata round-trips")
    expect(table.content_type == "application/x-ndjson", "content type round-trips")
    show(
        "info_many",
        "",
        [f"{o.key}: size {o.size}, {o.content_type}, metadata {o.metadata}" for o in infos],
    )
    top = s3.list_paths()
    expect(sorted(o.key for o in top) == ["raw", "tables"], "list_paths shows two prefixes")
    show("list_paths", "", [f"{o.url} (exists={o.exists})" for o in top])
    every = s3.list_recursive()
    expect(sorted(o.key for o in every) == sorted(written), "list_recursive finds every object")
    show("list_recursive", f"{len(every)} objects", [f"{o.key}: {o.size} bytes" for o in every])


def check_copy_and_delete(s3: S3, written: dict) -> None:
    """copy_many server-side (metadata kept), a missing source refused, delete_many."""
    pairs = [(key, f"backup/{key}") for key in written]
    copied = s3.copy_many(pairs)
    table = s3.info("backup/tables/squares.jsonl")
    expect(table.metadata == {"rows": 50, "schema": ["id", "value"]}, "a copy keeps metadata")
    for key, value in written.items():
        expect(s3.get(f"backup/{key}").blob == value, f"backup/{key} holds the source's bytes")
    try:
        s3.copy("raw/missing", "backup/never")
        expect(False, "copying a missing source raises")
    except S3NotFound:
        expect(not s3.info("backup/never", return_missing=True).exists, "nothing copied")
    gone = s3.delete_many([f"backup/{key}" for key in written] + ["backup/not-there"])
    expect(s3.list_recursive(["backup"]) == [], "delete_many removed every copy")
    show("copy_many", f"{len(copied)} objects server-side, metadata kept", [])
    show("delete_many", f"{len(gone)} keys (one never existed: not an error)", [])


def check_sync(s3: S3, tmp: Path) -> None:
    """sync a local tree up, change it, sync again with delete, and back down."""
    tree = tmp / "site"
    for name, text in {"index.html": "<h1>hi</h1>", "a/b.css": "b{}", "a/c.js": "c()"}.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    first = s3.sync(tree, "site")
    expect(len(first.copied) == 3 and first.ok, "the first sync copies all three files")
    (tree / "index.html").write_text("<h1>hello</h1>")
    (tree / "a" / "c.js").unlink()
    second = s3.sync(tree, "site", delete=True)
    expect(len(second.copied) == 1 and len(second.skipped) == 1, "only the change moves")
    expect([Path(u).name for u in second.deleted] == ["c.js"], "delete=True removes c.js")
    down = s3.sync("site", tmp / "copy")
    expect((tmp / "copy" / "index.html").read_text() == "<h1>hello</h1>", "synced back down")
    show(
        "sync",
        "local -> prefix -> local",
        [
            f"first: {len(first.copied)} copied",
            f"after a change and a removal, delete=True: {len(second.copied)} copied, "
            f"{len(second.skipped)} skipped, {len(second.deleted)} deleted",
            f"prefix -> a new directory: {len(down.copied)} copied",
        ],
    )


def digest(obj: S3Object) -> str:
    """Short sha256 of a downloaded object's bytes."""
    return hashlib.sha256(obj.blob or b"").hexdigest()[:12]


def show(title: str, summary: str, lines: list) -> None:
    """Print one step of the demo."""
    print(f"== {title} {summary}".rstrip())
    for line in lines:
        print(f"   {line}")


def expect(condition: bool, what: str) -> None:
    """Stop the demo with a clear message when a check fails."""
    if not condition:
        print(f"FAILED: {what}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    sys.exit(main())
