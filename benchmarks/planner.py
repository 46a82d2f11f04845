"""Planner speed (and, optionally, quality) benchmark; writes JSON.

Measures, in one process:

* the machine's fp32 matmul throughput (GFLOP/s of a large square matmul), measured right before each
  planner measurement (sustained over about a second), because a shared machine's throughput varies from
  moment to moment;
* for each reference configuration and planner: wall time per planning step (one ``MPCAgent.act`` that
  replans) and the achieved model GFLOP/s, i.e. ``rows x 2 x sum(fan_in x fan_out)`` over the wall time,
  where ``rows`` counts the single-member forward passes the model actually computed (counted in
  ``predict``; the first horizon step runs on ``E x B`` rows, see :func:`dynadapt.planning.imagine`), and
  its ratio to the matmul throughput measured just before and just after that step (median over steps);
  also the share of the step's wall time spent inside the model's ``predict``. With ``--min-block-s S``
  each timed step is the median of back-to-back plan steps lasting at least S seconds (at most
  :data:`MAX_BLOCK`), as mbrl-lib's harness times its repetitions (``benchmarks/vs_mbrllib.py``): a
  millisecond plan step timed alone right after the matmul measurement runs on a cold cache.

Reference configurations (issue 3):

* (a) PETS half-cheetah: obs 18, act 6, ensemble of 5 Gaussian MLPs 4x200 SiLU, population 500, 50
  elites, 5 iterations, horizon 30, 20 particles (TS-inf);
* (b) CPU scale: obs 5, act 1, ensemble of 5 Gaussian MLPs 3x200 SiLU, population 400, 40 elites,
  5 iterations, horizon 25, 20 particles (TS-inf);
* (c) a single deterministic 2x64 MLP, population 100, 10 elites, horizon 15, 3 iterations, 1 particle.

The model is the library's :class:`dynadapt.models.DynamicsModel` (input normalisation, delta targets,
Gaussian head with log-variance bounds) with freshly initialised weights; the reward is a half-cheetah-like
``next_obs[0] - 0.1 |a|^2``. Planners other than CEM use the same population and iterations where they
have them (iCEM decays its population; random shooting runs one iteration; the gradient planners count
forward rows only, although a backward pass costs about twice as much).

``--pendulum`` also runs the quality check of ``tests/planning/test_pendulum.py``: MPC on the true
Pendulum-v1 dynamics with CEM, iCEM and MPPI over 10 seeded episodes.

Usage::

    python benchmarks/planner.py [--out benchmarks/results/planner.json] [--quick] [--pendulum]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.planning import (
    PLANNER_CONFIGS,
    MPCAgent,
    PlannerConfig,
    build_planner,
    imagined_objective,
    planner_config,
)

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Setting:
    """One reference configuration."""

    key: str
    obs_dim: int
    act_dim: int
    ensemble: int
    hidden: tuple[int, ...]
    head: str
    population: int
    elites: int
    iterations: int
    horizon: int
    particles: int
    propagation: str


SETTINGS: dict[str, Setting] = {
    "a": Setting("a_pets_halfcheetah", 18, 6, 5, (200,) * 4, "gaussian", 500, 50, 5, 30, 20, "ts_inf"),
    "b": Setting("b_cpu_scale", 5, 1, 5, (200,) * 3, "gaussian", 400, 40, 5, 25, 20, "ts_inf"),
    "c": Setting("c_single_2x64", 5, 1, 1, (64,) * 2, "deterministic", 100, 10, 3, 15, 1, "ts_inf"),
}


def planner_settings(name: str, s: Setting) -> PlannerConfig:
    """The planner's config at the setting's population and iterations."""
    common: dict[str, dict[str, Any]] = {
        "rs": {"population": s.population},
        "cem": {"population": s.population, "elites": s.elites, "iterations": s.iterations, "epsilon": 0.0},
        "icem": {"population": s.population, "elites": s.elites, "iterations": s.iterations},
        "mppi": {"population": s.population, "iterations": s.iterations},
        "grad": {"population": max(1, s.population // 10), "iterations": s.iterations},
        "cem-grad": {
            "population": s.population,
            "elites": s.elites,
            "iterations": s.iterations,
            "epsilon": 0.0,
            "grad_iterations": s.iterations,
        },
        "hypercrl-cem": {"population": s.population, "elites": s.elites, "iterations": s.iterations},
    }
    return planner_config(name, **common[name])


def tune_malloc() -> bool:
    """Keep freed memory in glibc's heap (no mmap/munmap per large tensor, no trimming).

    Every layer of a forward pass allocates a fresh output of several MB; by default glibc serves such
    blocks with mmap and returns them on free, so each layer pays page faults on first touch (measured: the
    bias copy inside ``baddbmm`` takes about 20% of a planning step at 2 threads). Same effect as
    ``MALLOC_MMAP_THRESHOLD_=1e9 MALLOC_TRIM_THRESHOLD_=1e9``. Returns False where glibc is unavailable.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, 1 << 30)) and bool(libc.mallopt(m_trim_threshold, 1 << 30))
    except (OSError, AttributeError):
        return False


def matmul_gflops(n: int = 2048, seconds: float = 1.0) -> float:
    """Sustained fp32 GFLOP/s of ``n x n`` matmuls run back to back for at least ``seconds``.

    A sustained figure rather than a best-of-few: on a shared machine the best short run catches an idle
    moment, whereas a planning step of several seconds sees the average load.
    """
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    out = torch.empty(n, n)
    torch.matmul(a, b, out=out)
    count = 0
    start = time.perf_counter()
    while True:
        torch.matmul(a, b, out=out)
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return 2 * n**3 * count / elapsed / 1e9


MAX_BLOCK = 50
"""At most this many back-to-back plan steps in one timed block (``--min-block-s``)."""


def halfcheetah_like_reward(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    return next_obs[..., 0] - 0.1 * act.square().sum(-1)


class RowCounter:
    """Wraps ``predict``: counts the single-member rows it computes and the wall time spent in it."""

    def __init__(self, predict: Callable[..., Any]) -> None:
        self.predict = predict
        self.rows = 0
        self.seconds = 0.0

    def __call__(self, params: dict[str, Tensor], obs: Tensor, act: Tensor) -> Any:
        self.rows += obs.shape[0] * obs.shape[1]
        start = time.perf_counter()
        out = self.predict(params, obs, act)
        self.seconds += time.perf_counter() - start
        return out


def bench_one(
    s: Setting, planner_name: str, steps: int, compile_model: bool, min_block_s: float = 0.0
) -> dict[str, Any]:
    g = torch.Generator().manual_seed(0)
    model = DynamicsModel(
        s.obs_dim,
        s.act_dim,
        ModelConfig(ensemble_size=s.ensemble, hidden=s.hidden, activation="silu", head=s.head),  # type: ignore[arg-type]
        generator=torch.Generator().manual_seed(1),
    )
    params = {k: v.detach() for k, v in model.params.items()}
    predict: Callable[..., Any] = model.predict
    if compile_model:
        predict = torch.compile(model.predict, dynamic=False)
    counter = RowCounter(predict)
    low, high = -torch.ones(s.act_dim), torch.ones(s.act_dim)
    cfg = planner_settings(planner_name, s)
    planner = build_planner(cfg, low, high, s.horizon, g)
    if planner.needs_grad:
        params = {k: v.detach().clone() for k, v in params.items()}

    def factory(obs: Tensor) -> Any:
        return imagined_objective(
            counter,
            params,
            obs,
            halfcheetah_like_reward,
            None,
            propagation=s.propagation,  # type: ignore[arg-type]
            particles=s.particles,
            generator=g,
        )

    agent = MPCAgent(planner, factory, s.horizon, s.act_dim, low, high)
    obs = torch.randn(s.obs_dim, generator=torch.Generator().manual_seed(2))
    agent.act(obs)  # warm-up (and compilation)
    # Each timed step is bracketed by matmul measurements: its ratio uses their mean.
    times, rows, evals, in_model, matmuls, ratios = [], [], [], [], [], []
    mm_before = matmul_gflops()
    for _ in range(steps):
        # One timed step: a block of back-to-back plan steps lasting at least ``min_block_s`` (at most
        # MAX_BLOCK of them; one when min_block_s is 0), its median plan time and mean rows.
        counter.rows, counter.seconds = 0, 0.0
        block: list[float] = []
        block_start = time.perf_counter()
        while not block or (len(block) < MAX_BLOCK and time.perf_counter() - block_start < min_block_s):
            agent.act(obs)
            block.append(agent.last_plan_ms / 1e3)
        mm_after = matmul_gflops()
        t_step = statistics.median(block)
        plan_rows = counter.rows / len(block)
        times.append(t_step)
        rows.append(plan_rows)
        in_model.append(counter.seconds / sum(block))
        evals.append(agent.last_num_evaluations)
        mm = (mm_before + mm_after) / 2
        matmuls.append(mm)
        ratios.append(model.spec.flops_per_row() * plan_rows / t_step / 1e9 / mm)
        mm_before = mm_after
    t = statistics.median(times)
    flops = model.spec.flops_per_row() * statistics.median(rows)
    gflops = flops / t / 1e9
    return {
        "setting": s.key,
        "planner": planner_name,
        "planner_config": {"name": cfg.name, **asdict(cfg)},
        "ms_per_step": round(t * 1e3, 3),
        "ms_per_step_all": [round(x * 1e3, 3) for x in times],
        "candidates_per_step": int(statistics.median(evals)),
        "model_rows_per_step": int(statistics.median(rows)),
        "flops_per_row": model.spec.flops_per_row(),
        "model_gflops": round(gflops, 2),
        "matmul_gflops": round(statistics.median(matmuls), 2),
        "ratio_to_matmul": round(statistics.median(ratios), 3),
        "ratio_to_matmul_all": [round(r, 3) for r in ratios],
        "time_share_in_predict": round(statistics.median(in_model), 3),
        "min_block_s": min_block_s,
    }


def pendulum_quality(episodes: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests.planning.test_pendulum import PLANNERS, run_episodes

    out: dict[str, Any] = {}
    for name, cfg in PLANNERS.items():
        start = time.perf_counter()
        mean_return, evaluations = run_episodes(cfg, episodes=episodes)
        out[name] = {
            "mean_return": round(mean_return, 2),
            "candidates_per_step": round(evaluations, 1),
            "seconds": round(time.perf_counter() - start, 1),
            "config": asdict(cfg),
        }
    out["icem_over_cem_candidates"] = round(
        out["icem"]["candidates_per_step"] / out["cem"]["candidates_per_step"], 3
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "planner.json")
    parser.add_argument("--quick", action="store_true", help="one timed step per entry, CEM and iCEM only")
    parser.add_argument("--settings", default="abc", help="which reference settings to run (letters)")
    parser.add_argument("--planners", default=",".join(sorted(PLANNER_CONFIGS)), help="comma-separated")
    parser.add_argument("--steps", type=int, default=3, help="timed planning steps per entry (median)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model's predict")
    parser.add_argument(
        "--min-block-s",
        type=float,
        default=0.0,
        help="time each step as the median of back-to-back plan steps lasting at least this long "
        f"(at most {MAX_BLOCK}; 0: one plan step), as mbrl-lib's harness times its repetitions",
    )
    parser.add_argument(
        "--threads",
        default="0",
        help="comma-separated torch intra-op thread counts to run (0: torch default)",
    )
    parser.add_argument("--malloc-tune", action="store_true", help="glibc: keep freed memory (tune_malloc)")
    parser.add_argument("--pendulum", action="store_true", help="also run the Pendulum-v1 quality check")
    parser.add_argument("--episodes", type=int, default=10, help="pendulum episodes per planner")
    args = parser.parse_args()
    malloc_tuned = tune_malloc() if args.malloc_tune else False
    default_threads = torch.get_num_threads()
    thread_counts = [int(t) or default_threads for t in args.threads.split(",")]
    planners = args.planners.split(",")
    steps = args.steps
    if args.quick:
        planners = [p for p in planners if p in ("cem", "icem")]
        steps = 1
    results: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "torch_default_threads": default_threads,
            "load_average_start": list(os.getloadavg()),
        },
        "command": " ".join(sys.argv),
        "compile": args.compile,
        "malloc_tuned": malloc_tuned,
        "matmul_gflops_start": round(matmul_gflops(), 2),
        "entries": [],
    }
    for threads in thread_counts:
        torch.set_num_threads(threads)
        for letter in args.settings:
            s = SETTINGS[letter]
            for name in planners:
                entry = {"threads": threads, **bench_one(s, name, steps, args.compile, args.min_block_s)}
                results["entries"].append(entry)
                print(
                    f"{threads}t {s.key:20s} {name:13s} {entry['ms_per_step']:10.1f} ms/step "
                    f"{entry['model_gflops']:7.1f} GFLOP/s  matmul {entry['matmul_gflops']:6.1f}  "
                    f"ratio {entry['ratio_to_matmul']:.2f}",
                    flush=True,
                )
    torch.set_num_threads(default_threads)
    results["matmul_gflops_end"] = round(matmul_gflops(), 2)
    results["load_average_end"] = list(os.getloadavg())
    if args.pendulum:
        results["pendulum"] = pendulum_quality(args.episodes)
        print(json.dumps(results["pendulum"], indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(args.out.suffix + ".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
