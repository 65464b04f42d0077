"""What values each ``s3op`` option takes: integers and numbers in a range,
one of a few words, text, a manifest path, a rate. Each kind converts the
text given on a command line (``convert``), raising ``ValueError`` worded
as click words it; both parsers use them through ``s3op.cli_options``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple, Union

from s3op.bandwidth import parse_rate

# ---------------------------------------------------------------- values


@dataclass(frozen=True)
class IntRange:
    """An integer from ``low`` to ``high`` (None: no upper bound)."""

    low: int
    high: Optional[int] = None

    def convert(self, text: str) -> int:
        """The value of ``text``; ValueError, worded as click words it, if out of range."""
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a valid integer.") from None
        if value < self.low or (self.high is not None and value > self.high):
            bounds = f"{self.low}<=x" + ("" if self.high is None else f"<={self.high}")
            raise ValueError(f"{value} is not in the range {bounds}.")
        return value


@dataclass(frozen=True)
class FloatRange:
    """A number of at least ``low``."""

    low: float

    def convert(self, text: str) -> float:
        """The value of ``text``; ValueError if it is not a number of at least ``low``."""
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a valid float.") from None
        if not value >= self.low:  # NaN too
            raise ValueError(f"{value} is not in the range x>={self.low}.")
        return value


@dataclass(frozen=True)
class Choice:
    """One of a few words."""

    choices: Tuple[str, ...]

    def convert(self, text: str) -> str:
        """``text`` if it is one of the choices; ValueError otherwise."""
        if text not in self.choices:
            wanted = ", ".join(repr(c) for c in self.choices)
            raise ValueError(f"{text!r} is not one of {wanted}.")
        return text


@dataclass(frozen=True)
class Text:
    """Any string; ``directory``: it names a directory (for help)."""

    directory: bool = False

    def convert(self, text: str) -> str:
        """``text`` itself."""
        return text


@dataclass(frozen=True)
class Manifest:
    """The path of a JSONL manifest, ``-`` for stdin (opened by the parser)."""

    def convert(self, text: str) -> str:
        """The path itself."""
        return text


@dataclass(frozen=True)
class Rate:
    """A rate in bytes a second, with units: ``50MB/s`` (``s3op.bandwidth.parse_rate``)."""

    def convert(self, text: str) -> int:
        """Bytes a second; ``BandwidthError`` (a ValueError) if ``text`` is not a rate."""
        return parse_rate(text)


ValueKind = Union[IntRange, FloatRange, Choice, Text, Manifest, Rate]


__all__ = ["Choice", "FloatRange", "IntRange", "Manifest", "Rate", "Text", "ValueKind"]
