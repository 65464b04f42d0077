"""Names a package re-exports but imports only when first asked for (PEP 562).

``s3op``, ``s3op.protocol`` and ``s3client`` keep a table ``{name: module}``
and answer a module-level ``__getattr__`` with ``load``: the name is taken
from its module, kept in the package's namespace (so the next lookup is a
plain one), and returned. A name not in the table is an ``AttributeError``
naming the package, as for any missing attribute.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping


def load(namespace: Dict[str, Any], table: Mapping[str, str], name: str) -> Any:
    """``name`` from the module ``table`` gives for it, kept in ``namespace``."""
    module = table.get(name)
    if module is None:
        raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    namespace[name] = value
    return value


__all__ = ["load"]
