"""Validation at the edges: the checks every entry point shares, each written once.

A value that comes from a user (an API argument, a command-line word, a field of a file) is checked here
before anything is allocated or written, and a bad one is one :class:`~dynadapt.errors.DynadaptError` line:

* :func:`need_int`, :func:`need_str`, :func:`need_finite`, :func:`as_tensor`: the type (and range) of an
  API argument;
* :func:`check_value`, :func:`check_fields`: a config field against its annotation (integers are integers,
  no numeric field takes NaN or infinity), for every config read or built;
* :func:`check_seed`: seeds are integers in ``[0, 2**63)``;
* :func:`safe_name`: a name read from a file that becomes a path component (a sweep's trial directory)
  is one plain component: no separator, no ``..``, not hidden;
* :func:`check_memory`: what a config or a file asks to allocate (a buffer's capacity, a network, the
  task-by-task matrices of a long task sequence) fits in the memory of this machine;
* :func:`short`: a user's value quoted in an error message, cut to a readable length.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import re
import resource
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dynadapt.errors import DynadaptError, WrongTypeError

if TYPE_CHECKING:
    import torch

MAX_SEED = 2**63 - 1
"""The largest seed (seeds are non-negative integers below 2**63, what every generator accepts)."""

_SAFE_NAME = re.compile(r"[A-Za-z0-9_=+-][A-Za-z0-9._=+-]{0,199}")


def check(*conditions: tuple[bool, str]) -> None:
    """Raise :class:`DynadaptError` with the message of the first condition that does not hold."""
    for ok, message in conditions:
        if not ok:
            raise DynadaptError(message)


def short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut in the middle to about ``limit`` characters (for error messages)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}...({len(text) - 2 * half} characters)...{text[-half:]}"


def need_int(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise WrongTypeError(f"{name} must be an integer, got {short(value)}")
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f">= {low}" if high is None else f"in [{low if low is not None else '-inf'}, {high}]"
        raise DynadaptError(f"{name} must be {bounds}, got {number}")
    return number


def need_str(value: Any, name: str) -> str:
    """``value`` if it is a ``str``."""
    if not isinstance(value, str):
        raise WrongTypeError(f"{name} must be a string, got {short(value)}")
    return value


def need_finite(value: Any, name: str) -> float:
    """``value`` as a ``float`` if it is a real number (not a bool) that is neither NaN nor infinite."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise WrongTypeError(f"{name} must be a number, got {short(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise DynadaptError(f"{name} must be a finite number, got {number}")
    return number


def as_tensor(value: Any, name: str, dtype: torch.dtype | None = None, device: Any = None) -> torch.Tensor:
    """``value`` (a tensor, an array or nested lists of numbers) as a tensor of ``dtype``; anything else is
    one error naming ``name``."""
    import torch

    try:
        return torch.as_tensor(value, dtype=dtype, device=device)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        raise WrongTypeError(
            f"{name} must be a tensor (or array) of numbers, got {short(value, 60)}"
        ) from None


def check_value(value: Any, tp: Any, path: str) -> None:
    """Raise unless ``value`` has the type the annotation ``tp`` declares: an integer (not a bool) for
    ``int``, a finite number for ``float``, a bool, a string, one of a ``Literal``'s values, a list (or
    tuple) of such, an object for ``dict``; anything for an annotation this does not know."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return
        errors: list[DynadaptError] = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return check_value(value, arg, path)
            except DynadaptError as e:
                errors.append(e)
        raise errors[0]
    if origin is Literal:
        if not any(type(value) is type(a) and value == a for a in args):
            raise DynadaptError(f"{path} must be one of {', '.join(map(str, args))}, got {short(value)}")
    elif tp is bool:
        if not isinstance(value, bool):
            raise WrongTypeError(f"{path} must be true or false, got {short(value)}")
    elif tp is int:
        need_int(value, path)
    elif tp is float:
        need_finite(value, path)
    elif tp is str:
        need_str(value, path)
    elif origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise WrongTypeError(f"{path} must be a list, got {short(value)}")
        for item in value:
            check_value(item, args[0] if args else Any, path)
    elif origin is dict and not isinstance(value, Mapping):
        raise WrongTypeError(f"{path} must be an object, got {short(value)}")


def check_fields(cfg: Any, prefix: str = "") -> Any:
    """Check every field of the config dataclass ``cfg`` (nested ones too) against its annotation with
    :func:`check_value` (e.g. a config built in Python with ``lr=math.inf``); returns ``cfg``."""
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            check_fields(value, f"{prefix}{f.name}.")
        else:
            check_value(value, hints[f.name], prefix + f.name)
    return cfg


def check_seed(value: Any, name: str = "seed") -> int:
    """A seed: an integer in ``[0, 2**63)``."""
    return need_int(value, name, 0, MAX_SEED)


def safe_name(name: Any, what: str) -> str:
    """``name`` if it is one plain path component (letters, digits, ``._=+-``; no separator, no ``..``, not
    starting with a dot, at most 200 characters), e.g. a trial's directory name read from a manifest."""
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise DynadaptError(f"{what} {short(name)} is not a plain directory name (letters, digits, ._=+-)")
    return name


def memory_limit() -> int:
    """Bytes this process can have at most: the machine's memory, lowered by a cgroup limit or an rlimit."""
    limits = [os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")]
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            limits.append(int(text))
    for which in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
        soft, _ = resource.getrlimit(which)
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    return min(limits)


def check_memory(nbytes: float, what: str) -> None:
    """Raise if ``what`` (e.g. "a replay buffer of 10000000 transitions") needs more than the memory limit."""
    limit = memory_limit()
    if nbytes > limit:
        raise DynadaptError(
            f"{what} needs {_gib(nbytes)} of memory, more than the {_gib(limit)} this machine allows"
        )


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.3g} GiB"
