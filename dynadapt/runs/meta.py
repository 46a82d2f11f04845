"""The meta-training loop of GrBAL/ReBAL (Nagabandi, Clavera et al. 2019, Alg. 1) and its baselines.

::

    for each iteration:
        collect `episodes_per_iter` episodes, each on a perturbation sampled from the training tasks
            (iteration 0: uniformly random actions; later: the adapting MPC agent, which at every step
             adapts from the last M transitions of the episode and plans with the adapted model);
            with `switch_at` > 0 the perturbation changes mid-episode (`set_task`) at that step
        fit on all data: meta-training (grbal, rebal) or plain fitting (mb, mbde, continue)
        clear every adapted parameter (pitfall G12)
        evaluate on the training perturbations and on the held-out ones (no data kept)

Methods (``method=``): ``grbal``, ``rebal``, ``mb`` (no adaptation), ``mbde`` (MB + dynamic evaluation:
online gradient steps on the last M transitions, restarting from θ* each step) and ``continue`` (MOLe's
continued adaptation: the same steps, accumulated over the episode) — reference §5.5-§5.6.

Per step the adaptation time is measured beside the planning time. Evaluation episodes also record the
one-step prediction error of the model the agent planned with, against steps since the last change of
perturbation (episode start or the mid-episode change), and separately against steps since the mid-episode
change alone (the plot ``plots/prediction_error.png``). Held-out evaluation plays the held-out tasks in
turn, each changing into the next, so every held-out task and change is seen (``eval_episodes`` >= their
number); ``eval_every`` thins the evaluations (the last iteration is always evaluated). One atomic
checkpoint per iteration makes the run resumable like :class:`dynadapt.runs.mbrl.MBRLRun`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from dynadapt.data.buffer import ReplayBuffer
from dynadapt.envs import TaskFamily, get_family
from dynadapt.envs.base import set_task
from dynadapt.errors import DynadaptError
from dynadapt.io import flatten, load_tensors, save_tensors, unflatten
from dynadapt.meta.base import Adapter, MetaFitResult
from dynadapt.meta.grbal import GrBAL, GrBALConfig
from dynadapt.meta.online import AdaptMode, GradientAdapter
from dynadapt.meta.rebal import ReBAL, ReBALConfig
from dynadapt.models.dynamics import DynamicsModel, FitResult, ModelConfig
from dynadapt.planning import PLANNER_CONFIGS, MPCConfig, PlannerConfig, imagine
from dynadapt.planning.rs import RSConfig
from dynadapt.runs.common import RunBase, derive_seeds, make_mpc_agent
from dynadapt.runs.launch import register_kind
from dynadapt.runs.rundir import RunDir

CHECKPOINT_FORMAT = "dynadapt.MetaCheckpoint"
Method = Literal["grbal", "rebal", "mb", "mbde", "continue"]
METHODS: tuple[str, ...] = ("grbal", "rebal", "mb", "mbde", "continue")


def validated_perturbations(
    family: TaskFamily,
    train_tasks: list[dict[str, Any]],
    test_tasks: list[dict[str, Any]],
    train_ranges: dict[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(train_tasks, test_tasks)`` validated by ``family``; each ``train_ranges`` entry must be
    ``[low, high]`` with both ends valid values of its parameter (raises :class:`DynadaptError`)."""
    for name, rng in train_ranges.items():
        if not (isinstance(rng, list | tuple) and len(rng) == 2):
            raise DynadaptError(f"train_ranges.{name} must be [low, high]")
        family.validate({name: rng[0]})
        family.validate({name: rng[1]})
    return [family.validate(t) for t in train_tasks], [family.validate(t) for t in test_tasks]


@dataclass
class MetaConfig:
    """Meta-training with online adaptation across perturbations (GrBAL, ReBAL, MB, MB+DE, continue)."""

    env: str = "pendulum"
    """Task family (see `dynadapt envs`)."""
    method: Method = "grbal"
    """grbal | rebal | mb (no adaptation) | mbde (dynamic evaluation) | continue (MOLe-style)."""
    train_tasks: list[dict[str, Any]] = field(default_factory=list)
    """Training perturbations (empty: the family's "train" split, or its defaults)."""
    train_ranges: dict[str, Any] = field(default_factory=dict)
    """Per-episode uniform ranges {param: [low, high]} overriding train_tasks' values (e.g. mass)."""
    test_tasks: list[dict[str, Any]] = field(default_factory=list)
    """Held-out perturbations (empty: the family's "test" split)."""
    switch_at: int = 0
    """Change the perturbation at this step of every episode to another sampled one (0: never)."""
    seed: int = 0
    """Seed of every random number in the run."""
    iterations: int = 5
    """Collect-then-fit iterations (the release: 50)."""
    random_iterations: int = 1
    """Leading iterations collected with uniformly random actions."""
    episodes_per_iter: int = 4
    """Episodes collected per iteration (the release: 5)."""
    episode_steps: int = 0
    """Truncate episodes after this many steps (0: the family's own length)."""
    eval_episodes: int = 2
    """Evaluation episodes per split (train / held-out) per evaluation (0: no evaluation). Held-out
    episode k plays held-out task k mod n (then, with ``switch_at``, task k + 1 mod n), so every held-out
    task is played when eval_episodes >= n."""
    eval_every: int = 1
    """Evaluate after every eval_every-th iteration and after the last (0: only after the last)."""
    buffer_capacity: int = 200_000
    """Replay buffer size."""
    threads: int = 1
    """torch CPU threads (0: torch's default)."""
    de_lr: float = 0.01
    """MB+DE / continue: step size of the online gradient steps."""
    de_steps: int = 1
    """MB+DE / continue: gradient steps per env step."""
    model: ModelConfig = field(
        default_factory=lambda: ModelConfig(ensemble_size=1, hidden=(128, 128), head="deterministic")
    )
    """Dynamics model (GrBAL: single deterministic MLP, MSE on the normalised Δ)."""
    grbal: GrBALConfig = field(default_factory=GrBALConfig)
    """GrBAL settings (also the window M of mbde/continue)."""
    rebal: ReBALConfig = field(default_factory=ReBALConfig)
    """ReBAL settings."""
    planner: PlannerConfig = field(default_factory=RSConfig, metadata={"choices": PLANNER_CONFIGS})
    """Trajectory optimiser (GrBAL release: random shooting, N = 500)."""
    mpc: MPCConfig = field(
        default_factory=lambda: MPCConfig(horizon=10, particles=1, propagation="expectation")
    )
    """MPC settings (GrBAL release: H = 10)."""

    def __post_init__(self) -> None:
        checks = [
            (self.method in METHODS, f"method must be one of {', '.join(METHODS)}"),
            (self.iterations >= 1, "iterations must be >= 1"),
            (0 <= self.random_iterations <= self.iterations, "random_iterations must be in [0, iterations]"),
            (self.episodes_per_iter >= 1, "episodes_per_iter must be >= 1"),
            (self.episode_steps >= 0 and self.switch_at >= 0, "episode_steps and switch_at must be >= 0"),
            (self.eval_episodes >= 0 and self.buffer_capacity >= 1, "invalid eval_episodes/buffer_capacity"),
            (self.eval_every >= 0, "eval_every must be >= 0"),
            (self.model.ensemble_size == 1, "meta runs use a single model: model.ensemble_size=1"),
            (self.de_lr > 0 and self.de_steps >= 1, "de_lr must be > 0 and de_steps >= 1"),
        ]
        for ok, msg in checks:
            if not ok:
                raise DynadaptError(msg)
        self.train_tasks, self.test_tasks = validated_perturbations(
            get_family(self.env), self.train_tasks, self.test_tasks, self.train_ranges
        )


class MetaRun(RunBase):
    """One run of :class:`MetaConfig` in a run directory."""

    kind = "meta"

    def __init__(self, cfg: MetaConfig, rundir: RunDir, preset: str = "", progress: bool = True) -> None:
        super().__init__(cfg, rundir, preset, progress)
        self.cfg: MetaConfig = cfg
        fam: TaskFamily = get_family(cfg.env)
        self.family = fam
        self.train_tasks = cfg.train_tasks or [fam.validate(t) for t in fam.splits.get("train", ({},))]
        self.test_tasks = cfg.test_tasks or [fam.validate(t) for t in fam.splits.get("test", ())]
        self.episode_steps = cfg.episode_steps or fam.episode_steps
        self.env = gym.wrappers.TimeLimit(fam.make(**self.train_tasks[0]), self.episode_steps)
        self.low = np.asarray(fam.act_low or self.env.action_space.low, dtype=np.float32)  # type: ignore[attr-defined]
        self.high = np.asarray(fam.act_high or self.env.action_space.high, dtype=np.float32)  # type: ignore[attr-defined]
        s_model, s_plan, s_act, s_task, self.env_seed = derive_seeds(cfg.seed, 5)
        self.model_gen = torch.Generator().manual_seed(s_model)
        self.model = DynamicsModel(
            fam.obs_dim, fam.act_dim, cfg.model, obs_preproc=fam.obs_preproc,
            feature_dim=fam.feature_dim, family=fam.name, generator=self.model_gen,
        )  # fmt: skip
        self.learner: GrBAL | ReBAL | None = None
        if cfg.method == "grbal":
            self.learner = GrBAL(self.model, cfg.grbal, self.model_gen)
        elif cfg.method == "rebal":
            self.learner = ReBAL(self.model, cfg.rebal, self.model_gen)
        self.adapter = self._make_adapter()
        self.plan_gen = torch.Generator().manual_seed(s_plan)
        self.act_rng = np.random.default_rng(s_act)
        self.task_rng = np.random.default_rng(s_task)
        self.buffer = ReplayBuffer(cfg.buffer_capacity, fam.obs_dim, fam.act_dim)
        self.agent = make_mpc_agent(
            cfg.planner, cfg.mpc, self.objective_for, self.low, self.high, self.plan_gen
        )
        self.reward_fn = fam.reward_fn_for(**self.train_tasks[0])
        self.iteration = 0
        self.episode = 0
        self.rows = 0
        self.wall = 0.0
        self.last_fit: dict[str, float] = {}
        self.history: list[dict[str, Any]] = []
        self.adapt_in_plan_ms = 0.0
        """Wall time of the adapter calls made inside the agent's planning calls (ms, cumulative)."""
        self.error_curve: dict[int, list[float]] = {}
        """Steps since the last change -> one-step prediction errors (held-out evaluation episodes)."""
        self.switch_curve: dict[int, list[float]] = {}
        """The same, counted only from the mid-episode change (``switch_at``), not from episode start."""

    # ------------------------------------------------------------------------------------ components
    def _make_adapter(self) -> Adapter:
        cfg = self.cfg
        if isinstance(self.learner, ReBAL):
            return self.learner.make_adapter()
        if isinstance(self.learner, GrBAL):
            return GradientAdapter(
                self.model,
                cfg.grbal.M,
                self.learner.step_size,
                cfg.grbal.inner_steps,
                min_window=cfg.grbal.adapt_from or cfg.grbal.M,
            )
        modes: dict[str, AdaptMode] = {"mb": "none", "mbde": "reset", "continue": "continue"}
        return GradientAdapter(
            self.model,
            cfg.grbal.M,
            cfg.de_lr,
            cfg.de_steps,
            mode=modes[cfg.method],
            min_window=cfg.grbal.adapt_from or cfg.grbal.M,
        )

    @property
    def predict(self) -> Callable[..., tuple[Tensor, Tensor | None]]:
        return self.learner.predict if isinstance(self.learner, ReBAL) else self.model.predict

    def objective_for(self, obs0: Tensor) -> Callable[[Tensor], Tensor]:
        """Adapt now (from the window, newest transition included), then score ``actions[B, H, A]``.

        The agent calls this inside its timed planning call; the adaptation's share is counted in
        ``adapt_in_plan_ms`` and taken out of the reported planning time.
        """
        start = time.perf_counter()
        params = self.adapter.params()
        self.adapt_in_plan_ms += (time.perf_counter() - start) * 1e3
        self._planned_with = params
        mpc, predict, reward_fn = self.cfg.mpc, self.predict, self.reward_fn

        def objective(actions: Tensor) -> Tensor:
            return imagine(
                predict, params, obs0, actions, reward_fn, self.family.termination_fn,
                propagation=mpc.propagation, particles=mpc.particles, generator=self.plan_gen,
            )  # fmt: skip

        return objective

    def sample_task(self, pool: list[dict[str, Any]], rng: np.random.Generator) -> dict[str, Any]:
        task = dict(pool[int(rng.integers(len(pool)))])
        if pool is self.train_tasks:
            for name, (lo, hi) in self.cfg.train_ranges.items():
                task[name] = float(rng.uniform(lo, hi))
        return self.family.validate(task)

    # ------------------------------------------------------------------------------------ one episode
    def run_episode(
        self,
        mode: Literal["random", "mpc", "eval"],
        seed: int,
        pool: list[dict[str, Any]],
        rng: np.random.Generator,
        tasks: tuple[dict[str, Any], dict[str, Any]] | None = None,
    ) -> dict[str, float]:
        """Play one episode on tasks drawn from ``pool`` (or on ``tasks``: before and after the change);
        keep the data unless evaluating."""
        task = self.sample_task(pool, rng) if tasks is None else dict(tasks[0])
        set_task(self.env, **task)
        self.reward_fn = self.family.reward_fn_for(**task)
        obs, _ = self.env.reset(seed=seed)
        self.agent.reset()
        self.adapter.reset()  # G12: nothing adapted in a previous episode is used
        adapt_before, plan_before, inside_before = (
            self.adapter.adapt_ms_total,
            self.agent.mean_plan_ms * self.agent.num_plans,
            self.adapt_in_plan_ms,
        )
        total, steps, since_change, task_id = 0.0, 0, 0, 2 * self.episode  # one id per perturbation
        switched = False
        while True:
            if self.cfg.switch_at and steps == self.cfg.switch_at:
                task = self.sample_task(pool, rng) if tasks is None else dict(tasks[1])
                switched = True
                set_task(self.env, **task)
                self.reward_fn = self.family.reward_fn_for(**task)
                since_change = 0
                task_id += 1
            if mode == "random":
                act = self.act_rng.uniform(self.low, self.high).astype(np.float32)
            else:
                act = self.agent.act(obs)
            next_obs, reward, terminated, truncated, _ = self.env.step(act)
            if mode == "eval" and pool is self.test_tasks:
                self._record_error(obs, act, next_obs, since_change, switched)
            total += float(reward)
            self.adapter.observe(obs, act, next_obs)
            if mode != "eval":
                self.buffer.add(
                    obs, act, next_obs, float(reward), terminated, truncated,
                    task_id=task_id, episode=self.episode, t=steps,
                )  # fmt: skip
            obs = next_obs
            steps += 1
            since_change += 1
            if terminated or truncated:
                break
        # planning alone: the agent's planning calls minus the adaptation they triggered (objective_for)
        plan_ms = self.agent.mean_plan_ms * self.agent.num_plans - plan_before
        plan_ms -= self.adapt_in_plan_ms - inside_before
        return {
            "return": total,
            "plan_ms": plan_ms / steps if mode != "random" else math.nan,
            "adapt_ms": (self.adapter.adapt_ms_total - adapt_before) / steps
            if mode != "random"
            else math.nan,
        }

    def _record_error(self, obs: Any, act: Any, next_obs: Any, since_change: int, switched: bool) -> None:
        """Normalised one-step MSE of the parameters the agent just planned with."""
        with torch.no_grad():
            o = torch.as_tensor(obs, dtype=torch.float32).view(1, 1, -1)
            a = torch.as_tensor(act, dtype=torch.float32).view(1, 1, -1)
            pred, _ = self.predict(self._planned_with, o, a)
            std = self.model.target_norm.std
            err = float(
                (((pred.view(-1) - torch.as_tensor(next_obs, dtype=torch.float32)) / std) ** 2).mean()
            )
        self.error_curve.setdefault(since_change, []).append(err)
        if switched:
            self.switch_curve.setdefault(since_change, []).append(err)

    def fit(self) -> dict[str, float]:
        if self.learner is not None:
            res: MetaFitResult | FitResult = self.learner.fit(self.buffer)
        else:
            res = self.model.fit(self.buffer)
        self.adapter.clear()  # G12: the next adaptation starts from the new θ*
        return res.metrics()

    def evaluate(self, pool: list[dict[str, Any]], offset: int) -> float:
        if not pool or self.cfg.eval_episodes == 0:
            return math.nan
        rng = np.random.default_rng(self.env_seed + offset + self.iteration)
        # the planner's noise during evaluation comes from its own seed, and training's generator state is
        # restored afterwards: evaluating (or not, eval_every) never changes what training collects
        plan_state = self.plan_gen.get_state()
        self.plan_gen.manual_seed(self.env_seed + offset + 7919 * self.iteration)
        out = []
        try:
            for k in range(self.cfg.eval_episodes):
                # held-out tasks in turn, each changing into the next one: every task and change is played
                tasks = (pool[k % len(pool)], pool[(k + 1) % len(pool)]) if pool is self.test_tasks else None
                seed = self.env_seed + offset + 1000 * self.iteration + k
                out.append(self.run_episode("eval", seed, pool, rng, tasks)["return"])
        finally:
            self.plan_gen.set_state(plan_state)
        return float(np.mean(out))

    def due_for_eval(self) -> bool:
        """Evaluate after this iteration (already counted in ``self.iteration``)?"""
        every, it = self.cfg.eval_every, self.iteration
        return it == self.cfg.iterations or (every > 0 and it % every == 0)

    # ------------------------------------------------------------------------------------------ loop
    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        while self.iteration < cfg.iterations:
            start = time.perf_counter()
            mode: Literal["random", "mpc"] = "random" if self.iteration < cfg.random_iterations else "mpc"
            stats = []
            for _ in range(cfg.episodes_per_iter):
                stats.append(
                    self.run_episode(mode, self.env_seed + self.episode, self.train_tasks, self.task_rng)
                )
                self.episode += 1
            self.last_fit = self.fit()
            self.iteration += 1
            self.error_curve, self.switch_curve = {}, {}
            evaluate = self.due_for_eval()
            row: dict[str, Any] = {
                "iteration": self.iteration,
                "phase": mode,
                "train/return": float(np.mean([s["return"] for s in stats])),
                "train/env_steps": self.buffer.total_added,
                "planner/ms_per_step": float(np.mean([s["plan_ms"] for s in stats])),
                "adapt/ms_per_step": float(np.mean([s["adapt_ms"] for s in stats])),
                **self.last_fit,
                "eval/return_train": self.evaluate(self.train_tasks, 1_000_000) if evaluate else math.nan,
                "eval/return_test": self.evaluate(self.test_tasks, 2_000_000) if evaluate else math.nan,
            }
            row["eval/pred_error_by_steps_since_change"] = {
                str(k): float(np.mean(v)) for k, v in sorted(self.error_curve.items())
            }
            row["eval/pred_error_by_steps_since_switch"] = {
                str(k): float(np.mean(v)) for k, v in sorted(self.switch_curve.items())
            }
            self.wall += time.perf_counter() - start
            row["time/wall_s"] = self.wall
            self.history.append({k: v for k, v in row.items() if not k.startswith("time/")})
            self.rundir.append_metrics(row)
            self.rows += 1
            if self.progress:
                print(
                    f"it {self.iteration}/{cfg.iterations} {mode:<6} train {row['train/return']:.1f} "
                    f"eval train {row['eval/return_train']:.1f} held-out {row['eval/return_test']:.1f} "
                    f"plan {row['planner/ms_per_step']:.1f} ms adapt {row['adapt/ms_per_step']:.2f} ms"
                )
            self.save_checkpoint()
        return self.finish()

    def summary(self) -> dict[str, Any]:
        last = self.history[-1] if self.history else {}
        return {
            "kind": "meta",
            "preset": self.preset,
            "env": self.cfg.env,
            "method": self.cfg.method,
            "seed": self.cfg.seed,
            "iterations": self.iteration,
            "env_steps": self.buffer.total_added,
            "final_return_train": last.get("eval/return_train", math.nan),
            "final_return_test": last.get("eval/return_test", math.nan),
            "return_train": [_evaluated(h["eval/return_train"]) for h in self.history],
            "return_test": [_evaluated(h["eval/return_test"]) for h in self.history],
            "pred_error_by_steps_since_change": last.get("eval/pred_error_by_steps_since_change", {}),
            "pred_error_by_steps_since_switch": last.get("eval/pred_error_by_steps_since_switch", {}),
            "train_tasks": self.train_tasks,
            "test_tasks": self.test_tasks,
            "switch_at": self.cfg.switch_at,
        }

    def finish(self) -> dict[str, Any]:
        summary = self.summary()
        self.rundir.write_summary(summary)
        plot_meta(self.rundir, self.history)
        return summary

    # ------------------------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> None:
        tensors = flatten("model", self.model.state_dict())
        if self.learner is not None:
            tensors |= flatten("learner", self.learner.state_dict())
        tensors |= flatten("buffer", self.buffer.state_dict())
        tensors["rng.model"] = self.model_gen.get_state()
        tensors["rng.plan"] = self.plan_gen.get_state()
        meta = {
            "version": 1, "iteration": self.iteration, "episode": self.episode, "rows": self.rows,
            "wall": self.wall, "history": self.history, "last_fit": self.last_fit,
            "act_rng": self.act_rng.bit_generator.state, "task_rng": self.task_rng.bit_generator.state,
        }  # fmt: skip
        save_tensors(self.rundir.checkpoint_path, tensors, CHECKPOINT_FORMAT, meta)

    def load_checkpoint(self, path: Path) -> None:
        tensors, meta = load_tensors(path, CHECKPOINT_FORMAT)
        try:
            self.model.load_state_dict(unflatten("model", tensors))
            if self.learner is not None:
                self.learner.load_state_dict(unflatten("learner", tensors))
            self.buffer.load_state_dict(unflatten("buffer", tensors))
            self.model_gen.set_state(tensors["rng.model"])
            self.plan_gen.set_state(tensors["rng.plan"])
            self.act_rng.bit_generator.state = meta["act_rng"]
            self.task_rng.bit_generator.state = meta["task_rng"]
            self.iteration, self.episode = int(meta["iteration"]), int(meta["episode"])
            self.rows, self.wall = int(meta["rows"]), float(meta["wall"])
            self.history, self.last_fit = list(meta["history"]), dict(meta["last_fit"])
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise DynadaptError(f"{path}: checkpoint does not match this run ({e})") from None
        self.adapter = self._make_adapter()
        self.rundir.truncate_metrics(self.rows)


def _evaluated(value: float | None) -> float | None:
    """An evaluation return, None where the iteration was not evaluated (NaN, or null after a resume)."""
    return None if value is None or math.isnan(value) else float(value)


def plot_meta(rundir: RunDir, history: list[dict[str, Any]]) -> list[Path]:
    """``plots/return.png`` (return vs iteration, train and held-out) and ``plots/prediction_error.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rundir.plots.mkdir(parents=True, exist_ok=True)
    out = []
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for key, style, label in (
        ("eval/return_train", "o-", "training perturbations"),
        ("eval/return_test", "s-", "held-out perturbations"),
    ):
        pts = [(int(h["iteration"]), float(h[key])) for h in history if _evaluated(h[key]) is not None]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("evaluation return")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.append(rundir.plots / "return.png")
    fig.savefig(out[-1])
    plt.close(fig)
    curve = history[-1].get("eval/pred_error_by_steps_since_change", {}) if history else {}
    switch = history[-1].get("eval/pred_error_by_steps_since_switch", {}) if history else {}
    if curve:
        fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
        ax.plot([int(k) for k in curve], list(curve.values()), lw=1, label="since episode start or change")
        if switch:
            label = "since the mid-episode change"
            ax.plot([int(k) for k in switch], list(switch.values()), lw=1, label=label)
            ax.legend(fontsize=8)
        ax.set_xlabel("steps since the last change of perturbation")
        ax.set_ylabel("one-step prediction error (normalised MSE)")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        out.append(rundir.plots / "prediction_error.png")
        fig.savefig(out[-1])
        plt.close(fig)
    return out


register_kind("meta", MetaConfig, MetaRun)
