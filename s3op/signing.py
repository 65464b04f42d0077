"""botocore's SigV4 signer, fed a lighter request (``FastClient``'s signing).

botocore signs an ``AWSRequest`` whose headers are an ``email.message``
object: setting one header sanitises it, reading one walks every header.
That, and deriving the same signing key again for every request (four
HMACs), made up most of the ~42 us a request took to sign here.
``sign`` gives the signer a ``SignedRequest`` with the few attributes it
reads and ``Headers`` that behave like botocore's ``HTTPHeaders`` (case-
insensitive, repeatable names, ``get_all``), and ``Signer`` keeps the
derived key for the day. The canonical request, the string to sign and
every HMAC are still computed by botocore's ``S3SigV4Auth``; tests check
that both ways give the same headers. ~30 us a request, against ~42.

Credentials that expire are read afresh for each request: ``Signer`` takes
a function giving the current ones (``LiveCredentials.current``, which costs
~0.3 us while they have not changed) and signs each request with the set
it got then, kept per thread, so one signature never mixes two sets.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Tuple, Union, cast

from botocore.auth import SIGNED_HEADERS_BLACKLIST, S3SigV4Auth

from s3op.http1 import RequestBody

if TYPE_CHECKING:
    from botocore.credentials import Credentials  # not imported by botocore.auth


class Headers:
    """Request headers as botocore's signer uses them: names compare without
    case, a name set twice is kept twice (as ``HTTPHeaders`` does), ``del``
    removes every value, and items keep the order and spelling they were set
    with."""

    __slots__ = ("_items",)

    def __init__(self, items: Optional[Dict[str, str]] = None) -> None:
        self._items: List[Tuple[str, str, str]] = []  # (lower name, name, value)
        for name, value in (items or {}).items():
            self[name] = value

    def __setitem__(self, name: str, value: str) -> None:
        self._items.append((name.lower(), name, value))

    def __getitem__(self, name: str) -> str:
        lower = name.lower()
        for low, _, value in self._items:
            if low == lower:
                return value
        raise KeyError(name)

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The first value set for ``name`` (``default`` if none)."""
        try:
            return self[name]
        except KeyError:
            return default

    def get_all(self, name: str, failobj: Optional[List[str]] = None) -> Optional[List[str]]:
        """Every value set for ``name`` (``failobj`` if none)."""
        lower = name.lower()
        found = [value for low, _, value in self._items if low == lower]
        return found or failobj

    def __delitem__(self, name: str) -> None:
        lower = name.lower()
        self._items = [item for item in self._items if item[0] != lower]

    def __contains__(self, name: object) -> bool:
        lower = str(name).lower()
        return any(low == lower for low, _, _ in self._items)

    def __iter__(self) -> Iterator[str]:
        return (name for _, name, _ in self._items)

    def items(self) -> List[Tuple[str, str]]:
        return [(name, value) for _, name, value in self._items]


class SignedRequest:
    """The parts of an ``AWSRequest`` botocore's S3 signer reads and writes."""

    __slots__ = ("method", "url", "headers", "params", "body", "context")

    def __init__(
        self,
        method: str,
        url: str,
        headers: Dict[str, str],
        body: Optional[RequestBody],
        config: type,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = Headers(headers)
        self.params: Dict[str, str] = {}  # the query is in the URL, as botocore reads it
        self.body = body
        self.context: Dict[str, object] = {"client_config": config}  # the signer adds more


#: ((secret, day) it was derived for, signing key); (None, b""): none yet.
_DayKey = Tuple[Optional[Tuple[Optional[str], str]], bytes]


#: Credentials, or a function giving the current ones (anything with ``access_key``,
#: ``secret_key`` and ``token``: botocore's, or ``s3op.live_credentials.Frozen``).
CredentialSource = Union["Credentials", Callable[[], Any]]


class Signer(S3SigV4Auth):
    """botocore's S3 SigV4 signer; headers picked without ``HTTPHeaders``, the
    signing key derived once per secret and day, and the credentials read
    from their source once per request."""

    def __init__(self, credentials: CredentialSource, service: str, region: str) -> None:
        fixed = None if callable(credentials) else credentials
        self._source: Callable[[], Any] = credentials if callable(credentials) else lambda: fixed
        self._local = threading.local()  # .creds: the set signing this thread's request
        super().__init__(cast(Any, None), service, region)  # read per request instead
        self._key: _DayKey = (None, b"")

    @property
    def credentials(self) -> Any:  # botocore's signer reads it several times a request
        """The credentials signing this thread's current request."""
        return getattr(self._local, "creds", None)

    @credentials.setter
    def credentials(self, value: Any) -> None:
        """botocore's ``__init__`` sets it; ours come from the source, per request."""

    def add_auth(self, request: Any) -> None:
        """Sign ``request`` with the credentials current now."""
        self._local.creds = self._source()
        super().add_auth(request)

    def headers_to_sign(self, request: Any) -> Any:  # an AWSRequest or a SignedRequest
        """The headers to sign: ``Headers`` picked directly, without ``HTTPHeaders``."""
        if not isinstance(request.headers, Headers):
            return super().headers_to_sign(request)
        chosen = Headers()
        for name, value in request.headers.items():
            lower = name.lower()
            if lower not in SIGNED_HEADERS_BLACKLIST:
                chosen[lower] = value
        if "host" not in chosen:
            return super().headers_to_sign(request)  # botocore works the host out
        return chosen

    def signature(self, string_to_sign: str, request: Any) -> str:
        """botocore's signature, with the day's signing key derived once."""
        auth: Any = self  # botocore's own HMAC step and names (typed as private)
        secret = self.credentials.secret_key
        day = request.context["timestamp"][0:8]
        seen, key = self._key
        if seen != (secret, day):
            k_date = auth._sign(f"AWS4{secret}".encode(), day)
            k_region = auth._sign(k_date, auth._region_name)
            k_service = auth._sign(k_region, auth._service_name)
            key = auth._sign(k_service, "aws4_request")
            self._key = ((secret, day), key)  # one tuple: threads see old or new, whole
        return str(auth._sign(key, string_to_sign, hex=True))


def sign(
    signer: Signer,
    method: str,
    url: str,
    headers: Dict[str, str],
    body: Optional[RequestBody],
    config: type,
) -> List[Tuple[str, str]]:
    """The headers to send: ``headers`` plus the signature's."""
    request = SignedRequest(method, url, headers, body, config)
    signer.add_auth(cast(Any, request))  # duck-typed: what the signer reads
    return request.headers.items()
