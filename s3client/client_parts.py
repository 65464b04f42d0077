"""What ``S3`` gives the classes it is made of (``PutForms``, ``DataOps``,
``SyncForm``, ``IteratorForms``): its attributes and private helpers,
declared once here for the type checker. ``S3`` (``client.py``) defines them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple

from s3op.protocol import Request, Result


class ClientParts:
    """The part of ``S3`` its method groups use."""

    if TYPE_CHECKING:  # defined by S3
        _s3root: Optional[str]
        _tmpdir: str
        _encryption: Optional[str]

        def _url(self, key: Any) -> str: ...

        def _object_url(self, key: Any) -> str: ...

        def _get_target(self, key: Any) -> Tuple[str, Optional[str]]: ...

        def _new_batch(self) -> int: ...

        def _run(
            self, op: str, requests: Sequence[Request], flags: Sequence[str]
        ) -> List[Result]: ...


__all__ = ["ClientParts"]
