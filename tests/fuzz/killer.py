"""Kill ``dynadapt`` at a chosen moment of its work on disk.

``python -m tests.fuzz.killer ROOT AT LOG ARGS...`` runs ``dynadapt ARGS`` and sends itself SIGKILL right
before the first write under ``ROOT`` that ``AT`` names (``EVENT:TEXT`` for the first such audit event
whose path contains TEXT, ``EVENT:^TEXT`` for one whose file name starts with TEXT, ``any:N`` for the N-th
write of any kind, ``never``). Every write under ROOT is appended to LOG as a JSON line ``[event, path]``.

The writes are seen through Python's audit hooks (``open`` for writing, ``os.mkdir``, ``os.rename`` (which
``os.replace`` raises too), ``os.remove``, ``os.rmdir``, ``os.chmod``, ``shutil.rmtree``), so the kill lands
exactly, e.g. between a checkpoint's temporary file and its rename, or in the middle of creating a run
directory, in a real process killed as ``kill -9`` would.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

EVENTS = {"os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.chmod", "shutil.rmtree"}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def written_path(event: str, args: tuple[Any, ...]) -> str | None:
    """The path an audit event writes to, or None when it writes nothing (or not to a named path)."""
    if event == "open":
        path, mode, flags = args
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags != -1 and flags & WRITE_FLAGS
        )
        return os.fsdecode(path) if writes and isinstance(path, str | bytes) else None
    if event in EVENTS and args and isinstance(args[0], str | bytes | os.PathLike):
        return os.fsdecode(args[0])
    return None


def main() -> None:
    root, at, log_path = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
    argv = sys.argv[4:]
    kind, _, text = at.partition(":")
    count = 0
    log = open(log_path, "a")  # noqa: SIM115 (open for the life of the process)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        nonlocal count
        path = written_path(event, args)
        if path is None or not os.path.abspath(path).startswith(root):
            return
        count += 1
        log.write(json.dumps([event, path]) + "\n")
        log.flush()
        if kind == "any":
            hit = count == int(text)
        elif text.startswith("^"):
            hit = kind == event and os.path.basename(path).startswith(text[1:])
        else:
            hit = kind == event and text in path
        if hit:
            os.kill(os.getpid(), signal.SIGKILL)

    from dynadapt.cli import main as dynadapt

    sys.addaudithook(hook)
    sys.exit(dynadapt(argv))


if __name__ == "__main__":
    main()
