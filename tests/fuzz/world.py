"""The files the fuzz suite attacks: a finished tiny run, a resumable one, a sweep, grid and sequence files;
crafted variants of them; and snapshots that tell whether anything that was there has changed.

A *world* is a directory holding copies of these (built once per session with :func:`base_world`, copied
once per case so that every case attacks its own). ``outside/keep.txt`` is the sentinel that nothing beside
the files a command was given is touched (a manifest naming a trial ``../../outside`` points at it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import signal
import stat
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from dynadapt.io import save_tensors
from dynadapt.runs import launch
from dynadapt.runs.config import apply_overrides, parse_override_args
from dynadapt.runs.presets import get_preset
from dynadapt.sweep.grid import SweepSpec
from dynadapt.sweep.manifest import Manifest
from dynadapt.sweep.run import grid_record

PRESET = "pets-pendulum"
TINY = [
    "episodes=2",
    "task.episode_steps=12",
    "eval.episodes=1",
    "model.hidden=8",
    "model.max_epochs=2",
    "model.ensemble_size=2",
    "planner.population=12",
    "planner.elites=3",
    "planner.iterations=1",
    "mpc.horizon=4",
    "mpc.particles=2",
]
"""A PETS run of about a second."""
CHECKPOINT = "part/checkpoints/last.safetensors"
RUN_DIRS = ("run", "part", "sweep")
"""The run and sweep directories of a world (a case gets a copy of those its command line names)."""


def tiny_run(out: Path, *extra: str) -> dict[str, Any]:
    preset = get_preset(PRESET)
    cfg = apply_overrides(preset.make(), parse_override_args([*TINY, *extra]))
    return launch.start(preset, cfg, out, progress=False)


def base_world(root: Path) -> Path:
    """Build the files every case gets a copy of; returns ``root``."""
    root.mkdir(parents=True)
    tiny_run(root / "run")
    shutil.copytree(root / "run", root / "part")
    (root / "part" / "summary.json").unlink()
    spec = SweepSpec(presets=[PRESET], common=parse_override_args(TINY), seeds=[0])
    manifest = Manifest(root / "sweep", spec.trials(), grid_record(spec))
    trial = manifest.trials[0]
    manifest.entries[trial.name].update(status="done", attempts=1)
    shutil.copytree(root / "run", root / "sweep" / trial.name)
    manifest.save()
    (root / "grid.toml").write_text(f'presets = ["{PRESET}"]\nseeds = [0]\n')
    (root / "seq.json").write_text(json.dumps({"tasks": [{"env": "pendulum", "params": {"mass": 1.5}}]}))
    (root / "file.txt").write_text("a user's file\n")
    (root / "adir").mkdir()
    (root / "adir" / "mine.txt").write_text("a user's directory\n")
    (root / "outside").mkdir()
    (root / "outside" / "keep.txt").write_text("must survive every case\n")
    return root


def special_files(world: Path) -> None:
    """Add what is not a regular file: a FIFO, a symbolic link and (as root) a character device."""
    os.mkfifo(world / "fifo")
    (world / "link").symlink_to(world / "outside" / "keep.txt")
    if os.geteuid() == 0:
        os.mknod(world / "dev", 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a copy of /dev/null


def trial_name(world: Path) -> str:
    return str(json.loads((world / "sweep" / "manifest.json").read_text())["trials"][0]["name"])


# ------------------------------------------------------------------------------------- crafted files
def deep_json(depth: int = 5000) -> str:
    return "[" * depth + "]" * depth


def deep_toml(depth: int = 3000) -> str:
    return "x = " + "[" * depth + "]" * depth + "\n"


def edit_json(path: Path, change: Any) -> None:
    """Apply ``change(data) -> data`` to the JSON file ``path`` (written as plain JSON)."""
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def checkpoint_parts(path: Path) -> tuple[int, dict[str, Any], bytes]:
    """``(header length, header, data)`` of a safetensors file."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return n, json.loads(raw[8 : 8 + n]), raw[8 + n :]


def write_parts(path: Path, header: Any, data: bytes, length: int | None = None) -> None:
    """Write a safetensors file from a header (JSON text, or an object to encode) and data bytes, optionally
    lying about the header's length."""
    text = (header if isinstance(header, str) else json.dumps(header)).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + data)


def rewrite(
    path: Path, header: Any = None, entry: dict[str, Any] | None = None, length: int | None = None
) -> None:
    """Rewrite the safetensors file ``path`` with its header replaced by ``header`` (JSON text, or an object
    to encode), its first tensor's entry updated with ``entry``, or its header's length declared as
    ``length``; the data and the checksum are left as they were."""
    _, old, data = checkpoint_parts(path)
    if entry is not None:
        name = next(k for k in old if k != "__metadata__")
        old[name] = {**old[name], **entry}
    write_parts(path, old if header is None else header, data, length)


def edit_header(path: Path, change: Any) -> None:
    """Apply ``change(dynadapt meta) -> meta`` to the dynadapt JSON of a tensor file, checksum untouched."""
    _, header, data = checkpoint_parts(path)
    meta = json.loads(header["__metadata__"]["dynadapt"])
    header["__metadata__"]["dynadapt"] = json.dumps(change(meta))
    write_parts(path, header, data)


def resave(path: Path, change: Any) -> None:
    """Rewrite a tensor file with ``change(tensors, meta)`` applied and a valid checksum (what a forger who
    read this code would do): only the header's checks can catch it."""
    from safetensors.torch import load

    raw = path.read_bytes()
    tensors = load(raw)
    _, header, _ = checkpoint_parts(path)
    meta = json.loads(header["__metadata__"]["dynadapt"])
    fmt = meta.pop("format")
    meta.pop("sha256", None)
    tensors, meta = change(tensors, meta)
    save_tensors(path, tensors, fmt, meta)


def flip_byte(path: Path, offset_from_end: int = 10) -> None:
    raw = bytearray(path.read_bytes())
    raw[-offset_from_end] ^= 0xFF
    path.write_bytes(bytes(raw))


# ------------------------------------------------------------------------------------------ snapshots
def snapshot(root: Path) -> dict[str, Any]:
    """Every path under ``root`` (links not followed) with what identifies its content."""
    out: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    out[rel] = ("file", hashlib.sha256(f.read()).hexdigest(), stat.S_IMODE(st.st_mode))
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir",)
            else:
                out[rel] = ("special", stat.S_IFMT(st.st_mode), st.st_rdev)
    return out


IGNORED = {".lock"}
"""Names a failing command may create: the lock file of a run directory it looked at."""


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[str], list[str]]:
    """``(changed or removed paths, created paths)`` between two snapshots."""
    changed = sorted(p for p, v in before.items() if after.get(p) != v)
    created = sorted(p for p in after if p not in before and Path(p).name not in IGNORED)
    return changed, created


# ------------------------------------------------------------------------------------ read-only place
def readonly_dir(path: Path, fill: Path | None = None) -> bool:
    """Make ``path`` a read-only directory (holding a copy of ``fill``): a read-only tmpfs as root where
    mounting is allowed, a mode-0555 directory otherwise. False if neither is possible here."""
    path.mkdir(parents=True)
    if os.geteuid() != 0:
        if fill is not None:
            shutil.copytree(fill, path / fill.name)
        path.chmod(0o555)
        return True
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        return False
    if fill is not None:
        shutil.copytree(fill, path / fill.name)
    return subprocess.run(["mount", "-o", "remount,ro", str(path)], capture_output=True).returncode == 0


def release_readonly(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["umount", str(path)], capture_output=True)
    elif path.exists():
        path.chmod(0o755)


# ------------------------------------------------------------------------------------ real processes
def cli(
    *args: str, timeout: float = 120, limits: dict[int, int] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m dynadapt.cli ARGS`` in a fresh process (under the resource ``limits``, e.g.
    ``{resource.RLIMIT_FSIZE: bytes}``: a full disk, SIGXFSZ ignored so that a write fails with EFBIG)."""
    return subprocess.run(
        [sys.executable, "-m", "dynadapt.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=(lambda: _limit(limits)) if limits else None,
    )


def _limit(limits: dict[int, int]) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    for which, value in limits.items():
        resource.setrlimit(which, (value, resource.getrlimit(which)[1]))


def one_error_line(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Assert the promised failure: exit 2, one line ``dynadapt: error: ...`` (naming ``fragments``)."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, (proc.returncode, proc.stderr[-2000:])
    assert lines[0].startswith("dynadapt: error: ") and "Traceback" not in proc.stderr, proc.stderr
    for text in fragments:
        assert text in lines[0], lines[0]
    return lines[0]


TEMP = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")
"""The name of the temporary file (or directory) of an atomic write: ``.NAME.XXXXXXXX.tmp``."""


def leftovers(root: Path) -> list[str]:
    """The temporary files and directories of atomic writes under ``root``."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if TEMP.fullmatch(p.name))


def same_results(run: Path, ref: Path) -> bool:
    """Whether ``run`` ended with the summary and the (untimed) metrics rows of ``ref``."""

    def untimed(d: Path) -> list[dict[str, Any]]:
        rows = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in r.items() if not k.startswith("time/") and "ms_per" not in k} for r in rows]

    summary = json.loads((run / "summary.json").read_text())
    return summary == json.loads((ref / "summary.json").read_text()) and untimed(run) == untimed(ref)


def killed(root: Path, at: str, *args: str) -> int:
    """``dynadapt ARGS`` killed right before its first write under ``root`` that ``at`` names (see
    :mod:`tests.fuzz.killer`); returns the exit status (-9: killed)."""
    log = root.parent / "writes.jsonl"
    cmd = [sys.executable, "-m", "tests.fuzz.killer", str(root), at, str(log), *args]
    return subprocess.run(cmd, capture_output=True, timeout=120).returncode
