"""``s3op.run_batch``'s own logic, without S3: what it refuses before sending
anything, its sinks, how it sizes the pool and what the ops read from its options.
(Running batches against moto: ``tests/functional/test_run_batch.py``.)"""

from __future__ import annotations

import io
import json
from typing import List, Optional

import pytest

from s3op import jobs
from s3op.batch import (
    CallbackSink,
    LineSink,
    ResultSink,
    batch_settings,
    retry_policy,
    run_batch,
    worker_processes,
)
from s3op.options import (
    FORK_MIN_CPUS,
    IN_PROCESS_MAX,
    BatchOptions,
    BatchUsageError,
    DownloadOptions,
    RetryOptions,
    TransferOptions,
    options_from_values,
)
from s3op.protocol import ExitCode, GetRequest, InfoRequest, Result

FOUND = jobs.Found(
    idx=2,
    objects=(("s3://b/p/a", 3, 1700000000, '"e1"'), ("s3://b/p/b", 0, None, None)),
    prefixes=("s3://b/p/d/",),
)


# ---------------------------------------------------- refused before anything


def test_an_unknown_op_is_refused() -> None:
    with pytest.raises(BatchUsageError, match="no such op 'move'"):
        run_batch("move", [], BatchOptions(), [].append)


def test_a_request_of_another_op_is_refused_before_anything_runs() -> None:
    results: List[Result] = []
    with pytest.raises(BatchUsageError, match="a get batch cannot run a InfoRequest"):
        mixed = [GetRequest(0, "s3://b/k"), InfoRequest(1, "s3://b/k")]
        run_batch("get", mixed, BatchOptions(), results.append)
    assert results == []


def test_a_usage_error_exits_2() -> None:
    error = BatchUsageError("bad", param_hint="'--threads'")
    assert error.exit_code == ExitCode.USAGE == 2
    assert error.format() == "Error: Invalid value for '--threads': bad"
    assert BatchUsageError("empty batch").format() == "Error: empty batch"


# ------------------------------------------------------------------- sinks


def test_a_line_sink_writes_a_listing_page_as_its_results_lines() -> None:
    stream = io.StringIO()
    sink = LineSink(stream)
    sink.emit(Result(idx=0, url="s3://b/k", size=1))
    sink.emit(FOUND)
    lines = stream.getvalue().splitlines()
    assert lines == [Result(idx=0, url="s3://b/k", size=1).to_json()] + [
        r.to_json() for r in FOUND.results()
    ]
    assert all(json.loads(line)["idx"] in (0, 2) for line in lines)


def test_a_function_gets_every_result_one_at_a_time() -> None:
    results: List[Result] = []
    sink = CallbackSink(results.append)
    sink.emit(Result(idx=0, url="s3://b/k"))
    sink.emit(FOUND)
    sink.flush()
    assert results == [Result(idx=0, url="s3://b/k"), *FOUND.results()]
    assert len(results) == 4 and results[-1].is_prefix


def test_the_sinks_are_result_sinks_and_a_function_is_not() -> None:
    assert isinstance(LineSink(io.StringIO()), ResultSink)
    assert isinstance(CallbackSink(print), ResultSink)
    assert not isinstance([].append, ResultSink)


# ---------------------------------------------------------- pool and options


@pytest.mark.parametrize(
    "asked,hint,cpus,want",
    [
        (3, 10_000, 64, 3),  # as asked, whatever the batch
        (0, 10_000, 64, 0),
        (None, IN_PROCESS_MAX, 64, 0),  # small: in-process
        (None, IN_PROCESS_MAX + 1, 64, 64),  # big: one a CPU
        (None, 10_000, FORK_MIN_CPUS - 1, 0),  # too few CPUs to fork
    ],
)
def test_worker_processes(
    asked: Optional[int], hint: int, cpus: int, want: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: cpus)
    assert worker_processes(asked, hint) == want


def test_settings_and_policy_come_from_the_options() -> None:
    options = BatchOptions(
        retry=RetryOptions(retries=4, deadline=9.0, inject_failure_rate=12),
        transfer=TransferOptions(part_size=6 << 20, multipart_threshold=0),
        download=DownloadOptions(info=False, verify=False),
        overwrite=False,
    )
    settings = batch_settings(options)
    assert (settings.info, settings.verify, settings.no_overwrite) == (False, False, True)
    assert (settings.part_size, settings.multipart_threshold) == (6 << 20, 1)
    assert len(settings.tmp_tag) == 12 and settings.tmp_tag != batch_settings(options).tmp_tag
    policy = retry_policy(options)
    assert (policy.max_attempts, policy.deadline, policy.inject_failure_rate) == (4, 9.0, 12)


def test_settings_of_default_options_overwrite_info_and_verify() -> None:
    settings = batch_settings(BatchOptions())
    assert (settings.info, settings.verify, settings.no_overwrite) == (True, True, False)


def test_options_from_values_puts_each_value_in_its_piece() -> None:
    options = options_from_values(
        {"threads": 5, "deadline": 2.0, "layout": "hashed", "overwrite": False, "role": "r"}
    )
    assert options.pool.threads == 5 and options.retry.deadline == 2.0
    assert options.download.layout == "hashed" and options.overwrite is False
    assert options.role == "r" and options.transfer == TransferOptions()
    assert options_from_values({}) == BatchOptions()
