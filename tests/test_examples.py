"""The scripts in examples/ run end to end on tiny settings (real processes, real MuJoCo and training)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

TINY = {
    "pets.py": ["--episodes", "2", "--steps", "20", "--hidden", "8", "--population", "16"],
    "hypercrl.py": [
        "--episodes",
        "1",
        "--steps",
        "15",
        "--hidden",
        "8",
        "--population",
        "16",
        "--train-steps",
        "5",
    ],
}


def test_every_example_is_exercised() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_example_runs(name: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *TINY[name]], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines and all("return" in line for line in lines), proc.stdout
