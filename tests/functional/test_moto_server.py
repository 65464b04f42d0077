"""The moto server the tests run on keeps S3's contract for racing create-only writes.

moto checks ``If-None-Match: *`` and then writes, unlocked, on one thread per request;
:class:`tests.backends.MotoServer` serialises conditional writes so that of writers
racing one absent key exactly one wins, as on S3 and SeaweedFS (faults row 8 and
``overwrite=False`` rely on it). Here moto's write is slowed by 20 ms to hold the race
window open: on moto's own ``ThreadedMotoServer`` every key then gets several winners.
"""

from __future__ import annotations

import threading
import time
from typing import Any, List

import pytest
from botocore.exceptions import ClientError

from tests.backends import Backend


def _race(clients: List[Any], bucket: str, key: str) -> List[str]:
    """Every client puts ``key`` with ``If-None-Match: *`` at once; one answer each."""
    barrier = threading.Barrier(len(clients))
    answers: List[str] = []

    def write(i: int) -> None:
        barrier.wait()
        try:
            clients[i].put_object(Bucket=bucket, Key=key, Body=b"w%d" % i, IfNoneMatch="*")
            answers.append(f"won {i}")
        except ClientError as exc:
            answers.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_racing_create_only_writes_have_one_winner(
    s3backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.s3.models import S3Backend

    real_put = S3Backend.put_object

    def slow_put(self: Any, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.02)
        return real_put(self, *args, **kwargs)

    monkeypatch.setattr(S3Backend, "put_object", slow_put)
    clients = [s3backend.client() for _ in range(8)]  # one connection each
    for key_no in range(4):
        key = f"race/{key_no}"
        answers = _race(clients, s3backend.bucket, key)
        winners = [a for a in answers if a.startswith("won")]
        assert len(winners) == 1, (key, answers)
        assert sorted(set(answers) - set(winners)) == ["PreconditionFailed"], answers
        stored = clients[0].get_object(Bucket=s3backend.bucket, Key=key)["Body"].read()
        assert stored == b"w" + winners[0].split()[1].encode()
