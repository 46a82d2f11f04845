"""The continual model-based RL loop of HyperCRL (Huang et al. 2021, reference §4.1, §4.6, §4.8).

::

    for each task t of the sequence (task identity given):
        strategy.before_task(t)                       new embedding / head, targets, fresh optimisers
        a fresh bounded buffer holds task t's recent data only (older data dropped)
        `random_steps` steps with uniformly random actions (episodes of at most the episode length),
        then `episodes` MPC episodes
        every `train_every` (K) env steps: `train_steps` gradient steps on that buffer
        every `eval.every` episodes: evaluate every task seen so far (curves)
        at the end: strategy.after_task(t); t's random-action floor; evaluate every seen task -> column t
                    of R; multi-step prediction error on held-out data of every seen task -> column t of P

Every evaluation of task i (and its floor: uniformly random actions) starts `eval.episodes` episodes from
the same states, planned with the same planner seeds, so that R(i, i) and R(i, T) differ by the model
alone and every method run with one seed sees the same states (common random numbers).

One step of the run skeleton is the random phase of a task, one MPC episode, or the task's end. Every
method shares the data, schedule, planner and per-task normalisation (§4.4-4.5: the model's normalisers
of task t take all of task t's data and freeze when it ends); only the multitask oracle keeps old tasks'
data. ``summary.json``: R[i][j] (return on task i after training through task j), the floors, the metrics
of R (:func:`~dynadapt.continual.metrics.continual_metrics`), P and the growth of its prediction errors.
The checkpoint of every task's end is kept (``checkpoints/task<t>.safetensors``): ``dynadapt video`` shows
an earlier task as played right after it was learned beside the same episodes played now.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
from torch import Tensor

from dynadapt.continual import STRATEGIES, ContinualContext, HyperCRLConfig, StrategyConfig
from dynadapt.continual.metrics import random_return, start_seeds
from dynadapt.data.buffer import ReplayBuffer, holdout_mask
from dynadapt.envs import action_bounds
from dynadapt.errors import DynadaptError
from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.planning import PLANNER_CONFIGS, ModelObjective, MPCConfig, PlannerConfig, mpc_agent
from dynadapt.planning.cem import CEMConfig
from dynadapt.runs.checkpoint import IndexedTensors, Stateful
from dynadapt.runs.continual.evaluation import Episode, prediction_errors, results, returns_row, task_end_row
from dynadapt.runs.continual.plots import plot_continual
from dynadapt.runs.run import Run
from dynadapt.runs.rundir import RunDir
from dynadapt.runs.settings import Evaluation, RunConfig, TaskSequence, at_least, check
from dynadapt.video import Camera

Mode = Literal["random", "mpc", "eval"]


def _default_model() -> ModelConfig:
    return ModelConfig(ensemble_size=1, hidden=(64, 64), activation="relu", head="deterministic")


@dataclass
class ContinualConfig(RunConfig):
    """A continual model-based RL experiment over a task sequence (HyperCRL protocol)."""

    task: TaskSequence = field(default_factory=TaskSequence)
    """The task sequence played, one task after the other."""
    random_steps: int = 200
    """Steps with uniformly random actions at the start of each task (in episodes of task.episode_steps)."""
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
    eval: Evaluation = field(default_factory=lambda: Evaluation(every=0, episodes=1))
    """Evaluate all seen tasks every eval.every MPC episodes (0: only at each task's end), eval.episodes
    episodes per task from its fixed start states (also those of its random-action floor)."""
    pred_horizon: int = 10
    """Open-loop steps of the multi-step prediction error."""
    model: ModelConfig = field(default_factory=_default_model)
    """Dynamics model (ensemble_size must be 1: one network per task)."""
    strategy: StrategyConfig = field(default_factory=HyperCRLConfig, metadata={"choices": STRATEGIES})
    """Continual strategy (choose with strategy=NAME)."""
    planner: PlannerConfig = field(default_factory=CEMConfig, metadata={"choices": PLANNER_CONFIGS})
    """Trajectory optimiser (choose with planner=NAME)."""
    mpc: MPCConfig = field(default_factory=lambda: MPCConfig(horizon=15, particles=1))
    """Receding-horizon control settings."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            *at_least(self, random_steps=1, episodes=0, train_every=1, train_steps=1, batch_size=1),
            *at_least(self, buffer_capacity=1, pred_horizon=1),
            (self.eval.episodes >= 1, "eval.episodes must be >= 1"),
            (self.model.ensemble_size == 1, "model.ensemble_size must be 1 in a continual run"),
        )


class ContinualRun(Run[ContinualConfig]):
    kind = "continual"
    state_fields = (
        "task", "episode", "task_steps", "steps_since_train", "R", "P", "train_times", "curves", "last_train",
        "random_returns",
    )  # fmt: skip
    plots: ClassVar[Callable[[RunDir], list[Path]]] = staticmethod(plot_continual)

    def build(self) -> None:
        cfg = self.cfg
        self.tasks = cfg.task.load()
        self.family = cfg.task.family
        self.steps = cfg.task.steps  # per episode
        self.model = DynamicsModel.for_family(self.family, cfg.model, self.seeds.torch("model"))
        self.strategy = cfg.strategy.build(self.model, self.seeds.torch("strategy"))
        task0 = self.tasks[0]
        env = task0.make()
        self.low, self.high = action_bounds(env)
        env.close()
        self.objective = ModelObjective(
            self.model.predict,
            cfg.mpc,
            self.seeds.torch("plan", self.device),
            task0.reward_fn(),
            task0.termination_fn(),
        )
        self.agent = mpc_agent(cfg.planner, self.objective, self.low, self.high)
        self.act_rng = self.seeds.numpy("act")
        self.env_seed = self.seeds.int("env")
        self.eval_seed = self.seeds.int("eval")  # the evaluation start states (and planner seeds)
        self.floor_rng = self.seeds.numpy("floor")  # the random actions of the floors
        self.buffer = ReplayBuffer(cfg.buffer_capacity, self.family.obs_dim, self.family.act_dim)
        self.archive = IndexedTensors()  # the full data of finished tasks (multitask oracle only)
        self.heldout = IndexedTensors()  # one evaluation episode per finished task (never trained on)
        n = len(self.tasks)
        # episode: MPC episodes of the task so far (-1 during its end)
        self.task = self.episode = self.task_steps = self.steps_since_train = 0
        self.R = [[math.nan] * n for _ in range(n)]
        self.P = [[math.nan] * n for _ in range(n)]
        self.random_returns = [math.nan] * n
        self.train_times: list[list[float]] = [[] for _ in range(n)]
        self.curves: list[tuple[int, int, list[float]]] = []
        self.last_train: dict[str, float] = {}

    def components(self) -> dict[str, Stateful]:
        return {name: getattr(self, name) for name in ("model", "strategy", "buffer", "archive", "heldout")}

    def restored(self) -> None:
        if self.episode or self.task_steps:  # in the middle of a task: give the strategy its data again
            self.strategy.resumed(self.task, self.context())

    def done(self) -> bool:
        return self.task >= len(self.tasks)

    # ------------------------------------------------------------------------------------------ one step
    def step(self) -> dict[str, Any]:
        cfg, t = self.cfg, self.task
        if self.episode == 0 and self.task_steps == 0:
            # task t starts: a fresh bounded buffer, fresh normalisers, the strategy's new head / embedding;
            # random episodes (at most an episode long: a time limit would end it) for `random_steps` steps
            self.buffer = ReplayBuffer(cfg.buffer_capacity, self.family.obs_dim, self.family.act_dim)
            self.model.normalizers(t)
            self.strategy.before_task(t, self.context())
            collected, episodes = 0, list[Episode]()
            while collected < cfg.random_steps:
                seed = self.env_seed + 1000 * t + (500 + len(episodes) if episodes else 0)
                episodes.append(self.play(t, "random", seed, min(cfg.random_steps - collected, self.steps)))
                collected += len(episodes[-1])
            if self.steps_since_train:
                self.train_round(t)
            ret = float(np.mean([e.ret for e in episodes]))
            row = {"task": t, "episode": 0, "phase": "random", "train/return": ret}
        elif self.episode < cfg.episodes:
            ret = self.play(t, "mpc", self.env_seed + 1000 * t + self.episode + 1, self.steps).ret
            self.episode += 1
            row = {"task": t, "episode": self.episode, "phase": "mpc", "train/return": ret}
            if cfg.eval.every and self.episode % cfg.eval.every == 0 and self.episode < cfg.episodes:
                row |= returns_row(self.evaluate(t, self.episode))
        else:
            # task t ends: the strategy protects it, its statistics freeze, its random-action floor, every
            # seen task is evaluated (column t of R), its prediction error on its held-out episode (P)
            self.strategy.after_task(t, self.context())
            self.model.freeze_normalizers(t)
            if cfg.strategy.needs_all_data:
                self.archive[t] = self.buffer.all()
            self.episode = -1
            seeds = start_seeds(self.eval_seed, t, cfg.eval.episodes)
            self.random_returns[t] = random_return(self.tasks[t].make, seeds, self.floor_rng, self.steps)
            rets = self.evaluate(t, cfg.episodes)
            errors = prediction_errors(self.model, self.strategy, self.heldout, cfg.pred_horizon, t)
            for i, (ret, error) in enumerate(zip(rets, errors)):
                self.R[i][t], self.P[i][t] = ret, error
            row = {"task": t, "episode": cfg.episodes, "phase": "task_end"}
            row |= {f"eval/task{t}/random_return": self.random_returns[t]}
            row |= task_end_row(rets, errors, self.train_times[t])
            self.task, self.episode, self.task_steps, self.steps_since_train = t + 1, 0, 0, 0
        return row | {f"train/{k.split('/')[-1]}": v for k, v in self.last_train.items()}

    def play(self, t: int, mode: Mode, seed: int, steps: int, env: gym.Env | None = None) -> Episode:
        """One episode of at most ``steps`` steps on task t (in ``env``, default a new env of task t); its
        data is kept unless evaluating."""
        env = self.tasks[t].make() if env is None else env
        obs, _ = env.reset(seed=seed)
        if mode != "random":
            self.plan_on(t)
        if mode == "eval":  # the planner's numbers too depend on the start state's seed only
            self.objective.generator.manual_seed(seed)
        self.agent.reset()
        episode = Episode()
        for n in range(steps):
            if mode == "random":
                act = self.act_rng.uniform(self.low, self.high).astype(np.float32)
            else:
                act = self.agent.act(obs)
            next_obs, reward, terminated, truncated, _ = env.step(act)
            episode.add(obs, act, next_obs, float(reward))
            if mode != "eval":
                self.buffer.add(obs, act, next_obs, float(reward), terminated, truncated, task_id=t, t=n)
                self.model.observe(*episode.last(), task=t)
                self.task_steps += 1
                self.steps_since_train += 1
                if self.steps_since_train >= self.cfg.train_every:
                    self.train_round(t)
                    if mode == "mpc":
                        self.plan_on(t)  # plan with the new fit
            obs = next_obs
            if terminated or truncated:
                break
        env.close()
        return episode

    def plan_on(self, t: int) -> None:
        """Plan for task t: the strategy's params of t (generated once per training round, H3), the
        model's normalisers of t, t's reward and termination."""
        self.objective.params = self.strategy.params_for(t)
        self.objective.predict = self.model.task_predict(t)
        self.objective.reward_fn = self.tasks[t].reward_fn()
        self.objective.termination_fn = self.tasks[t].termination_fn()

    def train_round(self, t: int) -> None:
        """``train_steps`` gradient steps on task t's bounded buffer, timed in this process's CPU seconds."""
        start = time.process_time()
        x, y = self.task_data(t)
        self.last_train = self.strategy.train_round(t, x, y, self.cfg.train_steps, self.cfg.batch_size)
        self.steps_since_train = 0
        self.train_times[t].append(time.process_time() - start)

    def task_data(self, i: int) -> tuple[Tensor, Tensor]:
        """Training split (75 %, §4.5) of task i, normalised with its statistics."""
        data = self.buffer.all() if i == self.task else self.archive.get(i)
        if data is None:
            raise DynadaptError(f"the data of task {i} is no longer kept")
        train = ~holdout_mask(data["id"], 0.25)
        return self.model.transitions({k: v[train] for k, v in data.items()}, task=i)

    def context(self) -> ContinualContext:
        """What the strategy sees of the loop: every kept task's data, the number of tasks so far."""
        return ContinualContext(self.task_data, self.task + 1)

    def evaluate(self, upto: int, at: int) -> list[float]:
        """Mean return of ``eval.episodes`` MPC episodes from the fixed start states of every task ``0..upto``
        (:func:`~dynadapt.continual.metrics.start_seeds`), a point of the curves at episode ``at``; at the end
        of task t, the first episode on t becomes its held-out episode."""
        out, kept = [], self.objective.generator.get_state()  # the planner's stream of training
        for i in range(upto + 1):
            seeds = start_seeds(self.eval_seed, i, self.cfg.eval.episodes)
            episodes = [self.play(i, "eval", seed, self.steps) for seed in seeds]
            if i == upto == self.task and self.episode == -1 and i not in self.heldout:
                self.heldout[i] = episodes[0].tensors()
            out.append(float(np.mean([e.ret for e in episodes])))
        self.objective.generator.set_state(kept)
        self.curves.append((upto, at, out))
        return out

    # --------------------------------------------------------------------------------------- outputs
    def watch_tasks(self) -> list[str]:
        started = self.task + (1 if self.episode or self.task_steps else 0)  # before_task has run
        return [t.label for t in self.tasks[:started]]

    def watch(self, camera: Camera, task: int, episodes: int) -> None:
        for seed in start_seeds(self.eval_seed, task, episodes):
            self.play(task, "eval", seed, self.steps, camera.wrap(self.tasks[task].make()))

    def keep_checkpoint(self, row: dict[str, Any]) -> str | None:
        return f"task{row['task']}" if row["phase"] == "task_end" else None

    def summary(self) -> dict[str, Any]:
        cfg = self.cfg
        run = {"kind": "continual", "preset": self.preset, "strategy": type(cfg.strategy).name}
        played = {"sequence": cfg.task.sequence, "tasks": [t.label for t in self.tasks], "seed": cfg.seed}
        return run | played | results(self.R, self.P, self.curves, self.random_returns)
