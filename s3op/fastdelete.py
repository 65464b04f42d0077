"""DeleteObjects on the lean HTTP/1.1 path (``s3op.fastsend``): a POST of the keys' XML.

A delete batch is one request whose work is the server's; on botocore it
cost more than the request itself: a botocore client built on first use
(~0.25 s of CPU in a fresh engine, with the threads of the batch waiting
for it) and botocore's parse of an answer naming up to 1,000 keys. The
request is botocore's DeleteObjects (not quiet: every key deleted is named
in the answer), with the body's ``Content-MD5``, which S3 requires of this
call and every S3-compatible store takes. The answer is parsed into
botocore's shape (``Deleted`` / ``Errors``). An answer that does not parse
(damaged on the way) is ``corrupt``; a 200 whose body is an ``<Error>`` is
the ClientError it names.

Tabs, newlines and carriage returns in keys travel as character references
(a parser would turn a raw ``\\r`` into ``\\n``: another key). The other
characters below U+0020 cannot be in XML 1.0 at all: ``delete_body`` raises
``NotOurs`` for such a key, so botocore sends the request as it always did
(and a store that parses XML refuses it: such keys need DeleteObject).
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Dict, List, Sequence

from s3op.fastcopy import answer_root
from s3op.fastsend import NotOurs, Sender
from s3op.transport import S3Answer

_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
#: Whitespace a parser would change, sent as character references.
_REFS = {"\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}
#: The characters XML 1.0 cannot carry.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def fast_delete_objects(sender: Sender, bucket: str, keys: Sequence[str]) -> S3Answer:
    """Send a DeleteObjects for ``keys``; its answer in botocore's shape."""
    body = delete_body(keys)
    headers: Dict[str, str] = {
        "Content-Type": "application/xml",
        "Content-Length": str(len(body)),
        "Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode("ascii"),
    }
    resp = sender.send(
        "POST", bucket, None, headers, body=body, query="?delete", operation="DeleteObjects"
    )
    return parse_delete_answer(resp.read_all(), dict(resp.headers))


def delete_body(keys: Sequence[str]) -> bytes:
    """The request's XML; ``NotOurs`` when a key cannot travel in XML as it is."""
    if any(min(key, default=" ") < " " and _CONTROL.search(key) for key in keys):
        raise NotOurs("a key with a control character XML cannot carry: botocore sends it")
    from xml.sax.saxutils import escape  # here: off the engine's start-up path

    objects = "".join(f"<Object><Key>{escape(key, _REFS)}</Key></Object>" for key in keys)
    text = f'<Delete xmlns="{_NS}">{objects}<Quiet>false</Quiet></Delete>'
    return text.encode("utf-8")


def parse_delete_answer(body: bytes, headers: Dict[str, str]) -> S3Answer:
    """A DeleteObjects answer's XML -> ``{"Deleted": [...], "Errors": [...]}``."""
    root = answer_root(body, headers, "DeleteObjects")
    deleted: List[Dict[str, str]] = []
    errors: List[Dict[str, str]] = []
    for item in root:
        fields = {child.tag.rpartition("}")[2]: child.text or "" for child in item}
        tag = item.tag.rpartition("}")[2]
        if tag == "Deleted":
            deleted.append(fields)
        elif tag == "Error":
            errors.append(fields)
    return {"Deleted": deleted, "Errors": errors}


__all__ = ["delete_body", "fast_delete_objects", "parse_delete_answer"]
