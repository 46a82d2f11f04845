"""Honest files: atomic writes, and safetensors + JSON checkpoints that never execute code on load.

A checkpoint is one ``.safetensors`` file: the tensors, plus a JSON document stored in the safetensors
header metadata under the key ``"dynadapt"``. The JSON names the format (``"format"``), its version, and
whatever configuration is needed to rebuild the object. Writing goes to a temporary file in the same
directory, is flushed and fsynced, then renamed over the destination, so a reader (or a process killed
with ``kill -9`` in the middle of a write) sees either the old file or the new one, never a torn one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.torch
from torch import Tensor

from dynadapt.errors import CorruptFileError

META_KEY = "dynadapt"


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + fsync + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON (NaN/inf are written as null)."""
    atomic_write_text(path, json.dumps(_finite(obj), indent=2, sort_keys=False) + "\n")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float | np.floating):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def save_tensors(
    path: str | os.PathLike[str], tensors: dict[str, Tensor], fmt: str, meta: dict[str, Any]
) -> None:
    """Atomically save ``tensors`` with a JSON header ``{"format": fmt, **meta}``."""
    header = json.dumps({"format": fmt, **meta})
    contiguous = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    data = safetensors.torch.save(contiguous, metadata={META_KEY: header})
    atomic_write_bytes(path, data)


def load_tensors(path: str | os.PathLike[str], fmt: str) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Load a file written by :func:`save_tensors`; raise :class:`CorruptFileError` on anything else."""
    path = Path(path)
    if not path.is_file():
        raise CorruptFileError(f"{path}: no such file")
    try:
        data = path.read_bytes()
        tensors = safetensors.torch.load(data)
        with safetensors.safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(META_KEY)
    except Exception as e:  # safetensors raises several error types on garbage
        raise CorruptFileError(f"{path}: not a readable safetensors file ({type(e).__name__}: {e})") from None
    if raw is None:
        raise CorruptFileError(f"{path}: not a dynadapt file (no {META_KEY!r} header)")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError:
        raise CorruptFileError(f"{path}: corrupted dynadapt header") from None
    if meta.get("format") != fmt:
        raise CorruptFileError(f"{path}: expected a {fmt!r} file, found {meta.get('format')!r}")
    return tensors, meta


def flatten(prefix: str, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """Prefix every key with ``prefix.`` (to put several dicts in one file)."""
    return {f"{prefix}.{k}": v for k, v in tensors.items()}


def unflatten(prefix: str, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """The inverse of :func:`flatten`: the entries under ``prefix.``, with the prefix removed."""
    p = prefix + "."
    return {k[len(p) :]: v for k, v in tensors.items() if k.startswith(p)}
