"""A Metaflow flow that uses ``s3client.S3(run=self)`` in every step; each step checks itself.

Run by ``tests/integration/test_metaflow_flow.py`` as ``python s3client_flow.py run``
with Metaflow's local datastore and metadata, against a test S3 server. It must not
import anything from ``tests/``: it runs as a script, like a user's flow.

Keys it writes under ``<s3root>/S3ClientFlow/<run_id>/``:

- ``start/hello.txt`` (``put``), ``start/many/{0,1,2}.txt`` (``put_many``);
- per foreach branch ``i`` in 0..2: ``shard-{i}/single.txt`` (``put``),
  ``shard-{i}/data-{j}.txt`` for j in 0..2 (``put_many``) and
  ``shard-{i}/nested/deep.bin`` (``put``, bytes).

The join reads every key back with ``get_many`` and lists the run with
``list_paths`` and ``list_recursive``; then it does the same with
``metaflow.S3(run=self)``. What each client saw (:func:`seen_by`) is kept as the
artifacts ``inflow_s3client`` and ``inflow_metaflow`` for the test to compare, and
``expected`` (key -> text of every key the flow wrote) reaches the last step.

The steps check listings by path under the run (from the URL), not by
``S3Object.key``: for a listing of a sub-prefix the two clients give different
keys, and that is for the test to report, not for the flow to trip on.
"""

from __future__ import annotations

from typing import Any, Dict, List, Set, Tuple

from metaflow import FlowSpec, current, step

from s3client import S3

SHARDS = [0, 1, 2]
FLOW_NAME = "S3ClientFlow"


def start_objects() -> Dict[str, str]:
    """What the start step writes: key -> text."""
    objects = {"start/hello.txt": "hello from start"}
    objects.update({f"start/many/{j}.txt": f"start many {j}" for j in range(3)})
    return objects


def shard_objects(shard: int) -> Dict[str, str]:
    """What foreach branch ``shard`` writes: key -> text."""
    objects = {f"shard-{shard}/single.txt": f"single of shard {shard}"}
    objects.update({f"shard-{shard}/data-{j}.txt": f"shard {shard} item {j}" for j in range(3)})
    objects[f"shard-{shard}/nested/deep.bin"] = f"deep bytes of shard {shard}"
    return objects


def described(objects: List[Any]) -> List[Dict[str, Any]]:
    """key, url, size, exists (and text when downloaded) of S3 objects, sorted by url.

    Works on ``s3client.S3Object`` and ``metaflow.S3Object`` alike.
    """
    rows = []
    for obj in objects:
        row = {"key": obj.key, "url": obj.url, "size": obj.size, "exists": obj.exists}
        if obj.downloaded:
            row["text"] = obj.text
        rows.append(row)
    return sorted(rows, key=lambda r: r["url"])


def seen_by(s3: Any, keys: List[str]) -> Dict[str, List[Dict[str, Any]]]:
    """What one client (ours or metaflow's) sees of the run: gets and listings."""
    return {
        "get_many": described(s3.get_many(keys)),
        "list_paths": described(s3.list_paths()),
        "list_paths_shard": described(s3.list_paths(["shard-0"])),
        "list_recursive": described(s3.list_recursive()),
        "list_recursive_shard": described(s3.list_recursive(["shard-0"])),
    }


def under_run(objects: List[Any]) -> Set[Tuple[str, bool]]:
    """(path under the run root, exists) of listed objects; prefixes keep their ``/``."""
    marker = f"/{current.flow_name}/{current.run_id}/"
    return {(o.url.split(marker, 1)[1], o.exists) for o in objects}


def check_texts(objects: List[Any], expected: Dict[str, str]) -> None:
    """Every object exists and holds the expected text; keys in the asked order."""
    assert [o.key for o in objects] == list(expected), [o.key for o in objects]
    for obj in objects:
        assert obj.exists, f"{obj.url} is missing"
        assert obj.text == expected[obj.key], (obj.url, obj.text, expected[obj.key])
        assert obj.size == len(expected[obj.key].encode()), (obj.url, obj.size)


class S3ClientFlow(FlowSpec):
    """put / get / put_many / list in a linear step, a foreach of 3 and its join."""

    @step
    def start(self) -> None:
        """put one key and put_many three; read them back and list them."""
        objects = start_objects()
        many = [(k, v) for k, v in objects.items() if k.startswith("start/many/")]
        with S3(run=self) as s3:
            url = s3.put("start/hello.txt", objects["start/hello.txt"])
            assert url.endswith(f"/{FLOW_NAME}/{current.run_id}/start/hello.txt"), url
            assert s3.get("start/hello.txt").text == objects["start/hello.txt"]
            written = s3.put_many(many)
            assert sorted(k for k, _ in written) == sorted(k for k, _ in many), written
            check_texts(s3.get_many(list(objects)), objects)
            paths = under_run(s3.list_paths(["start"]))
            assert paths == {("start/hello.txt", True), ("start/many/", False)}, paths
            listed = under_run(s3.list_recursive(["start"]))
            assert listed == {(k, True) for k in objects}, listed
        self.start_url = url
        self.written = objects
        self.shards = SHARDS
        self.next(self.shard, foreach="shards")

    @step
    def shard(self) -> None:
        """Each branch writes its own ``shard-{i}/`` keys and lists only them."""
        i: int = self.input  # type: ignore[assignment]  # the foreach value; metaflow types it Optional
        objects = shard_objects(i)
        single, deep = f"shard-{i}/single.txt", f"shard-{i}/nested/deep.bin"
        data = [(k, v) for k, v in objects.items() if k not in (single, deep)]
        with S3(run=self) as s3:
            s3.put(single, objects[single])
            s3.put(deep, objects[deep].encode())
            s3.put_many(data)
            listed = under_run(s3.list_recursive([f"shard-{i}"]))
            assert listed == {(k, True) for k in objects}, listed
            paths = under_run(s3.list_paths([f"shard-{i}"]))
            want = {(k, True) for k, _ in data} | {(single, True), (f"shard-{i}/nested/", False)}
            assert paths == want, paths
        self.shard_written = objects
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        """get_many every key of every branch; list the run; then metaflow.S3 does the same."""
        from metaflow import S3 as MetaflowS3

        expected = dict(inputs[0].written)
        for branch in inputs:
            expected.update(branch.shard_written)
        assert len(expected) == 4 + 5 * len(SHARDS), sorted(expected)
        keys = sorted(expected)
        with S3(run=self) as s3:
            check_texts(s3.get_many(keys), {k: expected[k] for k in keys})
            top = {(o.key, o.exists) for o in s3.list_paths()}
            assert top == {("start", False)} | {(f"shard-{i}", False) for i in SHARDS}, top
            assert sorted(o.key for o in s3.list_recursive()) == keys
            self.inflow_s3client = seen_by(s3, keys)
        with MetaflowS3(run=self) as s3:
            self.inflow_metaflow = seen_by(s3, keys)
        self.expected = expected
        self.start_url = inputs[0].start_url  # a join does not merge artifacts by itself
        self.next(self.end)

    @step
    def end(self) -> None:
        """The start step's put URL is where the join found the object."""
        urls = {row["key"]: row["url"] for row in self.inflow_s3client["get_many"]}
        assert urls["start/hello.txt"] == self.start_url, (urls, self.start_url)
        print(f"{FLOW_NAME} wrote {len(self.expected)} keys")


if __name__ == "__main__":
    S3ClientFlow()
