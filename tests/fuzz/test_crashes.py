"""Full disks, with real processes: a write that fails for want of space (a file-size limit: EFBIG; a full
tmpfs where one can be mounted: ENOSPC) is one error line, after which the run continues with nothing
lost. (Kills at chosen and random moments are in ``test_issue_classes.py``.)"""

from __future__ import annotations

import resource
import shutil
import subprocess
from pathlib import Path

import pytest

from dynadapt.runs.rundir import RunDir
from tests.fuzz import world as W


def test_a_full_disk_is_one_line_and_the_run_goes_on_with_nothing_lost(world: Path, tmp_path: Path) -> None:
    run = tmp_path / "r"
    # the config fits, the first checkpoint does not (a write past the size limit fails with EFBIG, as a
    # write to a full disk fails with ENOSPC)
    proc = W.cli("run", W.PRESET, "--out", str(run), "--quiet", *W.TINY, limits={resource.RLIMIT_FSIZE: 4096})
    W.one_error_line(proc, "File too large")
    assert len(RunDir(run).read_metrics()) == 1 and W.leftovers(tmp_path) == []
    assert W.cli("resume", str(run), "--quiet").returncode == 0
    assert W.same_results(run, world / "run")


def test_a_full_tmpfs_is_one_line_and_the_run_goes_on_with_nothing_lost(world: Path, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (the file-size limit test covers a full disk)")
    try:
        filler = disk / "filler"
        needs = sum(-(-p.stat().st_size // 4096) * 4096 for p in (world / "run").rglob("*") if p.is_file())
        filler.write_bytes(b"\0" * (256 * 1024 - needs // 2))  # room for half of the run's files
        run = disk / "r"
        proc = W.cli("run", W.PRESET, "--out", str(run), "--quiet", *W.TINY)
        W.one_error_line(proc, "No space left on device")
        filler.unlink()
        assert W.leftovers(disk) == []
        if run.exists():
            assert W.cli("resume", str(run), "--quiet").returncode == 0
        else:
            assert W.cli("run", W.PRESET, "--out", str(run), "--quiet", *W.TINY).returncode == 0
        assert W.same_results(run, world / "run")
        shutil.rmtree(run)
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
