"""put, put_many and put_files, as methods of ``S3`` (``PutForms``).

Each checks its whole input first (values, metadata, local files, keys
given twice), stages in-memory values as files in the client's private
temp dir, runs one ``put`` batch and removes what it staged.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Tuple, Union

from s3op.protocol import Request

from .batching import key_list, names_all_failures
from .client_parts import ClientParts
from .errors import raise_for_result
from .objects import PutValue, S3PutObject
from .progress import ProgressOption, takes_progress
from .runner import remove_file, results_by_request

if TYPE_CHECKING:  # .uploads is imported by the first put: a client that only reads never does
    from .uploads import PutItem


class PutForms(ClientParts):
    """Uploads, as methods of ``S3``."""

    @takes_progress
    def put(
        self,
        key: Union[str, S3PutObject],
        obj: Optional[PutValue],
        overwrite: bool = True,
        content_type: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
        *, progress: ProgressOption = None,
    ) -> str:  # fmt: skip
        """Upload one object; return its URL (also when skipped by ``overwrite=False``).

        ``obj`` is text (stored as UTF-8), bytes-like, or a readable and
        seekable file object. ``key`` may be an ``S3PutObject``: its
        options apply unless given here, and ``obj`` replaces its value.
        """
        from .uploads import items_from_values, put_spec

        spec = put_spec(key, obj, content_type, metadata)
        items = items_from_values([spec], self._object_url, self._encryption)
        self._upload(items, overwrite)
        return items[0].url

    @names_all_failures
    @takes_progress
    def put_many(
        self,
        key_objs: Iterable[Union[Tuple[str, PutValue], S3PutObject]],
        overwrite: bool = True,
        *, progress: ProgressOption = None,
    ) -> List[Tuple[str, str]]:  # fmt: skip
        """Upload many objects in parallel; return ``(key, url)`` of those written.

        Each entry is ``(key, value)`` or an ``S3PutObject`` (with a value or
        a local path). With ``overwrite=False`` keys that already exist are
        left alone and left out of the result. The batch is checked first:
        a bad value, bad metadata or a key given twice raises before
        anything is uploaded.
        """
        from .uploads import items_from_values

        entries = key_list(key_objs, "put_many")
        items = items_from_values(entries, self._object_url, self._encryption)
        # As metaflow: put_many sends a file object from where it stands, put from its start.
        return self._upload(items, overwrite, rewind=False)

    @names_all_failures
    @takes_progress
    def put_files(
        self,
        key_paths: Iterable[Union[Tuple[str, str], S3PutObject]],
        overwrite: bool = True,
        *, progress: ProgressOption = None,
    ) -> List[Tuple[str, str]]:  # fmt: skip
        """Upload local files in parallel; return ``(key, url)`` of those written.

        Each entry is ``(key, local_path)`` or an ``S3PutObject``. Every file
        must exist and be readable (else S3LocalFileError, nothing uploaded).
        """
        from .uploads import items_from_files

        entries = key_list(key_paths, "put_files")
        items = items_from_files(entries, self._object_url, self._encryption)
        return self._upload(items, overwrite)

    def _upload(
        self, items: List[PutItem], overwrite: bool, rewind: bool = True
    ) -> List[Tuple[str, str]]:
        if not items:
            return []
        batch = self._new_batch()
        staged: List[str] = []
        try:
            requests = [
                self._put_request(i, item, batch, staged, rewind) for i, item in enumerate(items)
            ]
            results = self._run("put", requests, [] if overwrite else ["--no-overwrite"])
        finally:
            for path in staged:
                remove_file(path)
        by_idx = results_by_request(requests, results)
        written = []
        for item, req in zip(items, requests):
            res = by_idx[req.idx]
            raise_for_result(res, item.url)
            if res.skipped is None:
                written.append((item.key, item.url))
        return written

    def _put_request(
        self, idx: int, item: PutItem, batch: int, staged: List[str], rewind: bool
    ) -> Request:
        if item.path is not None:
            return item.request(idx, item.path)
        from .uploads import stage_value

        local = os.path.join(self._tmpdir, f"put-{batch}-{idx}")
        staged.append(local)
        stage_value(item.url, item.value, local, rewind)
        return item.request(idx, local)


__all__ = ["PutForms"]
