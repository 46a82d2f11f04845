"""Same seed, same results: a tiny run of every run kind through the command line, its ``summary.json`` and
its metrics rows (timings removed) collected into one JSON file.

Used to check that a refactoring of the loops changes no result: run it before and after the change and
compare the two files (``--compare A.json B.json`` prints every difference and exits 1 if there is any).

    python benchmarks/equivalence.py --out /tmp/before.json
    ... change the code ...
    python benchmarks/equivalence.py --out /tmp/after.json --compare /tmp/before.json

Each run is a few seconds of CPU (one torch thread); the whole set takes about two minutes on one core.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PETS = [
    "episodes=3", "task.episode_steps=30", "eval.episodes=1", "model.hidden=16", "model.max_epochs=3",
    "planner.population=20", "planner.elites=4", "planner.iterations=1", "mpc.horizon=5", "mpc.particles=2",
]  # fmt: skip
CONTINUAL = [
    "task.tasks=2", "task.episode_steps=15", "random_steps=30", "episodes=1", "train_every=20",
    "train_steps=3", "buffer_capacity=25", "pred_horizon=3", "planner.population=16", "planner.elites=4",
    "planner.iterations=1", "eval.every=1",
]  # fmt: skip
META = [
    "iterations=2", "episodes_per_iter=2", "task.episode_steps=24", "task.switch_at=12", "eval.episodes=1",
    "planner.population=32", "mpc.horizon=5", "grbal.max_epochs=2", "rebal.max_epochs=2",
    "model.max_epochs=2", "grbal.M=4", "grbal.K=4", "rebal.M=4", "rebal.K=4",
]  # fmt: skip
SAC = [
    "episodes=2", "task.episode_steps=10", "random_steps=6", "updates_per_step=2", "eval.episodes=1",
    "buffer_capacity=1000", "sac.hidden=8", "sac.batch_size=8",
]  # fmt: skip
MBPO = [
    *SAC, "model.hidden=8", "model.ensemble_size=2", "model.num_elites=1", "model.max_epochs=2",
    "mbpo.epoch_length=10", "mbpo.model_train_freq=5", "mbpo.rollout_batch_size=12",
    "mbpo.rollout_schedule=0,1,1,3",
]  # fmt: skip
ADAPTIVE = [
    "episodes=2", "task.episode_steps=20", "random_steps=10", "updates_per_step=1", "buffer_capacity=1000",
    "sac.hidden=8", "sac.batch_size=8", "model.hidden=8", "mbpo.epoch_length=10", "mbpo.model_train_freq=10",
    "mbpo.rollout_batch_size=12", "mbpo.rollout_schedule=0,1,1,3",
]  # fmt: skip
DISTILL = [
    "pets.episodes=2", "task.episode_steps=20", "eval_episodes=2", "iterations=2", "episodes_per_iteration=1",
    "pets.model.ensemble_size=2", "pets.model.hidden=16", "pets.model.max_epochs=3",
    "pets.planner.population=20", "pets.planner.elites=4", "pets.planner.iterations=1", "pets.mpc.horizon=4",
    "pets.mpc.particles=2", "policy.hidden=16", "policy.train_steps=50", "val_episodes=1",
]  # fmt: skip
VALUE = [
    "value.updates=5", "value.rollout_starts=16", "value.critic.hidden=8", "value.critic.batch_size=16",
    "value.policy.hidden=8", "value.policy.train_steps=5",
]  # fmt: skip
SEGMENT = [
    "iterations=2", "episodes_per_iter=2", "task.episode_steps=12", "model.n=3", "model.hidden=8",
    "model.train_steps=10", "model.batch_size=16",
]  # fmt: skip
GOAL = [
    *SEGMENT, "goals=2", "dynamics.hidden=8", "dynamics.ensemble_size=2", "dynamics.max_epochs=2",
    "planner.population=12", "planner.elites=3", "planner.iterations=1", "mpc.horizon=3", "mpc.particles=2",
]  # fmt: skip

RUNS: dict[str, tuple[str, list[str]]] = {
    "mbrl": ("pets-pendulum", PETS),
    "mbrl-learned-reward": ("pets-pendulum", [*PETS, "model.learn_reward=true", "planner=icem"]),
    "continual-hypercrl": ("hypercrl-pendulum", CONTINUAL),
    "continual-ewc": ("ewc-pendulum", CONTINUAL),
    "continual-multitask": ("multitask-pendulum", CONTINUAL),
    "meta-grbal": ("grbal-pendulum", META),
    "meta-rebal": ("rebal-pendulum", META),
    "meta-mbde": ("mbde-pendulum", META),
    "sac": ("sac-pendulum", SAC),
    "mbpo": ("mbpo-pendulum", MBPO),
    "mbpo-continual": (
        "mbpo-hypercrl-pendulum",
        [*ADAPTIVE, "eval_episodes=1", "task.tasks=2", "train_steps=5", "strategy.hnet.hidden=8"],
    ),
    "mbpo-meta": (
        "mbpo-grbal-pendulum",
        [
            *ADAPTIVE,
            "eval.episodes=1",
            "grbal.M=4",
            "grbal.K=4",
            "grbal.max_epochs=1",
            "grbal.steps_per_epoch=2",
            "grbal.meta_batch=4",
        ],
    ),
    "distill": ("distill-pendulum", DISTILL),
    "value-mpc": ("proposals-cartpole", [*PETS, *VALUE]),
    "value-meta": (
        "value-grbal-half_cheetah_cripple",
        [*META, "model.hidden=8", "value.proposals=0.25", *VALUE],
    ),
    "inverse": ("inverse-chunk-reacher", [*SEGMENT, "reach=3"]),
    "goal-reach": ("goal-reacher", GOAL),
}


def _untimed(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("time/") and "ms_per_step" not in k}


def run_all(names: list[str], seed: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            preset, overrides = RUNS[name]
            rundir = Path(tmp) / name
            cmd = [
                sys.executable,
                "-m",
                "dynadapt.cli",
                "run",
                preset,
                "--out",
                str(rundir),
                "--seed",
                str(seed),
                "--quiet",
                *overrides,
            ]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                out[name] = {"error": proc.stderr.strip().splitlines()[-1:] or ["(no output)"]}
                print(f"{name}: FAILED: {out[name]['error']}", file=sys.stderr)
                continue
            summary = json.loads((rundir / "summary.json").read_text())
            rows = [json.loads(s) for s in (rundir / "metrics.jsonl").read_text().splitlines()]
            out[name] = {"preset": preset, "summary": summary, "metrics": [_untimed(r) for r in rows]}
            print(f"{name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return out


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Every path at which ``a`` and ``b`` differ (exact comparison, as same seed must mean same result)."""
    if isinstance(a, dict) and isinstance(b, dict):
        diffs = [f"{path}/{k}: only in the first" for k in a if k not in b]
        diffs += [f"{path}/{k}: only in the second" for k in b if k not in a]
        for k in a:
            if k in b:
                diffs += differences(a[k], b[k], f"{path}/{k}")
        return diffs
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {json.dumps(a)[:80]} != {json.dumps(b)[:80]}"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--runs", default=",".join(RUNS), help="comma-separated names (default: all)")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--compare", help="a former output: print the differences, exit 1 if any")
    p.add_argument("--ignore", default="", help="comma-separated keys left out of the comparison")
    args = p.parse_args()
    names = [n for n in args.runs.split(",") if n]
    result = run_all(names, args.seed)
    Path(args.out).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    if not args.compare:
        return 0
    before = json.loads(Path(args.compare).read_text())
    ignore = {k for k in args.ignore.split(",") if k}
    bad = 0
    for name in names:
        a, b = before.get(name), result.get(name)

        def strip(d: Any) -> Any:
            if isinstance(d, dict):
                return {k: strip(v) for k, v in d.items() if k not in ignore}
            if isinstance(d, list):
                return [strip(v) for v in d]
            return d

        diffs = differences(strip(a), strip(b))
        print(f"{name}: {'same' if not diffs else f'{len(diffs)} differences'}")
        for d in diffs[:10]:
            print("   ", d)
        bad += bool(diffs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
