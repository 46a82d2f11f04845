"""Honest files: atomic writes, bounded parsing, locks, checksummed safetensors + JSON that never run code.

Writing: :func:`atomic_write_bytes` writes to a temporary file in the same directory
(``.NAME.XXXXXXXX.tmp``), flushes and fsyncs it, then renames it over the destination, so a reader (or
a process killed with ``kill -9`` in the middle of a write) sees either the old file or the new one,
never a torn one. It only ever replaces a regular file (never a device, a pipe, a directory or a
symbolic link) and keeps the permissions of the file it replaces (a new file gets the umask's). A kill
can leave a temporary file behind; :func:`remove_stale_temps` removes them (run and sweep directories do
so when they start).

Reading: :func:`read_text` reads regular files only (a pipe would block) up to a size limit;
:func:`parse_json` and :func:`read_data_file` (JSON or TOML) bound the nesting depth
(:data:`MAX_DEPTH`), and every problem is one :class:`~dynadapt.errors.CorruptFileError` line.

A tensor file is one ``.safetensors`` file: the tensors, plus a JSON document stored in the safetensors
header metadata under the key ``"dynadapt"``. The JSON names the format (``"format"``), its version,
whatever configuration is needed to rebuild the object, and ``"sha256"``, a checksum of the tensors (names,
dtypes, shapes, bytes) and of the rest of the JSON. Loading checks the header's every field (types,
dtypes, shapes, offsets against the file's size) before a tensor is allocated, then the checksum (files
written before checksums existed have none and are loaded unchecked).

:class:`FileLock` is the exclusive lock of a run or sweep directory (released by the kernel when the
process dies, even by ``kill -9``).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import stat
import struct
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import safetensors.torch
import torch
from torch import Tensor

from dynadapt.checks import check_memory
from dynadapt.errors import CorruptFileError, DynadaptError

META_KEY = "dynadapt"
CHECKSUM = "sha256"
"""The key of the checksum in a tensor file's JSON."""
MAX_DEPTH = 64
"""The deepest nesting of lists and objects a JSON or TOML file may have."""
MAX_DATA_FILE = 64 * 2**20
"""The largest JSON/TOML file (config, summary, manifest, grid, task sequence) read, in bytes."""
TEMP_SUFFIX = ".tmp"

_UMASK = os.umask(0)
os.umask(_UMASK)
_TEMP = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX))
"""The name of a temporary file or directory made by this module (``tempfile``'s 8 random characters)."""


# ------------------------------------------------------------------------------------------- writing
def replaceable(path: str | os.PathLike[str]) -> int:
    """The permission bits a file written to ``path`` gets: those of the regular file there, or the
    umask's for a new one. Anything else at ``path`` (a directory, device, pipe, socket or symbolic link)
    is refused: dynadapt only ever replaces files it could have written."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return default_mode()
    if not stat.S_ISREG(st.st_mode):
        raise DynadaptError(f"{path} exists and is not a regular file; refusing to replace it")
    return stat.S_IMODE(st.st_mode)


def default_mode(directory: bool = False) -> int:
    """The permission bits of a new file (or directory) under this process's umask."""
    return (0o777 if directory else 0o666) & ~_UMASK


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + fsync + rename), keeping its permissions."""
    path = Path(path)
    mode = replaceable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
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


def probe_directory(directory: str | os.PathLike[str]) -> None:
    """Raise the ``OSError`` that writing a file in ``directory`` (or in its nearest existing ancestor,
    where the missing part would be created) would raise (a read-only file system, no permission) now,
    before work whose other outputs would otherwise be written first. Creates nothing that stays."""
    d = Path(directory)
    while not d.exists() and d != d.parent:
        d = d.parent
    if d.is_dir():
        with tempfile.TemporaryFile(dir=d):
            pass


def write_figure(fig: Any, path: str | os.PathLike[str], **savefig: Any) -> Path:
    """Atomically write the matplotlib figure ``fig`` to ``path`` (format from the suffix); returns it."""
    path = Path(path)
    replaceable(path)  # before the figure is drawn
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", **savefig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def temp_of(name: str) -> str | None:
    """The name a temporary file or directory of :mod:`dynadapt.io` is for, or None if it is not one."""
    m = _TEMP.fullmatch(name)
    return m.group("name") if m else None


def remove_stale_temps(directory: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files a killed writer left in ``directory`` (not recursive; call it only while
    holding the directory's lock, so that no writer is at work there). Returns the names removed."""
    removed = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and temp_of(entry.name) is not None:
                os.unlink(entry.path)
                removed.append(entry.name)
    return removed


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


# ------------------------------------------------------------------------------------------- reading
def read_bytes(path: str | os.PathLike[str], limit: int | None = None) -> bytes:
    """The content of the regular file ``path`` (at most ``limit`` bytes: a larger file is refused)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DynadaptError(f"{path}: no such file") from None
    if not stat.S_ISREG(st.st_mode):
        raise DynadaptError(f"{path} is not a regular file")
    if limit is not None and st.st_size > limit:
        raise CorruptFileError(f"{path}: {st.st_size} bytes, more than the {limit} allowed for this file")
    with open(path, "rb") as f:
        return f.read()


def read_text(path: str | os.PathLike[str], limit: int = MAX_DATA_FILE) -> str:
    """The UTF-8 text of the regular file ``path`` (at most ``limit`` bytes)."""
    try:
        return read_bytes(path, limit).decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptFileError(f"{path}: not a UTF-8 text file") from None


def parse_json(text: str, where: str) -> Any:
    """``json.loads(text)``; invalid or too deeply nested JSON is one error naming ``where``."""
    return _decoded(json.loads, text, where, "JSON")


def read_data_file(path: str | os.PathLike[str]) -> Any:
    """A JSON or TOML (by suffix ``.toml``) file's content, bounded in size and nesting depth."""
    path = Path(path)
    if path.suffix.lower() == ".toml":
        return _decoded(tomllib.loads, read_text(path), str(path), "TOML")
    return parse_json(read_text(path), str(path))


def _decoded(loads: Callable[[str], Any], text: str, where: str, language: str) -> Any:
    try:
        data = loads(text)
    except RecursionError:
        raise CorruptFileError(f"{where}: nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as e:  # a decode error, or an integer of more digits than Python converts
        raise CorruptFileError(f"{where}: not a valid {language} file ({e})") from None
    check_depth(data, where)
    return data


def check_depth(data: Any, where: str, limit: int = MAX_DEPTH) -> None:
    """Raise if lists and dicts in ``data`` nest deeper than ``limit`` (iterative: no recursion limit)."""
    stack = [(data, 1)]
    while stack:
        obj, depth = stack.pop()
        if isinstance(obj, dict | list):
            if depth > limit:
                raise CorruptFileError(f"{where}: nested more than {limit} levels deep")
            stack.extend((v, depth + 1) for v in (obj.values() if isinstance(obj, dict) else obj))


# ------------------------------------------------------------------------------------- tensor files
_DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
"""Bytes per element of every safetensors dtype this version reads."""


def tensor_digest(tensors: Mapping[str, Tensor], meta: Mapping[str, Any]) -> str:
    """SHA-256 of ``meta`` (as sorted JSON) and of every tensor's name, dtype, shape and bytes."""
    h = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous().reshape(-1)
        h.update(f"\0{name}\0{t.dtype}\0{list(tensors[name].shape)}\0".encode())
        h.update(t.view(torch.uint8).numpy().data)
    return h.hexdigest()


def save_tensors(
    path: str | os.PathLike[str], tensors: dict[str, Tensor], fmt: str, meta: dict[str, Any]
) -> None:
    """Atomically save ``tensors`` with a JSON header ``{"format": fmt, **meta, "sha256": checksum}``."""
    contiguous = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    header = json.loads(json.dumps({"format": fmt, **meta}))  # what a reader will see
    header[CHECKSUM] = tensor_digest(contiguous, header)
    data = safetensors.torch.save(contiguous, metadata={META_KEY: json.dumps(header)})
    atomic_write_bytes(path, data)


def load_tensors(path: str | os.PathLike[str], fmt: str) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Load a file written by :func:`save_tensors`; raise :class:`CorruptFileError` on anything else."""
    path = Path(path)
    if not path.is_file():
        raise CorruptFileError(f"{path}: no such file")
    check_memory(path.stat().st_size * 2, f"loading {path}")
    data = read_bytes(path)
    raw = _check_header(data, str(path))
    try:
        tensors = safetensors.torch.load(data)
    except Exception as e:  # safetensors raises several error types on garbage
        raise CorruptFileError(f"{path}: not a readable safetensors file ({type(e).__name__}: {e})") from None
    if raw is None:
        raise CorruptFileError(f"{path}: not a dynadapt file (no {META_KEY!r} header)")
    meta = parse_json(raw, f"{path}: dynadapt header")
    if not isinstance(meta, dict):
        raise CorruptFileError(f"{path}: corrupted dynadapt header (not a JSON object)")
    if meta.get("format") != fmt:
        raise CorruptFileError(f"{path}: expected a {fmt!r} file, found {meta.get('format')!r}")
    if CHECKSUM in meta:
        saved = meta.pop(CHECKSUM)
        if saved != tensor_digest(tensors, meta):
            raise CorruptFileError(f"{path}: checksum mismatch (the file is corrupted or was edited)")
    return tensors, meta


def _check_header(data: bytes, where: str) -> str | None:
    """Check the safetensors header of ``data`` field by field; returns the dynadapt JSON (None if absent)."""
    if len(data) < 8:
        raise CorruptFileError(f"{where}: not a safetensors file (only {len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if not 2 <= n <= len(data) - 8:
        raise CorruptFileError(f"{where}: header of {n} bytes in a file of {len(data)} bytes")
    try:
        header = parse_json(data[8 : 8 + n].decode("utf-8"), f"{where}: safetensors header")
    except UnicodeDecodeError:
        raise CorruptFileError(f"{where}: safetensors header is not UTF-8") from None
    if not isinstance(header, dict):
        raise CorruptFileError(f"{where}: safetensors header is not a JSON object")
    body = len(data) - 8 - n
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CorruptFileError(f"{where}: safetensors metadata must map names to strings")
    for name, entry in header.items():
        bad = f"{where}: tensor {name!r}"
        if not isinstance(entry, dict) or entry.get("dtype") not in _DTYPE_BYTES:
            raise CorruptFileError(f"{bad} has no known dtype")
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        if not (isinstance(shape, list) and all(_count(s) for s in shape)):
            raise CorruptFileError(f"{bad}: shape must list non-negative integers")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_count(o) for o in offsets)):
            raise CorruptFileError(f"{bad}: data_offsets must be two non-negative integers")
        begin, end = offsets
        if not begin <= end <= body or end - begin != math.prod(shape) * _DTYPE_BYTES[entry["dtype"]]:
            raise CorruptFileError(f"{bad}: declared size does not match its bytes in the file")
    return meta.get(META_KEY)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def flatten(prefix: str, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """Prefix every key with ``prefix.`` (to put several dicts in one file)."""
    return {f"{prefix}.{k}": v for k, v in tensors.items()}


def unflatten(prefix: str, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """The inverse of :func:`flatten`: the entries under ``prefix.``, with the prefix removed."""
    p = prefix + "."
    return {k[len(p) :]: v for k, v in tensors.items() if k.startswith(p)}


# --------------------------------------------------------------------------------------------- locks
class FileLock:
    """An exclusive ``flock`` on the file ``path`` (created if missing), held from :meth:`acquire` (or
    ``with``) to :meth:`release`; the kernel releases it when the process dies, even by ``kill -9``.

    ``busy`` is the error raised when another process holds it; with ``wait`` the call blocks instead. A
    process forked while holding it does not keep it alive after the holder died (the child closes its
    copy)."""

    _held: ClassVar[set[FileLock]] = set()

    def __init__(self, path: str | os.PathLike[str], busy: str = "", wait: bool = False) -> None:
        self.path = Path(path)
        self.busy = busy or f"{self.path}: locked by another process"
        self.wait = wait
        self.fd: int | None = None

    def acquire(self) -> FileLock:
        """Take the lock (a lock already held is kept: ``with lock`` works on a held one)."""
        import fcntl

        if self.fd is not None:
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if self.wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DynadaptError(self.busy) from None
        self.fd = fd
        FileLock._held.add(self)
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the last descriptor releases the flock
            self.fd = None
        FileLock._held.discard(self)

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    @classmethod
    def _forget_in_child(cls) -> None:
        for lock in list(cls._held):
            if lock.fd is not None:
                os.close(lock.fd)
                lock.fd = None
        cls._held.clear()


os.register_at_fork(after_in_child=FileLock._forget_in_child)
