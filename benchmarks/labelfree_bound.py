"""How well can any label-free learner identify the situations of a stream one transition at a time? An upper
reference for issue 16's identification targets.

The stream is played by the task-aware preset (``task-aware-stream-<family>``: the hypernetwork told the true
situation, MPC on its model), so the transitions are those a good planner visits. Then, with the labels,
one **oracle** network per situation (the preset's architecture, deterministic, normalised Δ) is fitted on
the first half of that situation's transitions, and every transition of the stream is scored under each
oracle: a Gaussian log-likelihood, and a Student-t one with ν = 3 per output dimension (robust to the
transitions no network predicts well), each with the situation's own per-dimension error scale from its
fitting half. An HMM forward filter over the situations (stay probability ``p``, a switch to each other
situation (1 − p)/(K − 1); the posterior's argmax at every step, causal) turns them into inferred labels,
scored with the metrics of the label-free runs (:func:`dynadapt.labelfree.identification_summary`).

No learner has these oracles: they know the number of situations, were fitted with the labels, and are
scored on half of their own fitting data. Identification that falls short with them falls short for
reasons no identifier removes: the transitions the planner visits (a balanced pendulum moves slowly) carry
little evidence about the situation, and what evidence there is sits below the networks' own errors. The
JSON records the filter's figures per likelihood and stay probability, the one-step accuracy (argmax of the
oracles' likelihoods) on the halves no oracle was fitted on, and that accuracy by quartile of the
transition's size ‖s' − s‖.

    python benchmarks/labelfree_bound.py                       # pendulum:recurring-mid, seed 100
    python benchmarks/labelfree_bound.py --family cartpole
    python benchmarks/labelfree_bound.py --quick               # a short stream, tiny budgets (~1 min)

Seed 100 is the label-free protocol's tuning seed (``benchmarks/protocol_labelfree.toml``); the held-out
streams are never played here.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynadapt.io import write_json
from dynadapt.labelfree import identification_summary
from dynadapt.nets.mlp import MLPSpec, forward, init_params
from dynadapt.runs.config import apply_overrides, parse_override_args
from dynadapt.runs.labelfree import LabelFreeRun
from dynadapt.runs.presets import get_preset
from dynadapt.runs.rundir import RunDir

STAYS = (0.999, 0.9999, 0.99999, 0.999999)
NU = 3.0
"""Degrees of freedom of the Student-t likelihood."""
QUICK = [
    "stream=pendulum:tiny", "warmup_steps=50", "train_every=50", "planner.population=20",
    "planner.iterations=1", "mpc.horizon=5", "hnet.train_steps=5",
]  # fmt: skip


def record(family: str, seed: int, out: Path, overrides: list[str]) -> dict[str, np.ndarray]:
    """Play the task-aware preset's stream in ``out``; every transition the learner observed, in order."""
    preset = get_preset(f"task-aware-stream-{family}")
    cfg = apply_overrides(preset.make(), parse_override_args([*overrides, f"seed={seed}"]))
    runner = LabelFreeRun(cfg, RunDir(out), preset=preset.name, progress=False)
    total = runner.stream.total_steps
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []
    observe = runner.learner.observe

    def recording(obs: Any, act: Any, next_obs: Any, label: int) -> None:
        if len(rows) < total:  # the stream in order (the end-of-stream evaluation observes more)
            rows.append((np.asarray(obs), np.asarray(act), np.asarray(next_obs), int(label)))
        observe(obs, act, next_obs, label)

    runner.learner.observe = recording  # type: ignore[method-assign]
    with RunDir(out).create(runner.config_dict()):
        runner.run()
    return {
        "obs": np.stack([r[0] for r in rows]).astype(np.float32),
        "act": np.stack([r[1] for r in rows]).astype(np.float32).reshape(len(rows), -1),
        "next_obs": np.stack([r[2] for r in rows]).astype(np.float32),
        "label": np.array([r[3] for r in rows]),
        "hidden": np.array(cfg.model.hidden),
    }


def oracle_errors(data: dict[str, np.ndarray], steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Squared errors ``[T, K, D]`` of every situation's oracle on every transition (normalised Δ), and
    the mask of the transitions the oracles were fitted on.

    The K oracles are one stacked network (:mod:`dynadapt.nets.mlp`, the preset's architecture, seeded
    initialisation), trained together: each step draws 256 transitions of every situation's fitting half,
    and the loss is the sum of the members' mean squared errors, so each member gets its own gradient and
    (Adam being elementwise) its own optimiser state."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.tensor(np.concatenate([data["obs"], data["act"]], 1))
    y = torch.tensor(data["next_obs"] - data["obs"])
    x = (x - x.mean(0)) / x.std(0).clamp_min(1e-6)
    y = (y - y.mean(0)) / y.std(0).clamp_min(1e-6)
    labels = data["label"]
    k = int(labels.max()) + 1
    fitted = np.zeros(len(labels), dtype=bool)
    halves = []
    for situation in range(k):
        idx = np.flatnonzero(labels == situation)
        halves.append(torch.as_tensor(idx[: max(1, len(idx) // 2)]))
        fitted[halves[-1].numpy()] = True
    spec = MLPSpec(x.shape[1], y.shape[1], tuple(int(h) for h in data["hidden"]), activation="relu")
    params = {name: t.requires_grad_() for name, t in init_params(spec, gen, ensemble_size=k).items()}
    opt = torch.optim.Adam(params.values(), lr=1e-3)
    for _ in range(steps):
        batch = torch.stack([h[torch.randint(0, len(h), (256,), generator=gen)] for h in halves])  # [K, 256]
        loss = ((forward(spec, params, x[batch]) - y[batch]) ** 2).mean((1, 2)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        errors = (forward(spec, params, x.expand(k, *x.shape)) - y) ** 2  # [K, T, D]
    return errors.permute(1, 0, 2).numpy(), fitted


def log_likelihoods(errors: np.ndarray, labels: np.ndarray, fitted: np.ndarray, nu: float) -> np.ndarray:
    """``[T, K]``: each oracle's log-likelihood of each transition, Gaussian (``nu`` = 0) or Student-t, with
    the per-dimension error scale of its own fitting half."""
    k = errors.shape[1]
    scale = np.stack([errors[(labels == j) & fitted, j].mean(0) for j in range(k)])  # [K, D]
    if nu == 0:
        return (-0.5 * errors / scale[None] - 0.5 * np.log(scale[None])).sum(-1)
    return (-(nu + 1) / 2 * np.log1p(errors / (nu * scale[None])) - 0.5 * np.log(scale[None])).sum(-1)


def forward_filter(ll: np.ndarray, stay: float) -> np.ndarray:
    """The argmax of the HMM's filtered posterior at every step (causal), from ``ll [T, K]``."""
    k = ll.shape[1]
    log_a = np.full((k, k), math.log((1 - stay) / (k - 1)))
    np.fill_diagonal(log_a, math.log(stay))
    alpha = np.full(k, -math.log(k))
    out = np.empty(ll.shape[0], dtype=int)
    for t in range(ll.shape[0]):
        alpha = ll[t] + np.logaddexp.reduce(alpha[:, None] + log_a, axis=0)
        alpha -= np.logaddexp.reduce(alpha)
        out[t] = int(alpha.argmax())
    return out


def bound(data: dict[str, np.ndarray], steps: int, seed: int) -> dict[str, Any]:
    labels = data["label"]
    errors, fitted = oracle_errors(data, steps, seed)
    switches = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    unseen = ~fitted
    size = np.linalg.norm(data["next_obs"] - data["obs"], axis=1)
    edges = np.quantile(size[unseen], [0.25, 0.5, 0.75])
    quartile = np.searchsorted(edges, size)
    out: dict[str, Any] = {}
    for name, nu in (("gaussian", 0.0), ("student_t", NU)):
        ll = log_likelihoods(errors, labels, fitted, nu)
        right = ll.argmax(1) == labels
        out[name] = {
            "one_step_accuracy_unseen": float(right[unseen].mean()),
            "one_step_accuracy_unseen_by_size_quartile": [
                float(right[unseen & (quartile == q)].mean()) for q in range(4)
            ],
            "filter": {
                str(stay): identification_summary(labels, forward_filter(ll, stay), switches)
                for stay in STAYS
            },
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", default="pendulum", choices=["pendulum", "cartpole", "half_cheetah_cripple"])
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--fit-steps", type=int, default=3000, help="Adam steps of each oracle")
    ap.add_argument("--out", help="the JSON (default benchmarks/results/labelfree_bound_<family>.json)")
    ap.add_argument(
        "--quick", action="store_true", help="a short stream and tiny budgets (checks the script)"
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="labelfree_bound_"))
    out = Path(
        args.out
        or (work / "bound.json" if args.quick else f"benchmarks/results/labelfree_bound_{args.family}.json")
    )
    start, cpu = time.perf_counter(), time.process_time()
    data = record(args.family, args.seed, work / "run", QUICK if args.quick else [])
    played = {"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu}
    result = bound(data, 50 if args.quick else args.fit_steps, args.seed)
    write_json(
        out,
        {
            "benchmark": "benchmarks/labelfree_bound.py",
            "quick": args.quick,
            "family": args.family,
            "preset": f"task-aware-stream-{args.family}",
            "seed": args.seed,
            "steps": len(data["label"]),
            "situations": int(data["label"].max()) + 1,
            "fit_steps": args.fit_steps,
            "nu": NU,
            **result,
            "cost": {"play": played, "total_cpu_s": time.process_time() - cpu},
        },
    )
    print(out)


if __name__ == "__main__":
    main()
