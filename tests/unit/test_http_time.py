"""``responses.http_time`` reads S3's date form itself: the same datetime as
``email.utils`` for every string, or the same error."""

from __future__ import annotations

import datetime
import email.utils
import random
from typing import List

import pytest

from s3op.responses import http_time

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _by_email(text: str) -> object:
    """email.utils' answer, or the type of the error it raises."""
    try:
        return email.utils.parsedate_to_datetime(text).astimezone(datetime.timezone.utc)
    except (TypeError, ValueError, IndexError, OverflowError) as exc:
        return type(exc)


def _ours(text: str) -> object:
    http_time.cache_clear()
    try:
        return http_time(text)
    except (TypeError, ValueError, IndexError, OverflowError) as exc:
        return type(exc)


def _fixdates(count: int) -> List[str]:
    rng = random.Random(19)
    out = []
    for _ in range(count):
        day, month = rng.randint(0, 32), rng.choice(_MONTHS)
        year = rng.choice((rng.randint(0, 120), rng.randint(1900, 2100), rng.randint(1, 9999)))
        clock = f"{rng.randint(0, 24):02d}:{rng.randint(0, 60):02d}:{rng.randint(0, 61):02d}"
        out.append(f"{rng.choice(_DAYS)}, {day:02d} {month} {year:04d} {clock} GMT")
    return out


ODD = [
    "Thu, 03 Dec 2026 19:47:40 GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT",
    "Xyz, 06 Nov 1994 08:49:37 GMT",  # the weekday is not checked by either
    "Sun, 06 Nov 0069 08:49:37 GMT",  # a year under 100: email.utils shifts it
    "Sun, 06 Nov 0099 08:49:37 GMT",
    "Sun, 06 Nov 0100 08:49:37 GMT",
    "Sun, 29 Feb 2024 23:59:59 GMT",
    "Sun, 29 Feb 2023 23:59:59 GMT",
    "Sun, 06 Nov 1994 08:49:60 GMT",
    "Sun, 06 Nov 1994 24:00:00 GMT",
    "Sunday, 06-Nov-94 08:49:37 GMT",  # RFC 850
    "Sun Nov  6 08:49:37 1994",  # asctime: no zone
    "Sun, 06 Nov 1994 08:49:37 +0200",
    "Sun, 06 Nov 1994 08:49:37 UTC",
    "Sun, 06 Nov 1994 08:49:37 -0000",
    "Sun, 6 Nov 1994 08:49:37 GMT",
    "Sun, 06 nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 8:49:37 GMT",
    "Sun, 06 Nov 1994 08:49 GMT",
    "Sun, ٠٦ Nov 1994 08:49:37 GMT",  # non-ASCII digits
    "Sun, 06 Nov 1994 08:49:37 GMT ",
    " Sun, 06 Nov 1994 08:49:37 GMT",
    "Sun,  06 Nov 1994 08:49:37 GMT",
    "",
    "garbage",
]


@pytest.mark.parametrize("text", ODD)
def test_same_answer_as_email_utils(text: str) -> None:
    assert _ours(text) == _by_email(text)


def test_same_answer_for_many_fixdates() -> None:
    texts = _fixdates(3000)
    answers = [_ours(t) for t in texts]
    assert answers == [_by_email(t) for t in texts]
    assert sum(isinstance(a, datetime.datetime) for a in answers) > 1000  # most parse


def test_an_s3_date_is_utc() -> None:
    got = _ours("Thu, 03 Dec 2026 19:47:40 GMT")
    assert got == datetime.datetime(2026, 12, 3, 19, 47, 40, tzinfo=datetime.timezone.utc)
    assert isinstance(got, datetime.datetime) and got.tzinfo is datetime.timezone.utc
