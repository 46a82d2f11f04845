"""The meta-training loop of GrBAL/ReBAL (Nagabandi, Clavera et al. 2019, Alg. 1) and its baselines.

::

    for each iteration:
        collect `episodes_per_iter` episodes, each on a perturbation sampled from the training tasks
            (iteration 0: uniformly random actions; later, at every step: adapt from the last M transitions
             of the episode, then plan with MPC on the adapted parameters and execute a_0);
            with `task.switch_at` > 0 the perturbation changes mid-episode (`set_task`) at that step
        fit on all data: meta-training (grbal, rebal) or plain fitting (mb, mbde, continue)
        clear every adapted parameter (pitfall G12)
        evaluate on the training perturbations and on the held-out ones (no data kept)

Adaptation happens before the agent's timed planning call, so planning and adaptation are timed apart.
Held-out evaluation plays the held-out tasks in turn, each changing into the next (every held-out task and
change is seen when ``eval.episodes`` >= their number), and records the one-step prediction error of the
parameters the agent planned with against steps since the last change of perturbation (episode start or
mid-episode change) and since the mid-episode change alone. One step of the run skeleton is one iteration.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np

from dynadapt.data.buffer import ReplayBuffer
from dynadapt.envs import Task, action_bounds, set_task
from dynadapt.meta.base import MetaFitResult
from dynadapt.meta.grbal import GrBALConfig
from dynadapt.meta.rebal import ReBAL, ReBALConfig
from dynadapt.models.dynamics import DynamicsModel, FitResult, ModelConfig
from dynadapt.planning import PLANNER_CONFIGS, ModelObjective, MPCConfig, PlannerConfig, mpc_agent
from dynadapt.planning.rs import RSConfig
from dynadapt.runs.checkpoint import Stateful
from dynadapt.runs.meta.evaluation import Pair, PredictionErrors, episode_tasks, seeded
from dynadapt.runs.meta.methods import METHODS, Method, make_adapter, make_learner
from dynadapt.runs.meta.plots import evaluated, plot_meta
from dynadapt.runs.run import Run
from dynadapt.runs.rundir import RunDir
from dynadapt.runs.settings import Evaluation, Perturbations, RunConfig, check
from dynadapt.video import Camera

Mode = Literal["random", "mpc", "eval"]


@dataclass
class MetaConfig(RunConfig):
    """Meta-training with online adaptation across perturbations (GrBAL, ReBAL, MB, MB+DE, continue)."""

    task: Perturbations = field(default_factory=Perturbations)
    """Training and held-out perturbations, the mid-episode change (task.switch_at) and episode length."""
    method: Method = "grbal"
    """grbal | rebal | mb (no adaptation) | mbde (MB + dynamic evaluation: online gradient steps on the last M
    transitions from θ* at each step) | continue (MOLe: the same steps, accumulated; reference §5.5-§5.6)."""
    iterations: int = 5
    """Collect-then-fit iterations (the release: 50)."""
    random_iterations: int = 1
    """Leading iterations collected with uniformly random actions."""
    episodes_per_iter: int = 4
    """Episodes collected per iteration (the release: 5)."""
    eval: Evaluation = field(default_factory=lambda: Evaluation(every=1, episodes=2))
    """Evaluation after every eval.every-th iteration and after the last, eval.episodes episodes per split
    (training / held-out; 0: none). Held-out episode k plays held-out task k mod n (then, with
    task.switch_at, task k + 1 mod n), so every held-out task is played when eval.episodes >= n."""
    buffer_capacity: int = 200_000
    """Replay buffer size."""
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
        super().__post_init__()
        check(
            (self.method in METHODS, f"method must be one of {', '.join(METHODS)}"),
            (self.iterations >= 1, "iterations must be >= 1"),
            (0 <= self.random_iterations <= self.iterations, "random_iterations must be in [0, iterations]"),
            (self.episodes_per_iter >= 1, "episodes_per_iter must be >= 1"),
            (self.buffer_capacity >= 1, "buffer_capacity must be >= 1"),
            (self.model.ensemble_size == 1, "meta runs use a single model: model.ensemble_size=1"),
            (self.de_lr > 0 and self.de_steps >= 1, "de_lr must be > 0 and de_steps >= 1"),
        )


class MetaRun(Run[MetaConfig]):
    kind = "meta"
    state_fields = ("iteration", "episode", "returns", "pred_error", "held_out_returns")
    plots: ClassVar[Callable[[RunDir], list[Path]]] = staticmethod(plot_meta)

    def build(self) -> None:
        cfg, family = self.cfg, self.cfg.task.family
        self.train_tasks, self.test_tasks = cfg.task.train_pool(), cfg.task.test_pool()
        self.env = gym.wrappers.TimeLimit(family.make(**self.train_tasks[0]), cfg.task.steps)
        self.low, self.high = action_bounds(self.env)
        gen = self.seeds.torch("model")  # the model's init and every fit's batches, meta-learner's included
        self.model = DynamicsModel.for_family(family, cfg.model, gen)
        self.learner = make_learner(cfg, self.model, gen)
        self.adapter = make_adapter(cfg, self.model, self.learner)
        self.buffer = ReplayBuffer(cfg.buffer_capacity, family.obs_dim, family.act_dim)
        predict = self.learner.predict if isinstance(self.learner, ReBAL) else self.model.predict
        reward_fn = family.reward_fn_for(**self.train_tasks[0])  # set at every change of perturbation
        plan_gen = self.seeds.torch("plan", self.device)
        self.objective = ModelObjective(predict, cfg.mpc, plan_gen, reward_fn, family.termination_fn)
        self.agent = mpc_agent(cfg.planner, self.objective, self.low, self.high)
        self.act_rng, self.task_rng = self.seeds.numpy("act"), self.seeds.numpy("task")
        self.env_seed = self.seeds.int("env")
        self.iteration, self.episode = 0, 0
        self.returns: list[list[float | None]] = []
        self.held_out_returns: list[float] = []
        """The last held-out evaluation's return per episode (episode k plays held-out task k mod n)."""
        """[training, held-out] evaluation return after each iteration (None: not evaluated)."""
        self.pred_error: dict[str, dict[str, float]] = {"change": {}, "switch": {}}
        """Last evaluation's mean one-step error by steps since a change / since the mid-episode change."""
        self.errors = PredictionErrors(self.objective, self.model)

    def components(self) -> dict[str, Stateful]:
        learner: dict[str, Stateful] = {"learner": self.learner} if self.learner is not None else {}
        return {"model": self.model, **learner, "buffer": self.buffer}

    def restored(self) -> None:
        self.adapter = make_adapter(self.cfg, self.model, self.learner)

    def done(self) -> bool:
        return self.iteration >= self.cfg.iterations

    # ------------------------------------------------------------------------------------------ one step
    def step(self) -> dict[str, Any]:
        cfg = self.cfg
        mode: Mode = "random" if self.iteration < cfg.random_iterations else "mpc"
        stats = []
        for _ in range(cfg.episodes_per_iter):  # each on training perturbations sampled with the task stream
            stats.append(self.play(mode, self.env_seed + self.episode, self.task_rng))
            self.episode += 1
        fit = self.fit()  # meta-train (grbal, rebal) or fit (mb, mbde, continue); clears adapted parameters
        self.iteration += 1
        # evaluate on the training and on the held-out perturbations (no data kept)
        self.errors.clear()
        every = cfg.eval.every
        due = self.iteration == cfg.iterations or (every > 0 and self.iteration % every == 0)
        train, test = (self.evaluate(held_out) if due else math.nan for held_out in (False, True))
        self.returns.append([evaluated(train), evaluated(test)])
        self.pred_error = self.errors.means()
        return {
            "iteration": self.iteration,
            "phase": mode,
            "train/return": float(np.mean([s["return"] for s in stats])),
            "train/env_steps": self.buffer.total_added,
            "planner/ms_per_step": float(np.mean([s["plan_ms"] for s in stats])),
            "adapt/ms_per_step": float(np.mean([s["adapt_ms"] for s in stats])),
            **fit,
            "eval/return_train": train,
            "eval/return_test": test,
            "eval/pred_error_by_steps_since_change": self.pred_error["change"],
            "eval/pred_error_by_steps_since_switch": self.pred_error["switch"],
        }

    def play(
        self, mode: Mode, seed: int, rng: np.random.Generator, tasks: Pair | None = None
    ) -> dict[str, float]:
        """One episode on training perturbations drawn with ``rng`` (or on ``tasks``: before and after the
        change, a held-out evaluation); its data is kept unless evaluating."""
        perturbations = self.cfg.task
        self.set_task(perturbations.sample_train(self.train_tasks, rng) if tasks is None else tasks[0])
        obs, _ = self.env.reset(seed=seed)
        self.agent.reset()
        self.adapter.reset()  # G12: nothing adapted in a previous episode is used
        adapt0, plan0 = self.adapter.adapt_ms_total, self.agent.mean_plan_ms * self.agent.num_plans
        total, steps, since_change, task_id = 0.0, 0, 0, 2 * self.episode
        while True:
            if perturbations.switch_at and steps == perturbations.switch_at:
                self.set_task(
                    perturbations.sample_train(self.train_tasks, rng) if tasks is None else tasks[1]
                )
                since_change, task_id = 0, task_id + 1  # one id per perturbation
            if mode == "random":
                act = self.act_rng.uniform(self.low, self.high).astype(np.float32)
            else:
                if self.agent.plans_next:  # adapt on the window (newest transition included) ...
                    self.objective.params = self.adapter.params()
                act = self.agent.act(obs)  # ... then plan with the adapted parameters
            next_obs, reward, terminated, truncated, _ = self.env.step(act)
            if mode == "eval" and tasks is not None:  # the error of the parameters just planned with
                relative = steps - perturbations.switch_at if perturbations.switch_at else None
                self.errors.record(obs, act, next_obs, since_change, relative)
            total += float(reward)
            self.adapter.observe(obs, act, next_obs)
            if mode != "eval":
                self.buffer.add(obs, act, next_obs, float(reward), terminated, truncated,
                                task_id=task_id, episode=self.episode, t=steps)  # fmt: skip
            obs, steps, since_change = next_obs, steps + 1, since_change + 1
            if terminated or truncated:
                break
        timed = mode != "random"  # random actions neither plan nor adapt
        plan_ms = (self.agent.mean_plan_ms * self.agent.num_plans - plan0) / steps if timed else math.nan
        adapt_ms = (self.adapter.adapt_ms_total - adapt0) / steps if timed else math.nan
        return {"return": total, "plan_ms": plan_ms, "adapt_ms": adapt_ms}

    def set_task(self, task: dict[str, Any]) -> None:
        set_task(self.env, **task)
        self.objective.reward_fn = self.cfg.task.family.reward_fn_for(**task)

    def fit(self) -> dict[str, float]:
        """Meta-train (grbal, rebal) or fit (mb, mbde, continue) on all data; drop every adapted parameter."""
        result: MetaFitResult | FitResult = (self.learner or self.model).fit(self.buffer)
        self.adapter.clear()  # G12: the next adaptation starts from the new θ*
        return result.metrics()

    def evaluate(self, held_out: bool) -> float:
        """Mean return of ``eval.episodes`` episodes on the training or the held-out perturbations."""
        pool = self.test_tasks if held_out else self.train_tasks
        if not pool or self.cfg.eval.episodes == 0:
            return math.nan
        returns = self.eval_episodes(held_out, range(self.cfg.eval.episodes))
        if held_out:
            self.held_out_returns = returns
        return float(np.mean(returns))

    def eval_episodes(self, held_out: bool, which: Sequence[int], pairs: bool | None = None) -> list[float]:
        """Returns of evaluation episodes ``which`` on the training or the held-out perturbations; episode k
        of the held-out ones (or of either with ``pairs``) plays task k mod n changing into task k + 1."""
        pool, offset = (self.test_tasks, 2_000_000) if held_out else (self.train_tasks, 1_000_000)
        # the same perturbations, start states and planner noise at every evaluation, and for every method of
        # a seed (common random numbers): the returns of two iterations or methods differ by their models only
        base = self.env_seed + offset
        episodes = episode_tasks(pool, max(which) + 1, held_out if pairs is None else pairs)
        rng = np.random.default_rng(base)
        with seeded(self.objective.generator, base + 7919):  # the planner's noise: its own
            return [self.play("eval", base + k, rng, episodes[k])["return"] for k in which]

    # --------------------------------------------------------------------------------------- outputs
    def watch_tasks(self) -> list[str]:
        """Each held-out perturbation (or training one, where there is no held-out set), changing into the
        next one at ``task.switch_at`` when that is set."""
        pool, env = self.test_tasks or self.train_tasks, self.cfg.task.env
        if not self.iteration:
            return []
        labels = [Task.create(env, p).label for p in pool]
        if self.cfg.task.switch_at:
            return [f"{a} -> {labels[(i + 1) % len(labels)]}" for i, a in enumerate(labels)]
        return labels

    def watch(self, camera: Camera, task: int, episodes: int) -> None:
        held_out, n = bool(self.test_tasks), len(self.test_tasks or self.train_tasks)
        with camera.filming(self):  # evaluation episodes task, task + n, ...: those playing this task
            self.eval_episodes(held_out, [task + n * k for k in range(episodes)], pairs=True)

    def console(self, row: dict[str, Any]) -> str:
        return (
            f"it {row['iteration']}/{self.cfg.iterations} {row['phase']:<6} train {row['train/return']:.1f} "
            f"eval train {row['eval/return_train']:.1f} held-out {row['eval/return_test']:.1f} "
            f"plan {row['planner/ms_per_step']:.1f} ms adapt {row['adapt/ms_per_step']:.2f} ms"
        )

    def summary(self) -> dict[str, Any]:
        cfg, last = self.cfg, self.returns[-1] if self.returns else [None, None]
        return {
            "kind": "meta", "preset": self.preset, "env": cfg.task.env, "method": cfg.method,
            "seed": cfg.seed, "iterations": self.iteration, "env_steps": self.buffer.total_added,
            "final_return_train": math.nan if last[0] is None else last[0],
            "final_return_test": math.nan if last[1] is None else last[1],
            "return_train": [r[0] for r in self.returns], "return_test": [r[1] for r in self.returns],
            "pred_error_by_steps_since_change": self.pred_error["change"],
            "pred_error_by_steps_since_switch": self.pred_error["switch"],
            "train_tasks": self.train_tasks, "test_tasks": self.test_tasks, "switch_at": cfg.task.switch_at,
            "held_out_returns": self.held_out_returns,
        }  # fmt: skip
