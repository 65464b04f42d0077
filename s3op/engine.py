"""The parent's scheduler: requests in, one result line per request out.

It turns requests into jobs, feeds them to the pool (parts of objects
already started go first, so objects finish early and memory stays
bounded), fans large objects out into parts, re-queues the jobs of a
worker that died (a job that has seen ``max_deaths`` deaths fails as
``worker_died``), and sweeps this run's temp files when it ends.
"""

from __future__ import annotations

import glob
import os
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, Iterable, Optional, Set, Tuple, Union

from s3op import jobs
from s3op.checksum import crc32_of_parts, spans
from s3op.errors import ERRNO_KINDS
from s3op.ops.get import TEMP_GLOB, create_private, temp_path
from s3op.parts import aligned_spans, combine, composite_crc32, group_spans, label
from s3op.paths import local_path, make_room, remove_file
from s3op.pool import Died, Done, Pool
from s3op.protocol import (
    ErrorKind,
    ExitCode,
    GetRequest,
    RangeServed,
    Result,
    exit_code_of,
    parse_object_url,
    worst_exit,
)


def _composite_sizes(split: jobs.SplitGet) -> Tuple[int, ...]:
    """The object's part sizes when its check is a composite CRC32, else ()."""
    if split.parts is None or split.parts.algorithm != "crc32":
        return ()
    return split.part_sizes


#: A multipart-ETag object whose parts are all at most this big is fetched with
#: no part split between ranges (small parts share one), each part MD5'd as it
#: streams in; bigger parts would cost the download its parallelism, so such an
#: object is read again once assembled.
MD5_PART_MAX = 64 * 1024 * 1024


def _md5_part_sizes(split: jobs.SplitGet) -> Tuple[int, ...]:
    """The object's part sizes when its check is a multipart ETag whose parts can
    each be one ranged GET (``MD5_PART_MAX``), else ()."""
    if split.parts is None or split.parts.algorithm != "md5" or not split.part_sizes:
        return ()
    if max(split.part_sizes) > MD5_PART_MAX or sum(split.part_sizes) != split.head.size:
        return ()
    return split.part_sizes


@dataclass
class BigGet:
    """A large download in progress: parts land in ``tmp``."""

    split: jobs.SplitGet
    tmp: str
    left: int
    tries: int  # whole-object attempts so far (a checksum mismatch starts over)
    crcs: Dict[int, Tuple[int, int]] = field(default_factory=dict)  # piece -> (crc32, length)
    md5s: Dict[int, bytes] = field(default_factory=dict)  # piece (= part) -> MD5
    verifying: bool = False
    failed: bool = False
    attempts: int = 1  # the most any of its requests needed
    sparse_on: Optional[int] = None  # st_dev of the tmpfs its sparse temp file is on

    @property
    def head(self) -> Result:
        """The object's info, from the first GET."""
        return self.split.head


@dataclass
class BigPut:
    """A multipart upload in progress."""

    job: jobs.PutJob
    split: jobs.SplitPut
    left: int
    parts: Dict[int, jobs.PartDone] = field(default_factory=dict)
    failed: bool = False


Owner = Union[BigGet, BigPut, None]


@dataclass
class Entry:
    """A job the engine has handed out or will."""

    job: jobs.Job
    owner: Owner = None
    deaths: int = 0


class Engine:
    """Runs one batch of jobs on a pool and emits results as they finish."""

    def __init__(
        self,
        pool: Pool,
        settings: jobs.Settings,
        emit: Callable[[Union[Result, jobs.Found]], None],
        allow_missing: bool = False,
        destination: str = ".",
        layout: str = "keys",
        max_deaths: int = 3,
        max_upload_parts: int = 8,
        max_object_tries: int = 3,
        flush: Callable[[], None] = lambda: None,
    ) -> None:
        self.pool = pool
        self._flush = flush  # results are emitted buffered; flushed once per wake-up
        self.settings = settings
        self._emit = emit
        self.allow_missing = allow_missing
        self.destination = destination
        self.layout = layout
        self.max_deaths = max_deaths
        self.max_upload_parts = max_upload_parts  # parts uploading at once, across the pool
        self.max_object_tries = max_object_tries  # whole-object restarts on checksum mismatch
        self.object_tries: Dict[Tuple[int, str], int] = {}
        self.exit_code = ExitCode.OK
        self.entries: Dict[int, Entry] = {}
        self.queue: Deque[int] = deque()
        self.parts: Deque[int] = deque()
        self.upload_parts_inflight = 0
        self.local_dirs: Set[str] = set()
        self._next_id = 0

    # ------------------------------------------------------------ intake

    def add(self, job: jobs.Job, owner: Owner = None, first: bool = False) -> None:
        """Queue a job (parts of started objects go in the priority queue;
        ``first`` puts a job at the head of the ordinary one)."""
        job_id = self._next_id
        self._next_id += 1
        self.entries[job_id] = Entry(job, owner)
        if owner is not None:
            self.parts.append(job_id)
        elif first:
            self.queue.appendleft(job_id)
        else:
            self.queue.append(job_id)

    def add_get(self, req: GetRequest) -> None:
        """Queue a download, deriving its local path when the request has none."""
        try:
            parse_object_url(req.url)
        except ValueError as exc:
            self.emit(Result.failure(req.idx, req.url, ErrorKind.INVALID_URL, str(exc), 0))
            return
        try:
            local = req.local or local_path(self.destination, self.layout, req.url, req.range)
        except ValueError as exc:
            self.emit(Result.failure(req.idx, req.url, ErrorKind.LOCAL_FILE_ERROR, str(exc), 0))
            return
        directory = os.path.dirname(os.path.abspath(local))
        if directory not in self.local_dirs:
            if req.local is None and self.layout == "hashed":
                try:  # a subdirectory of our making (paths.local_path): private
                    os.makedirs(directory, 0o700, exist_ok=True)
                except OSError as exc:
                    kind = ERRNO_KINDS.get(exc.errno or 0, ErrorKind.LOCAL_FILE_ERROR)
                    message = f"{exc.strerror}: {directory}"
                    self.emit(Result.failure(req.idx, req.url, kind, message, 0))
                    return
            self.local_dirs.add(directory)
        self.add(jobs.GetJob(req, local))

    def emit(self, result: Result) -> None:
        """Write one result and fold it into the exit code."""
        self.exit_code = worst_exit(self.exit_code, exit_code_of(result, self.allow_missing))
        self._emit(result)

    # ------------------------------------------------------------- loop

    def run(self) -> ExitCode:
        """Run until every job has answered; always sweep temp files."""
        try:
            while True:
                self._dispatch()
                self._flush()
                if not self.pool.busy():
                    break  # dispatch drained every queue it could; nothing is in flight
                for event in self.pool.poll(timeout=1.0):
                    self._handle(event)
        finally:
            self._flush()
            self.sweep()
        return self.exit_code

    def _dispatch(self) -> None:
        while self.pool.free_slots() > 0:
            job_id = self._next_job()
            if job_id is None:
                return
            job = self.entries[job_id].job
            if isinstance(job, jobs.UploadPartJob):
                self.upload_parts_inflight += 1
            self.pool.submit(job_id, job)

    def _next_job(self) -> Optional[int]:
        while self.parts:
            job_id = self.parts[0]
            entry = self.entries[job_id]
            if entry.owner is not None and entry.owner.failed:
                self.parts.popleft()
                del self.entries[job_id]
                continue
            if isinstance(entry.job, jobs.UploadPartJob) and (
                self.upload_parts_inflight >= self.max_upload_parts
            ):
                break
            return self.parts.popleft()
        return self.queue.popleft() if self.queue else None

    def _handle(self, event: Any) -> None:
        if isinstance(event, Done):
            entry = self.entries.pop(event.job_id)
            self._settle(entry, event.outcome)
        elif isinstance(event, Died):
            for job_id, _ in event.jobs:
                self._orphaned(job_id, event.exitcode)

    def _orphaned(self, job_id: int, exitcode: Optional[int]) -> None:
        entry = self.entries[job_id]
        entry.deaths += 1
        if entry.deaths < self.max_deaths:
            if isinstance(entry.job, jobs.UploadPartJob):
                self.upload_parts_inflight -= 1
            (self.parts if entry.owner is not None else self.queue).appendleft(job_id)
            return
        del self.entries[job_id]
        idx, url = jobs.job_ident(entry.job)
        message = f"a worker died (exit code {exitcode}) {entry.deaths} times running this"
        self._settle(entry, Result.failure(idx, url, ErrorKind.WORKER_DIED, message))

    # -------------------------------------------------------- outcomes

    def _settle(self, entry: Entry, outcome: jobs.Outcome) -> None:
        if isinstance(entry.job, jobs.UploadPartJob):
            self.upload_parts_inflight -= 1
        if isinstance(outcome, Result) and entry.owner is not None:
            outcome = jobs.PartFailed(outcome) if not outcome.ok else jobs.PartDone()
        if isinstance(outcome, Result):
            self._finish(entry, outcome)
        elif isinstance(outcome, list):
            for res in outcome:
                self.emit(res)
        elif isinstance(outcome, jobs.Found):
            self._emit(outcome)  # objects found: ok results, the exit code stays as it is
        elif isinstance(outcome, jobs.SplitGet):
            self._split_get(outcome)
        elif isinstance(outcome, jobs.SplitPut):
            assert isinstance(entry.job, jobs.PutJob)
            self._split_put(entry.job, outcome)
        elif isinstance(outcome, jobs.Listed):
            self._listed(outcome)
        elif isinstance(outcome, jobs.Page):
            if outcome.more is not None:
                self.add(outcome.more, first=True)  # keep listing while this page's work runs
            self._settle(entry, outcome.found)
        elif isinstance(outcome, jobs.PartDone):
            self._part_done(entry.owner, outcome)
        elif isinstance(outcome, jobs.PartFailed):
            self._part_failed(entry.owner, outcome.result)

    def _finish(self, entry: Entry, result: Result) -> None:
        if isinstance(entry.job, jobs.AbortUploadJob):
            return  # an abort's own failure is not the request's result
        self.emit(result)

    def _listed(self, listed: jobs.Listed) -> None:
        for url, _size in listed.found:
            self.add_get(GetRequest(idx=listed.idx, url=url))

    # --------------------------------------------------- large downloads

    def _split_get(self, split: jobs.SplitGet) -> None:
        head = split.head
        assert head.local is not None and head.size is not None
        tmp = temp_path(head.local, self.settings.tmp_tag)
        try:
            sparse_on = _preallocate(tmp, head.size, self._sparse_bytes)
        except OSError as exc:
            kind = ERRNO_KINDS.get(exc.errno or 0, ErrorKind.LOCAL_FILE_ERROR)
            remove_file(tmp)
            self.emit(Result.failure(head.idx, head.url, kind, f"{exc.strerror}: {head.local}", 1))
            return
        aligned = _composite_sizes(split)
        md5_parts = _md5_part_sizes(split) if self.settings.verify else ()
        part_size = self.settings.part_size
        if aligned or md5_parts:  # checked part by part: no piece crosses a part boundary;
            # a part's CRC32 combines from its pieces, its MD5 does not (one piece per part)
            limit = part_size if aligned else MD5_PART_MAX
            pieces = [(o, n) for o, n, _ in aligned_spans(aligned or md5_parts, limit)]
            ranges = group_spans(pieces, part_size)  # small pieces share a range
        else:
            ranges = [(i, o, n, ()) for i, (o, n) in enumerate(spans(head.size, part_size))]
        key = (head.idx, head.url)
        self.object_tries[key] = self.object_tries.get(key, 0) + 1
        state = BigGet(split, tmp, len(ranges), self.object_tries[key], sparse_on=sparse_on)
        # With no whole-object or composite CRC32 to check, a CRC of the parts would be
        # 4 GB/s of wasted CPU.
        checksum = self.settings.verify and (split.crc32 is not None or bool(aligned))
        md5 = bool(md5_parts)
        for number, start, length, cuts in ranges:
            end = start + length - 1
            part = jobs.GetPartJob(
                head.idx, head.url, split.etag, number, start, end, tmp, checksum, md5, cuts
            )
            self.add(part, owner=state)

    def _sparse_bytes(self, device: int) -> int:
        """Bytes the unfinished sparse temp files on ``device`` may still take (at most)."""
        owners = {id(e.owner): e.owner for e in self.entries.values()}
        return sum(
            o.head.size or 0
            for o in owners.values()
            if isinstance(o, BigGet) and not o.failed and o.sparse_on == device
        )

    def _big_get_done(self, state: BigGet) -> None:
        """All parts are in: check size and checksum, then rename into place."""
        head, split = state.head, state.split
        size = os.path.getsize(state.tmp)
        if size != head.size:
            self._big_get_retry(state, f"assembled {size} of {head.size} bytes")
        elif self.settings.verify and split.crc32 is not None:
            got = crc32_of_parts(state.crcs[n] for n in sorted(state.crcs))
            if got != split.crc32:
                self._big_get_retry(state, f"CRC32 {got:08x}, object has {split.crc32:08x}")
            else:
                self._big_get_commit(state)
        elif self.settings.verify and (_composite_sizes(split) or _md5_part_sizes(split)):
            assert split.parts is not None
            digest, expected = self._digest_of_parts(state), split.parts.expected
            if digest != expected:
                what = f"{label(split.parts.algorithm)} mismatch: assembled {digest}"
                self._big_get_retry(state, f"{what}, object {expected}")
            else:
                self._big_get_commit(state)
        elif self.settings.verify and (split.md5 or split.parts) and not state.verifying:
            state.verifying = True  # the file read again: its MD5, or its parts' MD5s
            state.left = 1
            check = jobs.VerifyJob(
                head.idx, head.url, state.tmp, split.md5 or "", split.parts, split.part_sizes
            )
            self.add(check, owner=state)
        else:
            self._big_get_commit(state)

    def _digest_of_parts(self, state: BigGet) -> str:
        """What the parts' ranges digested to, in the form of ``split.parts.expected``."""
        split = state.split
        if _composite_sizes(split):
            crcs = [state.crcs[n] for n in sorted(state.crcs)]
            return composite_crc32(crcs, split.part_sizes, self.settings.part_size)
        return combine("md5", [state.md5s.get(n, b"") for n in range(len(split.part_sizes))])

    def _big_get_retry(self, state: BigGet, why: str) -> None:
        """Start the object over (a part was damaged), or give up as corrupt."""
        state.failed = True
        remove_file(state.tmp)
        head = state.head
        if state.tries < self.max_object_tries:
            req = GetRequest(idx=head.idx, url=head.url)
            assert head.local is not None
            self.add(jobs.GetJob(req, head.local))
            return
        message = f"{why}, after {state.tries} whole-object attempts"
        self.emit(Result.failure(head.idx, head.url, ErrorKind.CORRUPT, message, state.tries))

    def _big_get_commit(self, state: BigGet) -> None:
        head = state.head
        assert head.local is not None and head.size is not None
        try:
            os.chmod(state.tmp, self.settings.file_mode)
            os.replace(state.tmp, head.local)
        except OSError as exc:  # e.g. the target is a directory (keys 'a' and 'a/x')
            remove_file(state.tmp)
            kind = ERRNO_KINDS.get(exc.errno or 0, ErrorKind.LOCAL_FILE_ERROR)
            self.emit(Result.failure(head.idx, head.url, kind, f"{exc.strerror}: {head.local}"))
            return
        served = RangeServed(0, head.size - 1, head.size)
        attempts = max(state.attempts, head.attempts or 1)
        if not self.settings.info:
            head = Result(idx=head.idx, url=head.url, local=head.local, size=head.size)
        self.emit(_replace(head, range=served, attempts=attempts))

    # ----------------------------------------------------- large uploads

    def _split_put(self, job: jobs.PutJob, split: jobs.SplitPut) -> None:
        part_size = max(self.settings.part_size, -(-split.size // 10_000))  # S3: <= 10,000 parts
        ranges = spans(split.size, part_size)
        state = BigPut(job, split, len(ranges))
        req = job.req
        for number, (offset, length) in enumerate(ranges, start=1):
            part = jobs.UploadPartJob(
                req.idx, req.url, split.upload_id, number, req.local, offset, length
            )
            self.add(part, owner=state)

    def _part_done(self, owner: Owner, done: jobs.PartDone) -> None:
        if owner is None or owner.failed:
            return
        owner.left -= 1
        if isinstance(owner, BigGet):
            owner.attempts = max(owner.attempts, done.attempts)
        if isinstance(owner, BigPut):
            owner.parts[done.number] = done
        else:  # digests by piece: a range's own, or each of the pieces it spans
            pieces = done.pieces or ((done.crc32, done.length, done.md5),)
            for number, (crc, length, md5) in enumerate(pieces, start=done.number):
                if crc is not None:
                    owner.crcs[number] = (crc, length)
                if md5 is not None:
                    owner.md5s[number] = md5
        if owner.left > 0:
            return
        if isinstance(owner, BigGet):
            if owner.verifying:
                self._big_get_commit(owner)
            else:
                self._big_get_done(owner)
        else:
            self._complete_put(owner)

    def _complete_put(self, state: BigPut) -> None:
        done = [state.parts[n] for n in sorted(state.parts)]
        parts = tuple((d.number, d.etag or "", d.crc32) for d in done)
        crc = None
        if state.split.checksum and all(d.crc32 is not None for d in done):
            crc = crc32_of_parts((d.crc32 or 0, d.length) for d in done)
        req = state.job.req
        self.add(jobs.CompleteUploadJob(req, state.split.upload_id, parts, state.split.size, crc))

    def _part_failed(self, owner: Owner, result: Result) -> None:
        if owner is None or owner.failed:
            return
        if isinstance(owner, BigGet) and owner.verifying:
            self._big_get_retry(owner, result.error.message if result.error else "corrupt")
            return
        owner.failed = True
        if isinstance(owner, BigGet):
            remove_file(owner.tmp)
        else:
            req = owner.job.req
            self.add(jobs.AbortUploadJob(req.idx, req.url, owner.split.upload_id))
        self.emit(result)

    # ----------------------------------------------------------- cleanup

    def sweep(self) -> None:
        """Remove every temp file this run may have left (dead workers, Ctrl-C)."""
        for entry in self.entries.values():
            if isinstance(entry.owner, BigGet):
                remove_file(entry.owner.tmp)
        if not self.settings.tmp_tag:
            return
        pattern = TEMP_GLOB.format(tag=self.settings.tmp_tag)
        for directory in self.local_dirs:
            for path in glob.glob(os.path.join(glob.escape(directory), pattern)):
                remove_file(path)


def _preallocate(path: str, size: int, promised: Callable[[int], int]) -> Optional[int]:
    """Create the private temp file and make room (``make_room``); the device
    it is on if it was left sparse, else None."""
    fd = create_private(path)  # private until verified
    try:
        return make_room(fd, size, promised)
    finally:
        os.close(fd)


def _replace(result: Result, **changes: Any) -> Result:
    import dataclasses

    return dataclasses.replace(result, **changes)


def run_all(engine: Engine, requests: Iterable[jobs.Job]) -> ExitCode:
    """Queue ``requests`` and run the engine to the end."""
    for job in requests:
        engine.add(job)
    return engine.run()
