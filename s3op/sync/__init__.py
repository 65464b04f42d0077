"""Sync: make a destination (local directory or S3 prefix) hold what a source holds.

The modules, one concern each:

- ``spec``: the ``SyncRequest`` and its checks (bad input is refused before
  anything is done);
- ``localtree``: a local directory walked in the byte order of its keys;
- ``remote``: an S3 prefix listed page by page, in the same order;
- ``merge``: the two sorted streams joined key by key;
- ``compare``: whether a source entry and a destination entry are equal
  (``checksum``, ``size``, ``size_and_time``);
- ``plan``: the merged pairs turned into actions (put, get, copy, delete, skip);
- ``run``: the actions carried out on the batch's scheduler and pool.

Everything streams: memory does not grow with the number of keys (see
docs/sync.md).
"""
