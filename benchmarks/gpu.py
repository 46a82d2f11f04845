"""Plan-step speed on a GPU machine (issue 14): one short script, under 8 minutes on one GPU.

For the reference planner configurations of ``benchmarks/planner.py`` (a: PETS half-cheetah, 5 x 4x200,
pop 500, 5 iters, H 30, 20 particles; b: 5 x 3x200, pop 400, H 25, 20 particles; c: 1 x 2x64, pop 100,
3 iters, H 15) it measures the median ms per MPC plan step, eagerly and with the imagined rollout compiled
(``torch.compile``, fixed shapes; ``compiled_changed`` says whether the compiled returns differ from the
eager ones and by how much), then 3 episodes of ``pets-half_cheetah_body`` (PETS planner settings; ms per
plan step). Results go to ``benchmarks/results/gpu.json``.

    python benchmarks/gpu.py                    # on the GPU (device=auto)
    python benchmarks/gpu.py --quick --device cpu --out /tmp/gpu.json     # tiny sizes: a smoke test

Not yet measured here (left for a GPU session): a HyperCRL training step and a GrBAL meta-step.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from planner import SETTINGS, Setting, halfcheetah_like_reward, planner_settings

from dynadapt.device import resolve_device
from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.planning import MPCAgent, build_planner, imagine
from dynadapt.runs import launch
from dynadapt.runs.config import apply_overrides, parse_override_args
from dynadapt.runs.presets import get_preset

ROOT = Path(__file__).resolve().parents[1]
PETS_PRESET = "pets-half_cheetah_body"
"""PETS on half-cheetah (the issue's pets-half_cheetah: there is no preset of that name)."""
QUICK = {"population": 16, "elites": 4, "iterations": 1, "horizon": 4, "particles": 2, "hidden": (16,)}


def plan_ms(s: Setting, device: torch.device, steps: int, compiled: bool) -> tuple[float, torch.Tensor]:
    """Median ms of an MPC plan step at setting ``s`` (and the returns of one fixed population)."""
    model = DynamicsModel(
        s.obs_dim,
        s.act_dim,
        ModelConfig(ensemble_size=s.ensemble, hidden=s.hidden, activation="silu", head=s.head),  # type: ignore[arg-type]
        generator=torch.Generator().manual_seed(1),
    )
    params = {k: v.detach().to(device) for k, v in model.params.items()}
    for norm in (model.input_norm, model.target_norm):
        norm.mean, norm.std = norm.mean.to(device), norm.std.to(device)
    gen = torch.Generator(device=device).manual_seed(0)

    def rollout(obs0: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return imagine(
            model.predict, params, obs0, actions, halfcheetah_like_reward, None,
            propagation=s.propagation, particles=s.particles, generator=gen,  # type: ignore[arg-type]
        )  # fmt: skip

    run = torch.compile(rollout, dynamic=False) if compiled else rollout
    low, high = -torch.ones(s.act_dim, device=device), torch.ones(s.act_dim, device=device)
    planner = build_planner(planner_settings("cem", s), low, high, s.horizon, gen)
    agent = MPCAgent(planner, lambda obs: lambda a: run(obs, a), s.horizon, s.act_dim, low, high)
    obs = torch.randn(s.obs_dim, generator=torch.Generator().manual_seed(2))
    agent.act(obs)  # warm-up (and compilation)
    times = []
    for _ in range(steps):
        agent.act(obs)
        times.append(agent.last_plan_ms)
    fixed = torch.rand(s.population, s.horizon, s.act_dim, generator=torch.Generator().manual_seed(3)) * 2 - 1
    gen.manual_seed(4)
    returns = run(obs.to(device), fixed.to(device)).cpu()
    return statistics.median(times), returns


def pets_episodes(device: str, quick: bool) -> dict[str, Any]:
    """3 episodes of PETS_PRESET (PETS planner settings; tiny with --quick): ms per step."""
    preset = get_preset(PETS_PRESET)
    overrides = [f"device={device}", "episodes=3", "random_episodes=1", "eval.episodes=0"]
    if quick:
        overrides += ["task.episode_steps=5", "model.hidden=8", "model.max_epochs=1", "planner.population=8"]
        overrides += ["planner.elites=2", "planner.iterations=1", "mpc.horizon=3", "mpc.particles=1"]
    cfg = apply_overrides(preset.make(), parse_override_args(overrides))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        launch.start(preset, cfg, Path(tmp) / "run", progress=False)
        rows = [json.loads(r) for r in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    return {
        "wall_s": round(time.perf_counter() - start, 2),
        "plan_ms_per_step": [r["planner/ms_per_step"] for r in rows if r["phase"] == "mpc"],
        "overrides": overrides,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu.json")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test that runs on a CPU)")
    p.add_argument("--steps", type=int, default=5, help="timed plan steps per configuration (median)")
    p.add_argument("--no-compile", action="store_true", help="eager only")
    args = p.parse_args()
    device = resolve_device(args.device)
    result: dict[str, Any] = {"device": str(device), "torch": torch.__version__, "quick": args.quick}
    if device.type == "cuda":
        result["gpu"] = torch.cuda.get_device_name(device)
    for key, s in SETTINGS.items():
        if args.quick:
            s = replace(s, **QUICK)
        eager, eager_ret = plan_ms(s, device, args.steps, compiled=False)
        entry: dict[str, Any] = {"setting": s.key, "eager_ms_per_step": round(eager, 3)}
        if not args.no_compile:
            comp, comp_ret = plan_ms(s, device, args.steps, compiled=True)
            entry["compiled_ms_per_step"] = round(comp, 3)
            entry["compiled_changed"] = {
                "returns_equal": bool(torch.equal(eager_ret, comp_ret)),
                "max_abs_diff": float((eager_ret - comp_ret).abs().max()),
                "same_best": int(eager_ret.argmax()) == int(comp_ret.argmax()),
            }
        result[key] = entry
        print(key, entry, file=sys.stderr)
    result["pets_half_cheetah"] = pets_episodes(str(device), args.quick)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
