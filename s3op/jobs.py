"""Units of work the parent hands to workers, and what workers hand back.

Requests (``s3op.protocol``) are what users ask for; jobs are how the
scheduler (``s3op.scheduler``) does it. A large get becomes one ``GetJob``
that answers ``SplitGet`` and then many ``GetPartJob``s (``s3op.assembly.
download``); a large put becomes ``PutJob`` -> ``SplitPut`` ->
``UploadPartJob``s -> ``CompleteUploadJob`` (or ``AbortUploadJob``:
``s3op.assembly.upload``). All types are small frozen dataclasses, cheap to
pickle across the worker pipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _json_str
from typing import List, Optional, Tuple, Union

from s3op.parts import PartsCheck, PieceDigest
from s3op.protocol import (
    CopyRequest,
    ErrorKind,
    GetRequest,
    InfoRequest,
    ListRequest,
    PutRequest,
    Result,
)


@dataclass(frozen=True)
class Settings:
    """Batch-wide options every op reads (picklable, set once per run)."""

    info: bool = True  # return content type / metadata with gets
    verify: bool = True  # check sizes and MD5/ETag, checksums where given
    no_overwrite: bool = False  # puts never replace an existing object
    may_repeat: bool = False  # an earlier run may have written our bytes already
    part_size: int = 16 * 1024 * 1024  # bytes per ranged GET / upload part
    multipart_threshold: int = 32 * 1024 * 1024  # objects this big move in parts
    tmp_tag: str = ""  # marks this run's temp files so leftovers can be swept
    file_mode: int = 0o644  # mode of finished downloads (temp files are 0600 until then)
    dry_run: bool = False  # answer what would happen; write and delete nothing


# ---------------------------------------------------------------- jobs


@dataclass(frozen=True)
class GetJob:
    """Download one object to ``local`` (final path; a temp file is used)."""

    req: GetRequest
    local: str
    attempt: int = 1  # whole-object attempt: a large object failing its check starts over


@dataclass(frozen=True)
class GetPartJob:
    """Download bytes ``start..end`` (inclusive) of ``etag`` into ``tmp``."""

    idx: int
    url: str
    etag: str
    number: int  # 0-based part index
    start: int
    end: int
    tmp: str  # preallocated temp file shared by all parts of the object
    checksum: bool = True  # CRC32 the bytes (only when a whole-object CRC32 will be checked)
    md5: bool = False  # MD5 the bytes: the range is one part of a multipart-ETag object
    cuts: Tuple[int, ...] = ()  # lengths of the object's pieces the range spans, when more
    # than one: each piece is digested on its own, ``number`` being the first one's index


@dataclass(frozen=True)
class VerifyJob:
    """Check an assembled download when no whole-object CRC32 is known: its MD5
    against a plain-MD5 ETag, or (``parts``) its parts against a multipart
    object's composite CRC32 or ETag (``s3op.parts``)."""

    idx: int
    url: str
    path: str
    md5: str = ""
    parts: Optional[PartsCheck] = None
    part_sizes: Tuple[int, ...] = ()  # the object's parts, for a parts check
    # A slice of a multipart-ETag check (``part_sizes`` are then the slice's parts):
    # each part's MD5 is answered (``PartDone.pieces``) and the parent combines them.
    first: Optional[int] = None  # the object part the slice starts with; None: whole file
    offset: int = 0  # where the slice starts in the file


@dataclass(frozen=True)
class PutJob:
    """Upload one local file (or start its multipart upload)."""

    req: PutRequest


@dataclass(frozen=True)
class UploadPartJob:
    """Upload ``length`` bytes at ``offset`` of ``local`` as part ``number``."""

    idx: int
    url: str
    upload_id: str
    number: int
    local: str
    offset: int
    length: int


@dataclass(frozen=True)
class CompleteUploadJob:
    """Finish a multipart upload from its parts' (number, etag) pairs."""

    req: PutRequest
    upload_id: str
    parts: Tuple[Tuple[int, str, Optional[int]], ...]  # (number, etag, crc32 or None)
    size: int
    crc32: Optional[int] = None  # whole-object CRC32 (FULL_OBJECT) when parts carry CRCs


@dataclass(frozen=True)
class AbortUploadJob:
    """Abort a multipart upload after a failure (best effort, retried)."""

    idx: int
    url: str
    upload_id: str


@dataclass(frozen=True)
class InfoJob:
    """HEAD one object."""

    req: InfoRequest


@dataclass(frozen=True)
class ListJob:
    """List one page of a prefix; ``for_get`` answers ``Listed`` so the parent can fetch them.

    ``token`` continues a listing where the previous page ended.
    """

    req: ListRequest
    recursive: bool
    for_get: bool = False
    token: Optional[str] = None
    for_delete: bool = False  # answer ``Listed`` (op "delete"): the parent deletes them


@dataclass(frozen=True)
class DryGetJob:
    """A dry-run download: HEAD the object, say where it would be written."""

    req: GetRequest
    local: str


@dataclass(frozen=True)
class DeleteJob:
    """Delete up to 1,000 keys of one bucket with one DeleteObjects request."""

    bucket: str
    items: Tuple[Tuple[int, str], ...]  # (request idx, url) per key


@dataclass(frozen=True)
class CopyJob:
    """Copy one object server-side (or start its multipart copy)."""

    req: CopyRequest


@dataclass(frozen=True)
class CopyPartJob:
    """Copy bytes ``start..end`` (inclusive) of ``source`` as part ``number``."""

    idx: int
    url: str
    upload_id: str
    number: int
    source: str
    etag: str  # the source's ETag: the part is copied only from that version
    start: int
    end: int


@dataclass(frozen=True)
class CompleteCopyJob:
    """Finish a multipart copy from its parts' (number, etag, crc32) triples."""

    req: CopyRequest
    upload_id: str
    parts: Tuple[Tuple[int, str, Optional[int]], ...]
    size: int
    crc32: Optional[int] = None  # whole-object CRC32 of the parts, when they all had one
    source_crc32: Optional[int] = None  # the source's, to hold the copy to


Job = Union[
    GetJob,
    GetPartJob,
    VerifyJob,
    PutJob,
    UploadPartJob,
    CompleteUploadJob,
    AbortUploadJob,
    InfoJob,
    ListJob,
    DryGetJob,
    DeleteJob,
    CopyJob,
    CopyPartJob,
    CompleteCopyJob,
]


# ------------------------------------------------------------ outcomes


@dataclass(frozen=True)
class SplitGet:
    """The object is large: fetch it in parts. ``head`` has its info fields."""

    head: Result
    etag: str
    crc32: Optional[int] = None  # the object's full CRC32, when the server has one
    md5: Optional[str] = None  # the object's MD5, when its ETag is one
    parts: Optional[PartsCheck] = None  # else a multipart object's check, if any, and
    part_sizes: Tuple[int, ...] = ()  # its part sizes (``parts`` is None without them)


@dataclass(frozen=True)
class PartDone:
    """A part job finished (download or upload). ``etag`` for uploads."""

    number: int = 0
    etag: Optional[str] = None
    crc32: Optional[int] = None  # CRC32 of the bytes moved
    length: int = 0
    md5: Optional[bytes] = None  # MD5 of the bytes moved (GetPartJob.md5)
    attempts: int = 1  # set by the retry loop
    pieces: Tuple[PieceDigest, ...] = ()  # a GetPartJob with cuts: each piece's digests


@dataclass(frozen=True)
class PartFailed:
    """A part job failed for good; the whole object fails with this."""

    result: Result


@dataclass(frozen=True)
class SplitPut:
    """A multipart upload was created; upload its parts."""

    upload_id: str
    size: int
    checksum: bool = False  # created with a FULL_OBJECT CRC32: parts must send CRCs


@dataclass(frozen=True)
class SplitCopy:
    """The object is large: a multipart upload was created; copy its parts."""

    upload_id: str
    size: int
    etag: str  # the source's ETag (each part is copied If-Match it)
    checksum: bool = False  # created with a FULL_OBJECT CRC32
    source_crc32: Optional[int] = None  # the source's full-object CRC32, if known


@dataclass(frozen=True)
class Listed:
    """Objects found under a prefix, for a recursive get or delete: (url, size) pairs."""

    idx: int
    found: Tuple[Tuple[str, int], ...] = field(default_factory=tuple)
    op: str = "get"  # what the parent does with them: "get" or "delete"


#: One object a listing found: (url, size, last_modified or None, etag or None).
FoundObject = Tuple[str, int, Optional[int], Optional[str]]


@dataclass(frozen=True)
class Found:
    """What one listing page found for request ``idx``, in compact form.

    Every object and prefix found is one ``Result`` (ok, nothing else to say
    but its url, size, time and ETag). A page holds 1,000 of them, and
    building each ``Result`` and encoding it through ``Result.to_json`` cost
    about 7 us a key, as much CPU as the server spent listing it.
    ``lines`` writes the same lines directly (a test holds it to
    ``to_json``, byte for byte); ``results`` gives the ``Result`` objects.
    """

    idx: int
    objects: Tuple[FoundObject, ...] = ()
    prefixes: Tuple[str, ...] = ()  # urls of common prefixes (non-recursive listings)

    def results(self) -> List[Result]:
        """The ``Result`` of every object, then of every prefix."""
        out = [
            Result(idx=self.idx, url=url, size=size, last_modified=modified, etag=etag)
            for url, size, modified, etag in self.objects
        ]
        out.extend(Result(idx=self.idx, url=url, is_prefix=True) for url in self.prefixes)
        return out

    def lines(self) -> str:
        """``results()``'s result lines, each ending in a newline, as ``to_json`` writes
        them: fields in declaration order, None fields left out, ASCII-escaped strings."""
        head = f'{{"idx":{self.idx:d},"url":'
        out = []
        for url, size, modified, etag in self.objects:
            line = f'{head}{_json_str(url)},"ok":true,"size":{size:d}'
            if modified is not None:
                line += f',"last_modified":{modified:d}'
            if etag is not None:
                line += f',"etag":{_json_str(etag)}'
            out.append(line + "}\n")
        for url in self.prefixes:
            out.append(f'{head}{_json_str(url)},"ok":true,"is_prefix":true}}\n')
        return "".join(out)


@dataclass(frozen=True)
class Page:
    """One page of a listing: what it found, and the job for the next page (None: last).

    Pages go back to the parent one at a time, so results stream out (and a
    recursive get starts downloading) while the listing goes on.
    """

    found: Union[List[Result], Found, Listed]
    more: Optional[ListJob] = None


Outcome = Union[
    Result, List[Result], SplitGet, PartDone, PartFailed, SplitPut, SplitCopy, Listed, Found, Page
]


def job_ident(job: Job) -> Tuple[int, str]:
    """The (request idx, url) a job works for (a delete's: its first key's)."""
    if isinstance(job, (GetPartJob, VerifyJob, UploadPartJob, AbortUploadJob, CopyPartJob)):
        return job.idx, job.url
    if isinstance(job, DeleteJob):
        return job.items[0]
    return job.req.idx, job.req.url


def job_failed(job: Job, kind: ErrorKind, message: str) -> Union[Result, List[Result]]:
    """The answer of a job that cannot finish: one failure per request it works for."""
    if isinstance(job, DeleteJob):
        return [Result.failure(idx, url, kind, message) for idx, url in job.items]
    idx, url = job_ident(job)
    return Result.failure(idx, url, kind, message)
