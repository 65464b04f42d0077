"""The parent's scheduler: requests in, one result line per request out.

It turns requests into jobs and feeds them to the pool: parts of objects
already started go first, so objects finish early and memory stays bounded.
Work comes in by ``add`` (one job now) or by ``feed`` (the job source hook:
an iterable read lazily, planned a window at a time as the pool has room;
``s3op.feed``), so a batch of any length runs in the memory of its window.
Each outcome a worker hands back goes through one table (``_HANDLERS``, by
outcome type): a result is emitted; a large object's first answer starts an
assembly (``s3op.assembly``), which the scheduler then hands its part events
and whose ``Step``s it carries out. The jobs of a worker that died are
queued again (a job that has seen ``max_deaths`` deaths fails as
``worker_died``: ``s3op.retry`` lists this among the layers that repeat
work). When the run ends, this run's temp files are swept.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from typing import (
    Any,
    Callable,
    Deque,
    Dict,
    Iterable,
    Optional,
    Protocol,
    Sequence,
    Set,
    Union,
    cast,
)

from s3op import jobs
from s3op.assembly import Assembly, Step
from s3op.assembly.copy import CopyAssembly
from s3op.assembly.download import DownloadAssembly
from s3op.assembly.upload import UploadAssembly
from s3op.errors import classify_local
from s3op.feed import FEED_WINDOW, Feed, T
from s3op.paths import local_path, sweep_temp_files
from s3op.pool import Died, Done
from s3op.protocol import (
    ErrorKind,
    ExitCode,
    GetRequest,
    Result,
    exit_code_of,
    parse_object_url,
    worst_exit,
)
from s3op.upload_split import UPLOAD_SLOTS

#: What the scheduler writes: a result, or a listing page's objects in compact form.
Emitted = Union[Result, jobs.Found]


class JobPool(Protocol):
    """The four calls the scheduler makes on a pool (``s3op.pool.Pool``)."""

    def free_slots(self) -> int:
        """How many more jobs can be handed out now."""

    def submit(self, job_id: int, job: jobs.Job) -> None:
        """Hand out a job (only while ``free_slots() > 0``)."""

    def busy(self) -> bool:
        """True while any job is in flight."""

    def poll(self, timeout: Optional[float]) -> Sequence[Union[Done, Died]]:
        """Wait for answers (``Done``) or deaths (``Died``)."""


@dataclass
class Entry:
    """A job the scheduler has handed out or will."""

    job: jobs.Job
    owner: Optional[Assembly] = None  # the large object this job is a part of
    quiet: bool = False  # its outcome is nobody's result (an abort's)
    deaths: int = 0  # workers that died running it


class Scheduler:
    """Runs one batch of jobs on a pool and emits results as they finish."""

    def __init__(
        self,
        pool: JobPool,
        settings: jobs.Settings,
        emit: Callable[[Emitted], None],
        allow_missing: bool = False,
        destination: str = ".",
        layout: str = "keys",
        max_deaths: int = 3,
        max_upload_parts: int = UPLOAD_SLOTS,
        max_object_tries: int = 3,
        flush: Callable[[], None] = lambda: None,
        observe: Optional[Callable[[jobs.Job, jobs.Outcome], None]] = None,
    ) -> None:
        self.pool = pool
        self._observe = observe  # told of every settled job (progress: listings' finds)
        self._flush = flush  # results are emitted buffered; flushed once per wake-up
        self.settings = settings
        self._emit = emit
        self.allow_missing = allow_missing
        self.destination = destination
        self.layout = layout
        self.max_deaths = max_deaths
        self.max_upload_parts = max_upload_parts  # parts uploading at once, across the pool
        self.max_object_tries = max_object_tries  # whole-object restarts on checksum mismatch
        self.exit_code = ExitCode.OK
        self.entries: Dict[int, Entry] = {}
        self.queue: Deque[int] = deque()
        self.parts: Deque[int] = deque()
        self.upload_parts_inflight = 0
        self.local_dirs: Set[str] = set()
        self._next_id = 0
        self._feed_error: Optional[Exception] = None
        self.feeds: Deque[Feed[Any]] = deque()  # sources read lazily, in turn

    # ------------------------------------------------------------ intake

    def feed(
        self,
        items: Iterable[T],
        plan: Optional[Callable[[T], None]] = None,
        window: int = FEED_WINDOW,
    ) -> Feed[T]:
        """The job source hook: read ``items`` lazily while the batch runs, each
        turned into jobs by ``plan`` (default: ``add``, for items that are jobs),
        so that at most ``window`` jobs wait to be handed out. Sources given
        in turn are read in turn. If ``items`` raises, no more is read, what was
        planned runs to the end, then ``run`` raises that exception."""
        source = Feed(
            items, plan if plan is not None else cast(Callable[[T], None], self.add), window
        )
        self.feeds.append(source)
        return source

    def _top_up(self) -> None:
        """Plan work from the feeds until the queue holds a window of jobs."""
        while self.feeds:
            source = self.feeds[0]
            source.top_up(lambda: len(self.queue))
            if not source.done:
                return
            if source.error is not None:
                self.feeds.clear()  # a failed source ends the intake
                self._feed_error = source.error
                return
            self.feeds.popleft()

    def add(self, job: jobs.Job, owner: Optional[Assembly] = None, first: bool = False) -> None:
        """Queue a job (parts of started objects go in the priority queue;
        ``first`` puts a job at the head of the ordinary one)."""
        self._queue(Entry(job, owner), first)

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
            self._refuse(req, exc, self.destination)
            return
        directory = os.path.dirname(os.path.abspath(local))
        try:
            self._note_dir(directory, ours=req.local is None)
        except OSError as exc:
            self._refuse(req, exc, directory)
            return
        dry = self.settings.dry_run
        self.add(jobs.DryGetJob(req, local) if dry else jobs.GetJob(req, local))

    def emit(self, result: Result) -> None:
        """Write one result and fold it into the exit code."""
        self.exit_code = worst_exit(self.exit_code, exit_code_of(result, self.allow_missing))
        self._emit(result)

    def _refuse(self, req: GetRequest, exc: Union[OSError, ValueError], path: str) -> None:
        """Fail a download before any job: its local path is unusable."""
        kind, message = classify_local(exc, path)
        self.emit(Result.failure(req.idx, req.url, kind, message, 0))

    def _note_dir(self, directory: str, ours: bool) -> None:
        """Note where downloads land (the sweep looks there). A directory of our
        making (the ``hashed`` layout's: ``paths.local_path``) is made, private."""
        if directory in self.local_dirs:
            return
        if ours and self.layout == "hashed" and not self.settings.dry_run:
            os.makedirs(directory, 0o700, exist_ok=True)
        self.local_dirs.add(directory)

    def _queue(self, entry: Entry, first: bool = False) -> None:
        job_id = self._next_id
        self._next_id += 1
        self.entries[job_id] = entry
        if entry.owner is not None:
            self.parts.append(job_id)
        elif first:
            self.queue.appendleft(job_id)
        else:
            self.queue.append(job_id)

    # ------------------------------------------------------------- loop

    def run(self) -> ExitCode:
        """Run until every job has answered and every feed is read; always sweep
        temp files. Raises what a feed's source raised, once the rest has run."""
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
        if self._feed_error is not None:
            raise self._feed_error
        return self.exit_code

    def _dispatch(self) -> None:
        self._top_up()
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
        if not self.queue:
            self._top_up()
        return self.queue.popleft() if self.queue else None

    def _handle(self, event: Union[Done, Died]) -> None:
        if isinstance(event, Done):
            self._settle(self.entries.pop(event.job_id), event.outcome)
            return
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
        message = f"a worker died (exit code {exitcode}) {entry.deaths} times running this"
        self._settle(entry, jobs.job_failed(entry.job, ErrorKind.WORKER_DIED, message))

    # -------------------------------------------------------- outcomes

    def _settle(self, entry: Entry, outcome: jobs.Outcome) -> None:
        """A job answered: hand its outcome to the handler for its type (``_HANDLERS``)."""
        if self._observe is not None:
            self._observe(entry.job, outcome)
        if isinstance(entry.job, jobs.UploadPartJob):
            self.upload_parts_inflight -= 1
        if not entry.quiet:  # an abort's outcome (even a failure) is not the request's result
            self._on(entry, outcome)

    def _on(self, entry: Entry, outcome: jobs.Outcome) -> None:
        _HANDLERS[type(outcome)](self, entry, outcome)

    def _on_result(self, entry: Entry, result: Result) -> None:
        if entry.owner is None:
            self.emit(result)
        elif result.ok:  # a part's own answer (a second read, a death): a part event
            self._on_part_done(entry, jobs.PartDone())
        else:
            self._on_part_failed(entry, jobs.PartFailed(result))

    def _on_results(self, entry: Entry, results: Iterable[Result]) -> None:
        for result in results:
            self.emit(result)

    def _on_found(self, entry: Entry, found: jobs.Found) -> None:
        self._emit(found)  # objects found: ok results, the exit code stays as it is

    def _on_listed(self, entry: Entry, listed: jobs.Listed) -> None:
        if listed.op == "delete":  # a page: at most 1,000 keys of one bucket
            if listed.found:
                bucket = parse_object_url(listed.found[0][0]).bucket
                items = tuple((listed.idx, url) for url, _size in listed.found)
                self.add(jobs.DeleteJob(bucket, items))
            return
        for url, _size in listed.found:
            self.add_get(GetRequest(idx=listed.idx, url=url))

    def _on_page(self, entry: Entry, page: jobs.Page) -> None:
        if page.more is not None:
            self.add(page.more, first=True)  # keep listing while this page's work runs
        self._on(entry, page.found)

    def _on_split_get(self, entry: Entry, split: jobs.SplitGet) -> None:
        assert isinstance(entry.job, jobs.GetJob)
        assembly = DownloadAssembly(entry.job, split, self.settings, self.max_object_tries)
        self._carry_out(assembly, assembly.start(self._sparse_bytes))

    def _on_split_put(self, entry: Entry, split: jobs.SplitPut) -> None:
        assert isinstance(entry.job, jobs.PutJob)
        assembly = UploadAssembly(entry.job, split, self.settings)
        self._carry_out(assembly, assembly.start())

    def _on_split_copy(self, entry: Entry, split: jobs.SplitCopy) -> None:
        assert isinstance(entry.job, jobs.CopyJob)
        assembly = CopyAssembly(entry.job, split, self.settings)
        self._carry_out(assembly, assembly.start())

    def _on_part_done(self, entry: Entry, done: jobs.PartDone) -> None:
        if entry.owner is not None:
            self._carry_out(entry.owner, entry.owner.part_done(done))

    def _on_part_failed(self, entry: Entry, failed: jobs.PartFailed) -> None:
        if entry.owner is not None:
            self._carry_out(entry.owner, entry.owner.part_failed(failed.result))

    def _carry_out(self, owner: Assembly, step: Step) -> None:
        """Queue what an assembly asked for; emit its result, if it has one."""
        for job in step.parts:
            self.add(job, owner)
        for job in step.jobs:
            self.add(job)
        for job in step.cleanup:
            self._queue(Entry(job, quiet=True))
        if step.result is not None:
            self.emit(step.result)

    def _sparse_bytes(self, device: int) -> int:
        """Bytes the unfinished sparse temp files on ``device`` may still take (at most)."""
        owners = {id(e.owner): e.owner for e in self.entries.values() if e.owner is not None}
        return sum(owner.sparse_bytes(device) for owner in owners.values())

    # ----------------------------------------------------------- cleanup

    def sweep(self) -> None:
        """Remove every temp file this run may have left (dead workers, Ctrl-C)."""
        for entry in self.entries.values():
            if entry.owner is not None:
                entry.owner.discard()
        if self.settings.tmp_tag:
            sweep_temp_files(self.local_dirs, self.settings.tmp_tag)


#: Outcome type -> its handler. Each handler takes the outcome of its key's type
#: (hence ``Any`` here: a dict cannot say which value goes with which key).
_HANDLERS: Dict[type, Callable[[Scheduler, Entry, Any], None]] = {
    Result: Scheduler._on_result,
    list: Scheduler._on_results,
    jobs.Found: Scheduler._on_found,
    jobs.Listed: Scheduler._on_listed,
    jobs.Page: Scheduler._on_page,
    jobs.SplitGet: Scheduler._on_split_get,
    jobs.SplitPut: Scheduler._on_split_put,
    jobs.SplitCopy: Scheduler._on_split_copy,
    jobs.PartDone: Scheduler._on_part_done,
    jobs.PartFailed: Scheduler._on_part_failed,
}


def run_all(scheduler: Scheduler, requests: Iterable[jobs.Job]) -> ExitCode:
    """Queue ``requests`` and run the scheduler to the end."""
    for job in requests:
        scheduler.add(job)
    return scheduler.run()


__all__ = ["Emitted", "Entry", "JobPool", "Scheduler", "run_all"]
