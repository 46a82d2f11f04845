"""Replay a recorded stream through the label-free learner, without planning: a fast development loop for
issue 16's identification, and a diagnosis of why it breaks up late in a stream.

``record`` plays the task-aware preset (``task-aware-stream-<family>``: MPC on the network told the labels,
so the transitions are those a good planner visits) and saves every transition with its true label
(``benchmarks/labelfree_bound.py``'s recorder). ``replay`` then feeds them, in order, to a fresh label-free
learner built from the ``hnet-stream-<family>`` preset (plus any overrides): the warm-up transitions set and
freeze the normalisers, an episode start resets the learner, a training session runs every
``train_every`` steps, exactly as in the run loop. No planner runs, so a replay of a 7,200-step stream takes
well under a minute of CPU instead of several, and two settings see the same transitions.

After every session the replay measures each stored situation's **drift**: the MSE of its current network
on its own recent data over the MSE it reached right after its own last session (``train_mse``). Drift well
above 1 means the hypernetwork's training on other situations moved that network (the output regulariser
did not hold it), which lowers its likelihood when its situation returns. It also records every switch the
learner commits, split into recalls (to a stored situation) and creations, against the true labels.

**Model accuracy** (``accuracy`` in the JSON): per true situation, the median squared one-step error of the
network in force on each transition before the learner saw it (the error the identifier works with), over
the later half of that situation's steps; with ``--oracle STEPS``, beside it the same figure for a
dedicated network of the same architecture fitted on the first half of that situation's steps alone.

    python benchmarks/labelfree_replay.py record --out runs/replay/pendulum_100.npz   # pendulum, seed 100
    python benchmarks/labelfree_replay.py record --family cartpole --out runs/replay/cartpole_100.npz
    python benchmarks/labelfree_replay.py replay runs/replay/pendulum_100.npz --json out.json hnet.beta=0.5
    python benchmarks/labelfree_replay.py replay runs/replay/pendulum_100.npz --trace 1940:2100
    python benchmarks/labelfree_replay.py replay runs/replay/pendulum_100.npz --oracle 1000 method=task-aware
    python benchmarks/labelfree_replay.py table runs/replay/*.json --out summary.json   # markdown + JSON

Overrides given to ``record`` (``key=value``, e.g. a shorter ``stream=``) are saved with the recording; its
``stream``, ``warmup_steps`` and ``train_every`` are applied again, before the replay's own overrides, to the
replayed learner's run config.

Only tuning seed 100 (``benchmarks/protocol_labelfree.toml``) is replayed in development; the reporting
seeds and the held-out streams are never played here.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dynadapt.envs.registry import get_family
from dynadapt.envs.streams import get_stream
from dynadapt.io import write_json
from dynadapt.labelfree import identification_summary
from dynadapt.models.dynamics import DynamicsModel
from dynadapt.runs.config import apply_overrides, parse_override_args
from dynadapt.runs.presets import get_preset


def record(family: str, seed: int, out: Path, overrides: list[str]) -> None:
    from labelfree_bound import record as play  # the same directory

    with tempfile.TemporaryDirectory() as tmp:
        data = play(family, seed, Path(tmp) / "run", overrides)
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = np.array(overrides, dtype=str)
    np.savez(out, family=np.array(family), seed=np.array(seed), overrides=saved, **data)


def drift(learner: Any) -> list[float]:
    """Each stored situation's MSE on its recent data over its ``train_mse`` (NaN before its first
    session)."""
    out = []
    with torch.no_grad():
        lib = learner.dyn.library_params()
        for k in range(learner.num_situations):
            ref = learner.train_mse[k]
            if math.isnan(ref) or len(learner.buffers[k]) == 0:
                out.append(math.nan)
                continue
            x, y = learner._recent(k)
            params = {name: v[k : k + 1] for name, v in lib.items()}
            mse = float(learner.model.mse(params, x[None], y[None])[0])
            out.append(mse / max(ref, 1e-12))
    return out


def halves(labels: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per true situation, the steps of the first and of the later half of its transitions."""
    out = []
    for k in range(int(labels.max()) + 1):
        rows = np.flatnonzero(labels == k)
        out.append((rows[: len(rows) // 2], rows[len(rows) // 2 :]))
    return out


def oracle_errors(model: DynamicsModel, x: Tensor, y: Tensor, labels: np.ndarray, steps: int) -> list[float]:
    """A dedicated network per true situation (the learner's target architecture, fresh initialisation),
    fitted with Adam (lr 1e-3, 64 transitions per step) on the first half of that situation's transitions,
    in the learner's normalised units; per situation the median squared one-step error (summed over Δ's
    dimensions) on the later half: what the architecture reaches when it is given the labels and trained on
    one situation alone (``benchmarks/labelfree_bound.py``'s oracles, in the replay's units). The replay's
    ``prequential_sq_median`` reads the same rows, each predicted by the learner's network in force before
    it saw the transition."""
    gen = torch.Generator().manual_seed(0)  # minibatches (the initialisation is the model's generator's)
    out = []
    for first, later in halves(labels):
        fit, held = torch.as_tensor(first), torch.as_tensor(later)
        params = {n: v.detach().clone().requires_grad_() for n, v in model.init_params().items()}
        opt = torch.optim.Adam(list(params.values()), lr=1e-3)
        for _ in range(steps):
            batch = fit[torch.randint(0, len(fit), (64,), generator=gen)]
            loss = model.loss(params, x[batch][None], y[batch][None]).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            mean, _ = model.forward_normalized(params, x[held][None])
            out.append(float(((mean[0] - y[held]) ** 2).sum(-1).median()))
    return out


def replay(
    path: Path, overrides: list[str], trace: tuple[int, int] | None = None, oracle_steps: int = 0
) -> dict[str, Any]:
    data = np.load(path)
    family = str(data["family"])
    preset = get_preset(f"hnet-stream-{family}")
    recorded = [str(v) for v in data["overrides"]] if "overrides" in data else []
    recorded = [o for o in recorded if o.split("=")[0] in ("stream", "warmup_steps", "train_every")]
    args = [*recorded, *overrides, f"seed={int(data['seed'])}"]
    cfg = apply_overrides(preset.make(), parse_override_args(args))
    stream = get_stream(cfg.stream)
    labels = data["label"]
    total = labels.shape[0]
    if total != stream.total_steps or not np.array_equal(labels, stream.labels()):
        raise SystemExit(f"{path}: not a recording of {cfg.stream}")
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(int(data["seed"]))
    model = DynamicsModel.for_family(get_family(stream.family), cfg.model, gen)
    learner = cfg.learner_config().build(model, gen)
    warm = cfg.warmup_steps
    errs: list[float] = []
    if trace is not None:  # capture the current situation's one-step log error the identifier is fed
        test = learner.identifier._error_test

        def spy(err: float, allow_new: bool) -> bool:
            errs.append(err)
            return test(err, allow_new)

        learner.identifier._error_test = spy
    obs, act, nxt = (torch.as_tensor(data[k]) for k in ("obs", "act", "next_obs"))
    model.observe(obs[:warm], act[:warm], nxt[:warm])
    model.freeze_normalizers(0)
    starts = set(stream.episode_starts())
    inferred = np.full(total, -1)
    sessions: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    t0, c0 = time.perf_counter(), time.process_time()
    x_all, y_all = model.transitions({"obs": obs, "act": act, "next_obs": nxt})
    prequential = np.full(total, math.nan)
    for t in range(total):
        if t in starts:
            learner.reset()
        if t >= warm:  # the network in force on a transition it has not seen (the identifier's error)
            with torch.no_grad():
                mean, _ = model.forward_normalized(learner.params(), x_all[t : t + 1][None])
                prequential[t] = float(((mean[0] - y_all[t : t + 1]) ** 2).sum())
        before = learner.situation
        size = learner.library_size
        learner.observe(obs[t].numpy(), act[t].numpy(), nxt[t].numpy(), int(labels[t]))
        inferred[t] = learner.situation
        if trace is not None and trace[0] <= t < trace[1]:
            cus = learner.identifier.cusum
            llr = learner.last_llr
            evidence = [round(v, 1) for v in learner.identifier.evidence]
            ratios = [round(float(v), 1) for v in llr] if llr is not None else None
            err = errs[-1] if errs else math.nan
            print(f"t={t} true={labels[t]} cur={learner.situation} err={err:.2f} "
                  f"mean={cus.mean:.2f} sd={math.sqrt(max(cus.var, 0)):.2f} S={cus.statistic:.1f} "
                  f"chk={learner.identifier.checking} ev={evidence} llr={ratios}")  # fmt: skip
        if learner.situation != before and before >= 0:
            created = learner.library_size > size
            events.append({"t": t, "from": before, "to": learner.situation, "created": created,
                           "true": int(labels[t])})  # fmt: skip
        if t + 1 == warm or (t + 1 > warm and (t + 1 - warm) % cfg.train_every == 0):
            current = learner.current
            learner.train()
            buf = learner.buffers[learner.current] if learner.current >= 0 else None
            sessions.append({
                "t": t + 1, "trained": current, "library": learner.library_size,
                "drift": [round(d, 3) for d in drift(learner)],
                "rows": len(buf) if buf is not None else 0,
            })  # fmt: skip
    summary = identification_summary(
        labels[warm:], inferred[warm:], [s - warm for s in stream.switch_steps() if s >= warm]
    )
    # purity of each inferred label: the share of its steps spent in its majority true situation
    purity = {}
    for k in np.unique(inferred[warm:]):
        mask = inferred[warm:] == k
        counts = np.bincount(labels[warm:][mask], minlength=len(stream.situations))
        purity[int(k)] = {"steps": int(mask.sum()), "true": counts.tolist()}
    accuracy: dict[str, Any] = {  # on the later half of each situation's steps: the oracles' held-out rows
        "prequential_sq_median": [float(np.nanmedian(prequential[later])) for _, later in halves(labels)],
    }
    if oracle_steps > 0:
        accuracy["oracle_steps"] = oracle_steps
        accuracy["oracle_sq_median"] = oracle_errors(model, x_all, y_all, labels, oracle_steps)
    return {
        "recording": str(path),
        "overrides": overrides,
        "identification": summary,
        "accuracy": accuracy,
        "purity": purity,
        "events": events,
        "sessions": sessions,
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
    }


def table(paths: list[Path], out: Path | None) -> str:
    """A markdown table of replays' identification figures (one row per ``--json`` output, in the order
    given); drift over every (session, situation not trained in it) pair, its median and largest; with
    ``out``, the same rows (with each inferred label's true-situation counts) as one JSON."""
    rows, lines = [], []
    head = ("recording", "overrides", "NMI", "inferred", "median delay", "false switches", "recall")
    head += ("median drift", "max drift")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|---" * len(head) + "|")
    for path in paths:
        rep = json.loads(path.read_text())
        ident = rep["identification"]
        others = [d for s in rep["sessions"] for k, d in enumerate(s["drift"]) if k != s["trained"]]
        finite = [d for d in others if d is not None and math.isfinite(d)]
        worst = max(finite, default=math.nan)
        typical = float(np.median(finite)) if finite else math.nan
        row = {
            "recording": Path(rep["recording"]).name, "overrides": rep["overrides"],
            "identification": ident, "purity": rep["purity"], "median_drift": typical, "max_drift": worst,
            **({"accuracy": rep["accuracy"]} if "accuracy" in rep else {}),
        }  # fmt: skip
        rows.append(row)
        lines.append(
            f"| {row['recording']} | {' '.join(rep['overrides']) or '(preset)'} | {ident['nmi']:.2f} | "
            f"{ident['situations']:.0f} | {ident['median_delay']} | {ident['false_switches']:.0f} | "
            f"{ident['recall_rate']:.2f} | {typical:.2f} | {worst:.1f} |"
        )
    if out is not None:
        write_json(out, {"replays": rows})
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("--family", default="pendulum")
    rec.add_argument("--seed", type=int, default=100)
    rec.add_argument("--out", type=Path, required=True)
    rep = sub.add_parser("replay")
    rep.add_argument("recording", type=Path)
    rep.add_argument("--json", type=Path)
    rep.add_argument("--trace", help="START:END: print the identifier's state at these steps")
    rep.add_argument("--oracle", type=int, default=0, metavar="STEPS",
                     help="also fit a dedicated network per true situation for STEPS Adam steps")  # fmt: skip
    tab = sub.add_parser("table")
    tab.add_argument("replays", type=Path, nargs="+")
    tab.add_argument("--out", type=Path)
    torch.set_num_threads(1)  # two replays side by side on two cores
    args, overrides = parser.parse_known_args()  # key=value overrides of the hnet preset
    if args.cmd == "table":
        if overrides:
            parser.error(f"unrecognized arguments: {' '.join(overrides)}")
        print(table(args.replays, args.out))
        return
    if args.cmd == "record":
        record(args.family, args.seed, args.out, overrides)
        return
    trace = tuple(int(v) for v in args.trace.split(":")) if args.trace else None
    out = replay(args.recording, overrides, trace, args.oracle)  # type: ignore[arg-type]
    ident = out["identification"]
    keys = ("nmi", "situations", "median_delay", "false_switches", "recall_rate")
    print(" ".join(f"{k}={ident[k]}" for k in keys))
    print(f"cpu {out['cpu_s']:.0f} s; switches committed: {len(out['events'])}, created "
          f"{sum(e['created'] for e in out['events'])}")  # fmt: skip
    for k, v in out["purity"].items():
        print(f"  label {k}: {v['steps']} steps, true {v['true']}")
    for key, values in out["accuracy"].items():
        print(f"  {key}: {values}")
    if args.json:
        write_json(args.json, out)


if __name__ == "__main__":
    main()
