"""The continual model-based RL loop of HyperCRL (Huang et al. 2021, reference §4.1, §4.6, §4.8).

::

    for each task t of the sequence (task identity given):
        strategy.before_task(t)                       new embedding / head, targets, fresh optimisers
        a fresh bounded buffer holds task t's recent data only (older data dropped)
        `random_steps` steps with uniformly random actions (episodes of at most the episode length),
        then `episodes` MPC episodes
        every `train_every` (K) env steps: `train_steps` gradient steps on that buffer
        every `eval_every` episodes: evaluate every task seen so far (curves)
        at the end: strategy.after_task(t); evaluate every seen task -> column t of R;
                    multi-step prediction error on held-out data of every seen task -> column t of P

Every method shares the data, schedule, planner and per-task input normalisation (§4.4-4.5): the
normalisers of task t accumulate all of task t's data and freeze when it ends. Only the multitask
oracle keeps every old task's full data. One seed becomes explicit generators; the run writes a
checkpoint after every episode (one atomic safetensors file), so ``dynadapt resume`` continues it.

Outputs (``summary.json``): R[i][j] (return on task i after training through task j, NaN for j < i),
final average return, forgetting R(i, T)/R(i, i), forward transfer R(i, i)/R_single(i) when a single
baseline's matrix is given, BWT/ACC differences (§4.8: ratios mislead when returns can be ≤ 0), the
prediction-error matrix, and the duration of each training session per task (bounded regulariser).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from dynadapt.continual import STRATEGIES, ContinualContext, HyperCRLConfig, StrategyConfig
from dynadapt.data.buffer import ReplayBuffer, holdout_mask
from dynadapt.envs import load_sequence
from dynadapt.errors import DynadaptError
from dynadapt.io import flatten, load_tensors, save_tensors, unflatten
from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.models.normalizer import Normalizer
from dynadapt.planning import PLANNER_CONFIGS, MPCConfig, PlannerConfig, imagine
from dynadapt.planning.cem import CEMConfig
from dynadapt.runs.common import RunBase, action_bounds, derive_seeds, make_mpc_agent
from dynadapt.runs.launch import register_kind
from dynadapt.runs.rundir import RunDir

CHECKPOINT_FORMAT = "dynadapt.ContinualCheckpoint"


def _default_model() -> ModelConfig:
    return ModelConfig(ensemble_size=1, hidden=(64, 64), activation="relu", head="deterministic")


@dataclass
class ContinualConfig:
    """A continual model-based RL experiment over a task sequence (HyperCRL protocol)."""

    sequence: str = "pendulum:hypercrl"
    """Task sequence: "<family>:<name>" or a JSON/TOML file (see `dynadapt envs`)."""
    tasks: int = 0
    """Use only the first this many tasks (0: all)."""
    seed: int = 0
    """Seed of every random number in the run."""
    episode_steps: int = 0
    """Steps per episode (0: the family's episode length)."""
    random_steps: int = 200
    """Steps with uniformly random actions at the start of each task (in episodes of episode_steps)."""
    episodes: int = 5
    """MPC episodes per task."""
    train_every: int = 100
    """K: train every this many env steps of the current task."""
    train_steps: int = 200
    """Gradient steps per training session."""
    batch_size: int = 32
    """Minibatch size B."""
    buffer_capacity: int = 2000
    """Bounded buffer of the current task's most recent transitions (older ones are dropped)."""
    eval_every: int = 0
    """Evaluate all seen tasks every this many MPC episodes (0: only at each task's end)."""
    eval_episodes: int = 1
    """Episodes per task per evaluation."""
    pred_horizon: int = 10
    """Open-loop steps of the multi-step prediction error."""
    threads: int = 1
    """torch CPU threads (0: torch's default)."""
    model: ModelConfig = field(default_factory=_default_model)
    """Dynamics model (ensemble_size must be 1: one network per task)."""
    strategy: StrategyConfig = field(default_factory=HyperCRLConfig, metadata={"choices": STRATEGIES})
    """Continual strategy (choose with strategy=NAME)."""
    planner: PlannerConfig = field(default_factory=CEMConfig, metadata={"choices": PLANNER_CONFIGS})
    """Trajectory optimiser (choose with planner=NAME)."""
    mpc: MPCConfig = field(default_factory=lambda: MPCConfig(horizon=15, particles=1))
    """Receding-horizon control settings."""

    def __post_init__(self) -> None:
        checks = [
            (self.tasks >= 0, "tasks must be >= 0"),
            (self.episode_steps >= 0, "episode_steps must be >= 0"),
            (self.random_steps >= 1, "random_steps must be >= 1"),
            (self.episodes >= 0, "episodes must be >= 0"),
            (self.train_every >= 1, "train_every must be >= 1"),
            (self.train_steps >= 1, "train_steps must be >= 1"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.buffer_capacity >= 1, "buffer_capacity must be >= 1"),
            (self.eval_every >= 0 and self.eval_episodes >= 1, "eval_every >= 0 and eval_episodes >= 1"),
            (self.pred_horizon >= 1, "pred_horizon must be >= 1"),
            (self.model.ensemble_size == 1, "model.ensemble_size must be 1 in a continual run"),
        ]
        for ok, msg in checks:
            if not ok:
                raise DynadaptError(msg)
        load_sequence(self.sequence)


def continual_metrics(R: list[list[float]], single: list[float] | None = None) -> dict[str, Any]:
    """Metrics of a reward matrix ``R[i][j]`` (reference §4.8; 0-based, T tasks).

    forgetting_i = R[i][T−1] / R[i][i] (i < T−1); forward_transfer_i = R[i][i] / single[i];
    bwt = mean_{i<T−1}(R[i][T−1] − R[i][i]); acc = final average = mean_i R[i][T−1].
    """
    t_n = len(R)
    final = [R[i][t_n - 1] for i in range(t_n)]
    diag = [R[i][i] for i in range(t_n)]
    forgetting = [final[i] / diag[i] if diag[i] else math.nan for i in range(t_n - 1)]
    out: dict[str, Any] = {
        "final_average_return": float(np.mean(final)) if final else math.nan,
        "forgetting": forgetting,
        "average_forgetting": float(np.mean(forgetting)) if forgetting else math.nan,
        "bwt": float(np.mean([final[i] - diag[i] for i in range(t_n - 1)])) if t_n > 1 else math.nan,
        "acc": float(np.mean(final)) if final else math.nan,
        "average_curve": [float(np.mean([R[i][j] for i in range(j + 1)])) for j in range(t_n)],
    }
    if single is not None:
        out["forward_transfer"] = [diag[i] / single[i] if single[i] else math.nan for i in range(t_n)]
    return out


class ContinualRun(RunBase):
    """One run of :class:`ContinualConfig` in a run directory."""

    kind = "continual"

    def __init__(self, cfg: ContinualConfig, rundir: RunDir, preset: str = "", progress: bool = True) -> None:
        super().__init__(cfg, rundir, preset, progress)
        self.cfg: ContinualConfig = cfg
        tasks = load_sequence(cfg.sequence)
        self.tasks = tasks[: cfg.tasks] if cfg.tasks else tasks
        families = {t.family for t in self.tasks}
        if len(families) != 1:
            raise DynadaptError("a continual sequence must use one task family")
        self.family = self.tasks[0].task_family
        self.episode_steps = cfg.episode_steps or self.family.episode_steps
        s_model, s_strat, s_plan, s_act, self.env_seed = derive_seeds(cfg.seed, 5)
        self.model = DynamicsModel(
            self.family.obs_dim,
            self.family.act_dim,
            cfg.model,
            obs_preproc=self.family.obs_preproc,
            feature_dim=self.family.feature_dim,
            family=self.family.name,
            generator=torch.Generator().manual_seed(s_model),
        )
        self.strat_gen = torch.Generator().manual_seed(s_strat)
        self.strategy = cfg.strategy.build(self.model, self.strat_gen)
        self.plan_gen = torch.Generator().manual_seed(s_plan)
        self.act_rng = np.random.default_rng(s_act)
        env0 = self.tasks[0].make()
        self.low, self.high = action_bounds(env0)
        env0.close()
        self.agent = make_mpc_agent(
            cfg.planner, cfg.mpc, self.objective_for, self.low, self.high, self.plan_gen
        )
        self.reward_fns = [t.reward_fn() for t in self.tasks]
        self.termination_fns = [t.termination_fn() for t in self.tasks]
        n = len(self.tasks)
        self.norms: list[tuple[Normalizer, Normalizer]] = []
        self.buffer = ReplayBuffer(cfg.buffer_capacity, self.family.obs_dim, self.family.act_dim)
        self.archive: dict[int, dict[str, Tensor]] = {}
        """Full data of finished tasks (multitask oracle only)."""
        self.heldout: dict[int, dict[str, Tensor]] = {}
        """One evaluation episode per finished task (never trained on): prediction error data."""
        # loop state (checkpointed)
        self.task = 0
        self.episode = 0  # within the task; -1 once the task's end-of-task work is done
        self.task_steps = 0
        self.steps_since_train = 0
        self.rows = 0
        self.wall = 0.0
        self.R = [[math.nan] * n for _ in range(n)]
        self.P = [[math.nan] * n for _ in range(n)]
        self.train_times: list[list[float]] = [[] for _ in range(n)]
        self.curves: list[tuple[int, int, list[float]]] = []
        self.active = -1

    # ------------------------------------------------------------------------------- task helpers
    def use_task(self, t: int) -> None:
        """Switch the model's normalisers to task t's."""
        self.model.input_norm, self.model.target_norm = self.norms[t]
        self.active = t

    def objective_for(self, obs0: Tensor) -> Any:
        t = self.active
        params = self.strategy.params_for(t)  # generated once per training round, reused (H3)
        mpc = self.cfg.mpc

        def objective(actions: Tensor) -> Tensor:
            return imagine(
                self.model.predict,
                params,
                obs0,
                actions,
                self.reward_fns[t],
                self.termination_fns[t],
                propagation=mpc.propagation,
                particles=mpc.particles,
                generator=self.plan_gen,
            )

        return objective

    def normalized(self, data: dict[str, Tensor], t: int) -> tuple[Tensor, Tensor]:
        inp, tgt = self.norms[t]
        x = inp.normalize(torch.cat([self.model.obs_preproc(data["obs"]), data["act"]], dim=-1))
        y = tgt.normalize(self.model.targets(data["obs"], data["next_obs"]))
        return x, y

    def task_data(self, i: int) -> tuple[Tensor, Tensor]:
        """Training split (75 %, §4.5) of task i, normalised with its statistics."""
        data = self.buffer.all() if i == self.task else self.archive.get(i)
        if data is None:
            raise DynadaptError(f"the data of task {i} is no longer kept")
        train = ~holdout_mask(data["id"], 0.25)
        return self.normalized({k: v[train] for k, v in data.items()}, i)

    def context(self) -> ContinualContext:
        return ContinualContext(self.task_data, self.task + 1)

    # ------------------------------------------------------------------------------------- episodes
    def run_episode(
        self, t: int, mode: Literal["random", "mpc", "eval"], seed: int, steps: int
    ) -> dict[str, Any]:
        env = self.tasks[t].make()
        obs, _ = env.reset(seed=seed)
        self.use_task(t)
        self.agent.reset()
        total, n = 0.0, 0
        rec: dict[str, list[Any]] = {"obs": [], "act": [], "next_obs": []}
        while n < steps:
            act = (
                self.act_rng.uniform(self.low, self.high).astype(np.float32)
                if mode == "random"
                else self.agent.act(obs)
            )
            next_obs, reward, terminated, truncated, _ = env.step(act)
            total += float(reward)
            if mode == "eval":
                rec["obs"].append(obs)
                rec["act"].append(act)
                rec["next_obs"].append(next_obs)
            else:
                self.buffer.add(obs, act, next_obs, float(reward), terminated, truncated, task_id=t, t=n)
                inp, tgt = self.norms[t]
                o, a, o2 = (
                    torch.as_tensor(np.asarray(v, dtype=np.float32))[None] for v in (obs, act, next_obs)
                )
                inp.update(torch.cat([self.model.obs_preproc(o), a.reshape(1, -1)], dim=-1))
                tgt.update(self.model.targets(o, o2))
                self.task_steps += 1
                self.steps_since_train += 1
                if self.steps_since_train >= self.cfg.train_every:
                    self.train_round(t)
                    self.use_task(t)
            obs = next_obs
            n += 1
            if terminated or truncated:
                break
        env.close()
        out: dict[str, Any] = {"return": total, "length": n}
        if mode == "eval":
            out["data"] = {k: torch.as_tensor(np.asarray(v, dtype=np.float32)) for k, v in rec.items()}
        return out

    def train_round(self, t: int) -> None:
        """``train_steps`` gradient steps on the bounded buffer of task t, timed in CPU seconds of this
        process (``time.process_time``: with one torch thread, the session's own compute, unaffected by
        other processes on the machine)."""
        start = time.process_time()
        x, y = self.task_data(t)
        n = x.shape[0]
        metrics: dict[str, float] = {}
        for _ in range(self.cfg.train_steps):
            idx = torch.randint(0, n, (min(self.cfg.batch_size, n),), generator=self.strat_gen)
            metrics = self.strategy.update(t, x[idx], y[idx])
        self.strategy.end_round(t)
        self.steps_since_train = 0
        self.train_times[t].append(time.process_time() - start)
        self.last_train = metrics

    def evaluate(self, upto: int) -> list[float]:
        """Mean return of ``eval_episodes`` MPC episodes on every task ``0..upto``."""
        out = []
        for i in range(upto + 1):
            rets = []
            for k in range(self.cfg.eval_episodes):
                seed = self.env_seed + 1_000_000 + 10_000 * self.task + 100 * self.episode + k + 7 * i
                ep = self.run_episode(i, "eval", seed, self.episode_steps)
                rets.append(ep["return"])
                if k == 0 and i == upto == self.task and self.episode == -1 and i not in self.heldout:
                    self.heldout[i] = ep["data"]
            out.append(float(np.mean(rets)))
        return out

    @torch.no_grad()
    def prediction_error(self, i: int) -> float:
        """Mean L1 error of the ``pred_horizon``-step open-loop prediction on task i's held-out episode."""
        data = self.heldout[i]
        h = self.cfg.pred_horizon
        n = data["obs"].shape[0] - h + 1
        if n < 1:
            return math.nan
        starts = torch.arange(0, n, max(1, n // 20))
        acts = torch.stack([data["act"][s : s + h] for s in starts.tolist()])
        self.use_task(i)
        pred = self.model.rollout(data["obs"][starts], acts, self.strategy.params_for(i))[0]
        true = torch.stack([data["next_obs"][s : s + h] for s in starts.tolist()])
        return float((pred[:, -1] - true[:, -1]).abs().mean())

    # ------------------------------------------------------------------------------------------ loop
    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        while self.task < len(self.tasks):
            t = self.task
            start = time.perf_counter()
            if self.episode == 0 and self.task_steps == 0:
                self.norms.append((Normalizer(self.model.spec.in_dim), Normalizer(self.model.obs_dim)))
                self.buffer = ReplayBuffer(cfg.buffer_capacity, self.family.obs_dim, self.family.act_dim)
                self.strategy.before_task(t, self.context())
                # random episodes (at most an episode long each: an env's time limit would otherwise
                # end the phase early) until `random_steps` transitions are collected
                collected = 0
                rets: list[float] = []
                while collected < cfg.random_steps:
                    seed = self.env_seed + 1000 * t + (500 + len(rets) if rets else 0)
                    steps = min(cfg.random_steps - collected, self.episode_steps)
                    ep = self.run_episode(t, "random", seed, steps)
                    collected += ep["length"]
                    rets.append(ep["return"])
                if self.steps_since_train:
                    self.train_round(t)
                row: dict[str, Any] = {
                    "task": t,
                    "episode": 0,
                    "phase": "random",
                    "train/return": float(np.mean(rets)),
                }
            elif self.episode < cfg.episodes:
                ep = self.run_episode(
                    t, "mpc", self.env_seed + 1000 * t + self.episode + 1, self.episode_steps
                )
                self.episode += 1
                row = {"task": t, "episode": self.episode, "phase": "mpc", "train/return": ep["return"]}
                if cfg.eval_every and self.episode % cfg.eval_every == 0 and self.episode < cfg.episodes:
                    rets = self.evaluate(t)
                    self.curves.append((t, self.episode, rets))
                    row |= {f"eval/task{i}/return": r for i, r in enumerate(rets)}
            else:
                self.strategy.after_task(t, self.context())
                self.norms[t][0].freeze()
                self.norms[t][1].freeze()
                if cfg.strategy.needs_all_data:
                    self.archive[t] = self.buffer.all()
                self.episode = -1
                rets = self.evaluate(t)
                self.curves.append((t, cfg.episodes, rets))
                for i, r in enumerate(rets):
                    self.R[i][t] = r
                    self.P[i][t] = self.prediction_error(i)
                row = {"task": t, "episode": cfg.episodes, "phase": "task_end"}
                row |= {f"eval/task{i}/return": r for i, r in enumerate(rets)}
                row |= {f"model/task{i}/pred_error": self.P[i][t] for i in range(t + 1)}
                row["time/train_session_s"] = (
                    float(np.mean(self.train_times[t])) if self.train_times[t] else math.nan
                )
                self.task += 1
                self.episode = 0
                self.task_steps = 0
                self.steps_since_train = 0
            row |= {f"train/{k.split('/')[-1]}": v for k, v in getattr(self, "last_train", {}).items()}
            self.wall += time.perf_counter() - start
            row["time/wall_s"] = self.wall
            self.rundir.append_metrics(row)
            self.rows += 1
            if self.progress:
                tqdm.write(
                    " | ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())
                )
            self.save_checkpoint()
        return self.finish()

    # --------------------------------------------------------------------------------------- outputs
    def summary(self) -> dict[str, Any]:
        """The run's results, without timings (a resumed run's summary equals an uninterrupted one's): the
        CPU time of each task's training sessions is in its ``task_end`` metrics row."""
        return {
            "kind": "continual",
            "preset": self.preset,
            "strategy": type(self.cfg.strategy).name,
            "sequence": self.cfg.sequence,
            "tasks": [t.label for t in self.tasks],
            "seed": self.cfg.seed,
            "reward_matrix": self.R,
            "prediction_error_matrix": self.P,
            **continual_metrics(self.R),
            "curves": [{"task": t, "episode": e, "returns": r} for t, e, r in self.curves],
        }

    def finish(self) -> dict[str, Any]:
        summary = self.summary()
        self.rundir.write_summary(summary)
        plot_continual(self.rundir, summary)
        return summary

    # ----------------------------------------------------------------------------------- checkpoints
    def save_checkpoint(self) -> None:
        tensors = flatten("strategy", self.strategy.state_dict())
        tensors |= flatten("buffer", self.buffer.state_dict())
        for i, (inp, tgt) in enumerate(self.norms):
            tensors |= flatten(f"norm{i}.in", inp.state_dict()) | flatten(f"norm{i}.tgt", tgt.state_dict())
        for name, store in (("archive", self.archive), ("heldout", self.heldout)):
            for i, d in store.items():
                tensors |= flatten(f"{name}{i}", d)
        tensors["rng.strat"] = self.strat_gen.get_state()
        tensors["rng.plan"] = self.plan_gen.get_state()
        tensors["rng.model"] = self.model.generator.get_state()
        meta = {
            "version": 1,
            "strategy": self.strategy.meta(),
            "task": self.task,
            "episode": self.episode,
            "task_steps": self.task_steps,
            "steps_since_train": self.steps_since_train,
            "rows": self.rows,
            "wall": self.wall,
            "norms": len(self.norms),
            "archive": sorted(self.archive),
            "heldout": sorted(self.heldout),
            "R": self.R,
            "P": self.P,
            "train_times": self.train_times,
            "curves": self.curves,
            "act_rng": self.act_rng.bit_generator.state,
        }
        save_tensors(self.rundir.checkpoint_path, tensors, CHECKPOINT_FORMAT, meta)

    def load_checkpoint(self, path: Path) -> None:
        tensors, meta = load_tensors(path, CHECKPOINT_FORMAT)
        try:
            self.strategy.load_state_dict(unflatten("strategy", tensors), meta["strategy"])
            self.buffer.load_state_dict(unflatten("buffer", tensors))
            self.norms = []
            for i in range(int(meta["norms"])):
                inp, tgt = Normalizer(self.model.spec.in_dim), Normalizer(self.model.obs_dim)
                inp.load_state_dict(unflatten(f"norm{i}.in", tensors))
                tgt.load_state_dict(unflatten(f"norm{i}.tgt", tensors))
                self.norms.append((inp, tgt))
            self.archive = {i: unflatten(f"archive{i}", tensors) for i in meta["archive"]}
            self.heldout = {i: unflatten(f"heldout{i}", tensors) for i in meta["heldout"]}
            self.strat_gen.set_state(tensors["rng.strat"])
            self.plan_gen.set_state(tensors["rng.plan"])
            self.model.generator.set_state(tensors["rng.model"])
            self.act_rng.bit_generator.state = meta["act_rng"]
            for key in ("task", "episode", "task_steps", "steps_since_train", "rows"):
                setattr(self, key, int(meta[key]))
            self.wall = float(meta["wall"])
            nan = lambda m: [[math.nan if v is None else float(v) for v in row] for row in m]  # noqa: E731
            self.R, self.P = nan(meta["R"]), nan(meta["P"])
            self.train_times = [list(map(float, x)) for x in meta["train_times"]]
            self.curves = [(int(a), int(b), [float(v) for v in c]) for a, b, c in meta["curves"]]
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise DynadaptError(f"{path}: checkpoint does not match this run ({e})") from None
        self.rundir.truncate_metrics(self.rows)


def plot_task_matrix(
    path: Path, matrix: list[list[float | None]], title: str, annotate: bool = False
) -> Path:
    """Heatmap of a task-by-task matrix (row i: evaluated on task i, column j: after training task j;
    None/NaN cells blank), with the values written in the cells when ``annotate``. Returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.array([[math.nan if v is None else v for v in row] for row in matrix], dtype=float)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    im = ax.imshow(m, cmap="viridis")
    if annotate:
        for (i, j), v in np.ndenumerate(m):
            if not math.isnan(v):
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7, color="w")
    ax.set_xlabel("after training task j")
    ax.set_ylabel("evaluated on task i")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_continual(rundir: RunDir, summary: dict[str, Any]) -> list[Path]:
    """Reward-matrix heatmap, per-task return curves with task boundaries, prediction-error matrix."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rundir.plots.mkdir(parents=True, exist_ok=True)
    out = []
    for key, title, fname in (
        ("reward_matrix", "return on task i after training task j", "reward_matrix.png"),
        ("prediction_error_matrix", "multi-step L1 prediction error", "prediction_error.png"),
    ):
        out.append(plot_task_matrix(rundir.plots / fname, summary[key], title))
    episodes = max((c["episode"] for c in summary["curves"]), default=0) or 1
    fig, ax = plt.subplots(figsize=(7, 3.5))
    n = len(summary["reward_matrix"])
    for i in range(n):
        pts = [
            (c["task"] * episodes + c["episode"], c["returns"][i])
            for c in summary["curves"]
            if len(c["returns"]) > i
        ]
        if pts:
            ax.plot(*zip(*pts), marker="o", ms=3, label=f"task {i}")
    for t in range(1, n):
        ax.axvline(t * episodes, color="grey", ls=":", lw=1)
    ax.set_xlabel("MPC episodes (task boundaries dotted)")
    ax.set_ylabel("evaluation return")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(rundir.plots / "task_returns.png", dpi=100)
    plt.close(fig)
    out.append(rundir.plots / "task_returns.png")
    return out


register_kind("continual", ContinualConfig, ContinualRun)
