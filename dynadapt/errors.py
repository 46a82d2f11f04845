"""Exceptions a user can cause.

Every error that bad input can trigger (an unknown name, an invalid value, a wrong shape, a corrupted or
foreign file) is a :class:`DynadaptError`. The CLI turns it into one line on stderr and exit code 2; the
API lets it propagate. It subclasses :class:`ValueError` so that generic callers can still catch it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DynadaptError(ValueError):
    """An error caused by the user's input, reported as one clear line."""


class UnknownNameError(DynadaptError, KeyError):
    """A name (preset, env, family, planner, config field) that does not exist."""

    def __init__(self, kind: str, name: str, known: Iterable[str], suggestion: str | None = None) -> None:
        """Lists ``known``; the "did you mean" hint is ``suggestion``, else the closest of ``known``."""
        known = sorted(known)
        self.kind, self.name, self.known = kind, name, known
        close = [suggestion] if suggestion else difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        super().__init__(f"unknown {kind} {name!r}{hint}; known: {', '.join(known)}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class CorruptFileError(DynadaptError):
    """A file that is not what it claims to be (truncated, foreign, or from an incompatible version)."""


class WrongTypeError(DynadaptError, TypeError):
    """An argument of the wrong type (an API call with a string where an integer belongs, ...)."""
