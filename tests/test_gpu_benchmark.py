"""benchmarks/gpu.py runs at tiny sizes on the CPU (its compiled rollout included) and writes its JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_benchmark_quick_on_cpu(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--quick", "--device", "cpu", "--steps", "1"]
    subprocess.run([*cmd, "--out", str(out)], check=True, capture_output=True, timeout=300)
    result = json.loads(out.read_text())
    assert result["device"] == "cpu"
    for key in "abc":
        entry = result[key]
        assert entry["eager_ms_per_step"] > 0 and entry["compiled_ms_per_step"] > 0
        assert entry["compiled_changed"]["max_abs_diff"] < 1e-4
    assert len(result["pets_half_cheetah"]["plan_ms_per_step"]) == 2
    assert result["hypercrl_update"]["ms_per_update"] > 0 and result["hypercrl_update"]["batch"] == 4
    assert result["grbal_meta_step"]["ms_per_meta_step"] > 0 and result["grbal_meta_step"]["segment"] == 8
