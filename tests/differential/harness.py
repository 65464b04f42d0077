"""Run one call through ``metaflow.S3`` and ``s3client.S3`` and list every difference.

- :func:`compare` (``compare(mf_result, our_result)``): every observable difference
  between two results, as :class:`Mismatch` lines. S3Objects are compared on
  every public property (:data:`ATTRIBUTES`); lists and tuples element by
  element, in order; everything else by type name and value.
- :func:`compare_outcomes`: the same for two :class:`Outcome` (a value or an
  exception). Exceptions match through the one published mapping
  ``s3client.compat.equivalent``: ours must be an instance of
  ``equivalent(metaflow_exc)``; for a non-metaflow exception (``TypeError``...)
  ours must be an instance of metaflow's class.
- :class:`Pair` (``pair.run_both(label, fn)``): ``fn(s3)`` on both clients,
  metaflow's first, with an optional ``reset`` before each side and a
  ``snapshot`` of the bucket after each side (compared too, and kept in
  ``Outcome.bucket``). ``pair.call(method, ...)`` adds the URLs it names to
  the case's facts (``prefixes``, ``url``), resolved from the pair's ``root``.

Rules that are choices, not facts:

- ``path`` differs by construction (each client has its own temp dir): only
  ``path is None`` is compared.
- ``last_modified``: same type, and values within :data:`LAST_MODIFIED_TOLERANCE`
  (1 s): S3 keeps whole seconds in listings and HTTP dates, so a client may
  truncate or round, but an int where metaflow gives a float is a difference.
- Type names, not classes, are compared: ``RangeInfo`` and ``S3Object`` are
  different classes in the two packages by design.
"""

from __future__ import annotations

import hashlib
import operator
import posixpath
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from s3client.compat import equivalent

#: Every public property of an S3Object, in the order they are reported.
#: ``path is None`` stands for ``path`` (paths differ by construction).
ATTRIBUTES = (
    "exists",
    "downloaded",
    "url",
    "key",
    "prefix",
    "path is None",
    "blob",
    "text",
    "size",
    "content_type",
    "metadata",
    "encryption",
    "range_info",
    "last_modified",
    "has_info",
)

#: Largest accepted gap, in seconds, between the two ``last_modified`` values.
LAST_MODIFIED_TOLERANCE = 1.0


@dataclass(frozen=True)
class Mismatch:
    """One difference: where in the result, which attribute, both sides (shown)."""

    where: str  # "result", "result[3]", "error", "bucket['k']"
    attribute: str  # an S3Object attribute, or "" for the value itself
    metaflow: str
    s3client: str

    def __str__(self) -> str:
        place = f"{self.where}.{self.attribute}" if self.attribute else self.where
        return f"{place}: metaflow={self.metaflow} s3client={self.s3client}"


@dataclass
class Outcome:
    """What a call did: returned ``value`` or raised ``error`` (and how long it took)."""

    value: Any = None
    error: Optional[BaseException] = None
    seconds: float = 0.0
    bucket: Any = None  # the pair's snapshot after this side's call (None: no snapshot)

    @classmethod
    def of(cls, fn: Callable[..., Any], *args: Any) -> Outcome:
        """Call ``fn(*args)``; keep its value or its exception."""
        try:
            return cls(value=fn(*args))
        except Exception as exc:  # noqa: BLE001 - any exception is an observable outcome
            return cls(error=exc)

    def show(self) -> str:
        """The outcome for a report line."""
        return show_error(self.error) if self.error is not None else show(self.value)


# ------------------------------------------------------------------- rendering


def show(value: Any) -> str:
    """A short, stable rendering of a value (long bytes as length and digest)."""
    if isinstance(value, (bytes, bytearray)) and len(value) > 48:
        digest = hashlib.sha256(value).hexdigest()[:12]
        return f"<{len(value)} bytes sha256:{digest}>"
    if isinstance(value, str) and len(value) > 120:
        return repr(value[:100]) + f"...<{len(value)} chars>"
    if is_s3object(value):
        return f"<S3Object {value.url}>"
    text = repr(value)
    return text if len(text) <= 300 else text[:300] + "..."


def show_error(exc: BaseException) -> str:
    """``raise ClassName('first line of the message')``."""
    message = str(exc).strip().splitlines()
    first = message[0][:160] if message else ""
    return f"raise {type(exc).__name__}({first!r})"


# ------------------------------------------------------------------ comparing


def is_s3object(value: Any) -> bool:
    """True for either package's S3Object."""
    return type(value).__name__ == "S3Object"


def compare(mf: Any, ours: Any, where: str = "result") -> List[Mismatch]:
    """Every difference between metaflow's result ``mf`` and ours (empty: the same)."""
    if is_s3object(mf) and is_s3object(ours):
        return compare_objects(mf, ours, where)
    if type(mf).__name__ != type(ours).__name__:
        return [Mismatch(where, "", typed(mf), typed(ours))]
    if isinstance(mf, (list, tuple)):
        return compare_sequences(mf, ours, where)
    if isinstance(mf, dict):
        return compare_dicts(mf, ours, where)
    return [] if mf == ours else [Mismatch(where, "", show(mf), show(ours))]


def typed(value: Any) -> str:
    """A value with its type name (for a type mismatch)."""
    return f"{type(value).__name__} {show(value)}"


def compare_sequences(mf: Any, ours: Any, where: str) -> List[Mismatch]:
    """Fields (named tuples), length, then elements in order."""
    if getattr(mf, "_fields", None) != getattr(ours, "_fields", None):
        return [Mismatch(where, "_fields", show(mf._fields), show(getattr(ours, "_fields", None)))]
    found: List[Mismatch] = []
    if len(mf) != len(ours):
        found.append(Mismatch(where, "len()", str(len(mf)), str(len(ours))))
        if not all(is_s3object(x) for x in list(mf) + list(ours)):
            return found + [Mismatch(where, "", show(mf), show(ours))]
        return found + compare_urls(mf, ours, where)
    for i, (a, b) in enumerate(zip(mf, ours)):
        found.extend(compare(a, b, f"{where}[{i}]"))
    return found


def compare_urls(mf: Any, ours: Any, where: str) -> List[Mismatch]:
    """For S3Object lists of different lengths: the URLs one side has more often."""
    mf_urls = Counter(o.url for o in mf)
    our_urls = Counter(o.url for o in ours)
    only_mf = sorted((mf_urls - our_urls).elements())
    only_ours = sorted((our_urls - mf_urls).elements())
    return [Mismatch(where, "urls (extra on one side)", show(only_mf), show(only_ours))]


def compare_dicts(mf: Dict[Any, Any], ours: Dict[Any, Any], where: str) -> List[Mismatch]:
    """Keys, then the value of each common key."""
    found: List[Mismatch] = []
    if set(mf) != set(ours):
        only_mf = sorted(set(mf) - set(ours), key=repr)
        only_ours = sorted(set(ours) - set(mf), key=repr)
        found.append(Mismatch(where, "keys (only on one side)", show(only_mf), show(only_ours)))
    for key in mf:
        if key in ours:
            found.extend(compare(mf[key], ours[key], f"{where}[{key!r}]"))
    return found


def attribute(obj: Any, name: str) -> Outcome:
    """An S3Object property as an Outcome (a property may raise)."""
    if name == "path is None":
        return Outcome.of(lambda: obj.path is None)
    return Outcome.of(getattr, obj, name)


def compare_objects(mf: Any, ours: Any, where: str) -> List[Mismatch]:
    """Every property of :data:`ATTRIBUTES`, each by its own rule."""
    found: List[Mismatch] = []
    for name in ATTRIBUTES:
        a, b = attribute(mf, name), attribute(ours, name)
        if a.error is not None or b.error is not None:
            if not errors_match(a.error, b.error):
                found.append(Mismatch(where, name, a.show(), b.show()))
        elif name == "last_modified":
            if not same_time(a.value, b.value):
                found.append(Mismatch(where, name, typed(a.value), typed(b.value)))
        elif compare(a.value, b.value):
            found.append(Mismatch(where, name, *shown_pair(a.value, b.value)))
    return found


def shown_pair(mf: Any, ours: Any) -> Tuple[str, str]:
    """Both values for a report line, with type names when the types differ."""
    if type(mf).__name__ != type(ours).__name__:
        return typed(mf), typed(ours)
    return show(mf), show(ours)


def same_time(mf: Any, ours: Any) -> bool:
    """``last_modified`` rule: same type; both None or within the tolerance."""
    if type(mf) is not type(ours):
        return False
    if mf is None:
        return True
    return abs(mf - ours) <= LAST_MODIFIED_TOLERANCE


def errors_match(mf: Optional[BaseException], ours: Optional[BaseException]) -> bool:
    """Ours is what metaflow's exception maps to (both None also matches)."""
    if mf is None or ours is None:
        return mf is None and ours is None
    return isinstance(ours, expected_class(mf))


def expected_class(mf: BaseException) -> type:
    """The class our exception must be an instance of, for metaflow's ``mf``."""
    try:
        return equivalent(mf)
    except KeyError:  # not a metaflow exception: the very same type
        return type(mf)


def compare_outcomes(mf: Outcome, ours: Outcome) -> List[Mismatch]:
    """Both returned: compare values. Otherwise the exceptions (or their absence)."""
    if mf.error is None and ours.error is None:
        return compare(mf.value, ours.value)
    if errors_match(mf.error, ours.error):
        return []
    wanted = f" (wants {expected_class(mf.error).__name__})" if mf.error is not None else ""
    return [Mismatch("error", "", mf.show() + wanted, ours.show())]


# ---------------------------------------------------------------- running both


@dataclass
class Case:
    """One call run through both clients, and what differed."""

    label: str
    mode: str  # addressing mode of the pair, e.g. "s3root", "urls", "run+bucket"
    facts: Dict[str, Any]  # what the case is about, for the differences table
    metaflow: Outcome
    s3client: Outcome
    mismatches: List[Mismatch] = field(default_factory=list)

    @property
    def method(self) -> str:
        """The method the case calls: its label up to the first ``(``."""
        return self.label.split("(", 1)[0].strip()

    def __str__(self) -> str:
        return f"[{self.mode}] {self.label}"


Recorder = Callable[[Case], None]


#: Methods whose keys are prefixes (``get_all`` lists the root).
LISTINGS = ("list_paths", "list_recursive", "get_recursive", "get_all")
#: Methods whose first argument is one key.
ONE_KEY = ("get", "info", "put")


def resolve(root: Optional[str], key: Any) -> Any:
    """The URL metaflow makes of ``key`` under ``root`` (``root`` None: the key as given).

    ``None`` and ``""`` name the root; otherwise leading ``/`` are dropped and
    the key joined to the root (``os.path.join``, as metaflow does). A full
    URL stays itself (both clients refuse it under a root).
    """
    if root is None or not isinstance(key, (str, type(None))):
        return key
    if not key:
        return root
    return key if key.startswith("s3://") else posixpath.join(root, key.lstrip("/"))


class Pair:
    """A ``metaflow.S3`` and an ``s3client.S3`` built with the same arguments.

    ``root`` is the URL keys are relative to (without its trailing ``/``, as
    metaflow keeps it), or None when keys are full URLs.
    """

    def __init__(
        self,
        metaflow_s3: Any,
        our_s3: Any,
        mode: str,
        record: Recorder,
        reset: Optional[Callable[[], None]] = None,
        snapshot: Optional[Callable[[], Any]] = None,
        root: Optional[str] = None,
    ) -> None:
        self.metaflow = metaflow_s3
        self.ours = our_s3
        self.mode = mode
        self.root = root.rstrip("/") if root else None
        self._record = record
        self._reset = reset
        self._snapshot = snapshot

    def run_both(self, label: str, fn: Callable[[Any], Any], **facts: Any) -> Case:
        """``fn(s3)`` on metaflow's client, then ours; record the comparison.

        With ``reset`` the bucket is put back before each side; with
        ``snapshot`` what each side left in the bucket is compared as well.
        """
        mf = self._side(self.metaflow, fn)
        ours = self._side(self.ours, fn)
        found = compare_outcomes(mf, ours)
        if self._snapshot is not None:
            found += compare(mf.bucket, ours.bucket, "bucket")
        case = Case(label, self.mode, facts, mf, ours, found)
        self._record(case)
        return case

    def call(
        self,
        method: str,
        *args: Any,
        facts: Optional[Dict[str, Any]] = None,
        note: str = "",
        **kwargs: Any,
    ) -> Case:
        """``s3.<method>(*args, **kwargs)`` on both, labelled by the call (and ``note``).

        The keyword arguments are facts of the case (``return_missing``...),
        and so are the URLs the call names (:meth:`named_urls`); ``facts``
        adds more. Arguments are shared by both sides, so they must not be
        consumed by a call (give file objects through ``run_both``).
        """
        label = f"{method}({call_args(args, kwargs)}){note}"
        every_fact = {**kwargs, **self.named_urls(method, args, kwargs), **(facts or {})}
        return self.run_both(label, operator.methodcaller(method, *args, **kwargs), **every_fact)

    def named_urls(
        self, method: str, args: Tuple[Any, ...], kwargs: Dict[str, Any]
    ) -> Dict[str, Any]:
        """Facts naming what ``method(*args, **kwargs)`` addresses, as metaflow resolves it:
        ``prefixes`` (a listing: one URL per key; no keys: the root) or ``url``
        (get, info, put of one key given as a string or None)."""
        if method in LISTINGS:
            keys = args[0] if args else kwargs.get("keys")
            keys = [None] if keys is None else keys
            return {"prefixes": [resolve(self.root, k) for k in keys]}
        if method in ONE_KEY and args and isinstance(args[0], (str, type(None))):
            return {"url": resolve(self.root, args[0])}
        return {}

    def _side(self, s3: Any, fn: Callable[[Any], Any]) -> Outcome:
        if self._reset is not None:
            self._reset()
        start = time.monotonic()
        outcome = Outcome.of(fn, s3)
        outcome.seconds = time.monotonic() - start
        if self._snapshot is not None:
            outcome.bucket = self._snapshot()
        return outcome

    def close(self) -> None:
        """Close both clients."""
        self.metaflow.close()
        self.ours.close()


def call_args(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> str:
    """``args`` and ``kwargs`` as in a call; long lists abbreviated."""
    shown = [short_repr(a) for a in args] + [f"{k}={short_repr(v)}" for k, v in kwargs.items()]
    return ", ".join(shown)


def short_repr(value: Any) -> str:
    """``repr``, with lists of more than 20 items cut to their first 5 and a count,
    and long bytes as their length and digest."""
    if isinstance(value, list) and len(value) > 20:
        return repr(value[:5])[:-1] + f", ... {len(value)} items]"
    if isinstance(value, (bytes, bytearray)):
        return show(value)
    return repr(value)


def api(s3: Any) -> Any:
    """The package of ``s3`` (for its ``S3GetObject``/``S3PutObject``)."""
    import metaflow.plugins.datatools.s3 as metaflow_s3

    import s3client

    return metaflow_s3 if isinstance(s3, metaflow_s3.S3) else s3client


def get_object(s3: Any, key: Any, offset: Any, length: Any) -> Any:
    """``S3GetObject(key, offset, length)`` of the client's own package."""
    return api(s3).S3GetObject(key, offset, length)


#: An (offset, length) form of S3GetObject.
Range = Tuple[Optional[int], Optional[int]]


def ranged(key: str, forms: List[Range], **flags: Any) -> Callable[[Any], Any]:
    """``fn(s3)``: get_many of ``key`` with each range, in the client's S3GetObject."""
    return lambda s3: s3.get_many([get_object(s3, key, o, n) for o, n in forms], **flags)


def put_object(s3: Any, key: Any, **fields: Any) -> Any:
    """``S3PutObject(key, **fields)`` of the client's own package."""
    return api(s3).S3PutObject(key, **fields)
