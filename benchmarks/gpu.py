"""Plan-step speed on a GPU machine (issue 14): one short script, under 8 minutes on one GPU.

For the reference planner configurations of ``benchmarks/planner.py`` (a: PETS half-cheetah, 5 x 4x200,
pop 500, 5 iters, H 30, 20 particles; b: 5 x 3x200, pop 400, H 25, 20 particles; c: 1 x 2x64, pop 100,
3 iters, H 15) it measures the median ms per MPC plan step, eagerly and with the imagined rollout compiled
(``torch.compile``, fixed shapes; ``compiled_changed`` says whether the compiled returns differ from the
eager ones and by how much), then 3 episodes of ``pets-half_cheetah_body`` (PETS planner settings; ms per
plan step), then the training steps of the two continual/meta anchors at their paper sizes: a HyperCRL
update (``hypercrl-half_cheetah_body-paper``: a Gaussian 4x200 target, a 2x256 trunk, the output regulariser
over two earlier tasks with the Adam look-ahead; batch ``batch_size``) and a GrBAL meta-step
(``grbal-half_cheetah_hfield-paper``: 3x512, meta-batch 10, M = K = 16, second order). Results go to
``benchmarks/results/gpu.json``.

    python benchmarks/gpu.py                    # on the GPU (device=auto)
    python benchmarks/gpu.py --quick --device cpu --out /tmp/gpu.json     # tiny sizes: a smoke test
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

from dynadapt.continual.base import ContinualContext
from dynadapt.device import place, resolve_device
from dynadapt.meta.base import Segments
from dynadapt.meta.grbal import GrBAL
from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.planning import ModelObjective, MPCAgent, MPCConfig, build_planner
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
    # the library's planning objective, eager or with mpc.compile (what a run gets); no memory budget, so
    # nothing is chunked
    mpc = MPCConfig(
        horizon=s.horizon, particles=s.particles, propagation=s.propagation,  # type: ignore[arg-type]
        memory_mb=0, compile=compiled,
    )  # fmt: skip
    objective = ModelObjective(model.predict, mpc, gen, halfcheetah_like_reward, None, params)
    low, high = -torch.ones(s.act_dim, device=device), torch.ones(s.act_dim, device=device)
    planner = build_planner(planner_settings("cem", s), low, high, s.horizon, gen)
    agent = MPCAgent(planner, objective, s.horizon, s.act_dim, low, high)
    obs = torch.randn(s.obs_dim, generator=torch.Generator().manual_seed(2))
    agent.act(obs)  # warm-up (and compilation)
    times = []
    for _ in range(steps):
        agent.act(obs)
        times.append(agent.last_plan_ms)
    fixed = torch.rand(s.population, s.horizon, s.act_dim, generator=torch.Generator().manual_seed(3)) * 2 - 1
    gen.manual_seed(4)
    returns = objective(obs.to(device))(fixed.to(device)).cpu()
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


def _median_ms(fn: Any, device: torch.device, steps: int) -> float:
    """Median wall ms of ``fn()`` over ``steps`` calls after one warm-up call (synchronised on CUDA)."""
    fn()
    times = []
    for _ in range(steps):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def _preset_config(name: str, quick: bool, tiny: list[str]) -> Any:
    preset = get_preset(name)
    return apply_overrides(preset.make(), parse_override_args(tiny if quick else []))


def hypercrl_step_ms(device: torch.device, quick: bool, steps: int) -> dict[str, Any]:
    """Median ms of one HyperCRL update of task 2 (regularising tasks 0 and 1) at the paper preset's size."""
    name = "hypercrl-half_cheetah_body-paper"
    cfg = _preset_config(name, quick, ["model.hidden=8", "strategy.hnet.hidden=8", "batch_size=4"])
    gen = torch.Generator().manual_seed(0)
    model = DynamicsModel.for_family(cfg.task.family, cfg.model, gen)
    strategy = cfg.strategy.build(model, gen)
    n = 4 * cfg.batch_size
    x = torch.randn(n, model.spec.in_dim, generator=gen)
    y = torch.randn(n, model.obs_dim, generator=gen)
    ctx = ContinualContext(task_data=lambda i: (x, y))
    for t in range(3):
        ctx.num_tasks = t + 1
        strategy.before_task(t, ctx)
        if t < 2:
            strategy.update(t, x[: cfg.batch_size], y[: cfg.batch_size])
            strategy.after_task(t, ctx)
    place(strategy, device)
    place(model, device)
    xb, yb = x[: cfg.batch_size].to(device), y[: cfg.batch_size].to(device)
    ms = _median_ms(lambda: strategy.update(2, xb, yb), device, steps)
    return {"preset": name, "batch": cfg.batch_size, "hnet_params": strategy.hnet.num_params(),
            "ms_per_update": round(ms, 3)}  # fmt: skip


def grbal_step_ms(device: torch.device, quick: bool, steps: int) -> dict[str, Any]:
    """Median ms of one GrBAL meta-step (second-order through the inner step) at the paper preset's size."""
    name = "grbal-half_cheetah_hfield-paper"
    cfg = _preset_config(name, quick, ["model.hidden=8", "grbal.meta_batch=2", "grbal.M=4", "grbal.K=4"])
    gen = torch.Generator().manual_seed(0)
    model = DynamicsModel.for_family(cfg.task.family, cfg.model, gen)
    learner = GrBAL(model, cfg.grbal, gen)
    place(learner, device)
    place(model, device)
    b, length = cfg.grbal.meta_batch, cfg.grbal.M + cfg.grbal.K
    seg = Segments(
        x=torch.randn(b, length, model.spec.in_dim, generator=gen).to(device),
        y=torch.randn(b, length, model.obs_dim, generator=gen).to(device),
        task_id=torch.zeros(b, dtype=torch.long, device=device),
        episode=torch.zeros(b, dtype=torch.long, device=device),
    )

    def meta_step() -> None:
        loss = learner.loss(seg)
        learner.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        learner.optimizer.step()

    ms = _median_ms(meta_step, device, steps)
    return {"preset": name, "meta_batch": b, "segment": length, "ms_per_meta_step": round(ms, 3)}


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
    result["hypercrl_update"] = hypercrl_step_ms(device, args.quick, args.steps)
    result["grbal_meta_step"] = grbal_step_ms(device, args.quick, args.steps)
    print(result["hypercrl_update"], result["grbal_meta_step"], file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
