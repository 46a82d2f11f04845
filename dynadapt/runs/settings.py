"""The parts of a run config that every kind composes: the run-level fields, the task source, evaluation.

* :class:`RunConfig` is the base of every kind's config: ``seed``, ``threads``, ``device``, the live logger
  and videos.
* A *task source* says what the agent plays: :class:`OneTask` (a family and its parameters; PETS, SAC,
  MBPO, distillation), :class:`TaskSequence` (a named or user-file sequence; the continual kinds) or
  :class:`Perturbations` (training and held-out perturbations, optionally changing mid-episode; the
  meta-learning kinds); each is a :class:`TaskSource` (its ``family`` and ``steps`` per episode). Each kind's
  config has a ``task`` field of the source it plays, so an override is ``task.env=cartpole``,
  ``task.env_params.gravity=12``, ``task.sequence=cartpole:hypercrl`` or ``task.switch_at=50``, and no kind
  carries a field it does not use or overwrites one the user set.
* :class:`Evaluation`: how often and with how many episodes a kind evaluates (``eval.every``,
  ``eval.episodes``), for the kinds that evaluate periodically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np

from dynadapt.checks import MAX_SEED, check, check_memory
from dynadapt.device import resolve_device
from dynadapt.envs import Task, TaskFamily, get_family, load_sequence
from dynadapt.errors import DynadaptError
from dynadapt.extras import require


def at_least(cfg: Any, **minimums: int) -> list[tuple[bool, str]]:
    """The conditions of :func:`check` that fields of ``cfg`` are at least their minimums:
    ``at_least(self, episodes=1)`` is ``[(self.episodes >= 1, "episodes must be >= 1")]``."""
    return [(getattr(cfg, name) >= low, f"{name} must be >= {low}") for name, low in minimums.items()]


@dataclass
class RunConfig:
    """Fields of every run."""

    seed: int = 0
    """Seed of every random number in the run (same seed, same results)."""
    threads: int = 1
    """torch CPU threads (1: fastest for CPU-scale models and parallel runs; 0: torch's default)."""
    device: str = "auto"
    """Where the models, data and planners compute: auto (the GPU when there is one), cpu, cuda or cuda:N
    (environments step on the CPU; checkpoints resume on any device)."""
    logger: Literal["none", "tensorboard", "wandb"] = "none"
    """Live metrics besides metrics.jsonl/.csv: tensorboard (RUN_DIR/tensorboard) or wandb (Weights & Biases,
    offline in RUN_DIR/wandb unless WANDB_MODE says otherwise)."""
    video_every: int = 0
    """Film evaluation episodes at every video_every-th step that evaluates, and at the end, to
    RUN_DIR/videos (0: never; `dynadapt video RUN_DIR` films any checkpoint later)."""

    def __post_init__(self) -> None:
        check(
            (self.seed >= 0, "seed must be >= 0"),
            (self.seed <= MAX_SEED, "seed must be < 2**63"),
            (self.threads >= 0, "threads must be >= 0"),
            (self.video_every >= 0, "video_every must be >= 0"),
            (self.logger in ("none", "tensorboard", "wandb"), "logger must be none, tensorboard or wandb"),
        )
        resolve_device(self.device)
        if self.logger != "none":
            require(self.logger, f"logger={self.logger}")
        if self.video_every:
            require("video", "video_every")


MATRIX_CELL_BYTES = 100
"""Memory per cell of the task-by-task matrices of a continual run (R and P: Python floats in lists, and
their text in the JSON of every checkpoint), for the check of a task sequence's length."""


class TaskSource:
    """What every task source has: the family of its tasks and the length of their episodes."""

    episode_steps: int

    @property
    def family(self) -> TaskFamily:
        raise NotImplementedError

    @property
    def steps(self) -> int:
        """Steps per episode: ``episode_steps``, or the family's own episode length when it is 0."""
        return self.episode_steps or self.family.episode_steps


@dataclass
class OneTask(TaskSource):
    """One task: a family with fixed physical parameters."""

    env: str = "pendulum"
    """Task family (see `dynadapt envs`)."""
    env_params: dict[str, Any] = field(default_factory=dict)
    """Physical parameters, e.g. task.env_params.gravity=12 (defaults: the family's)."""
    episode_steps: int = 0
    """Truncate episodes after this many steps (0: the family's own episode length)."""

    def __post_init__(self) -> None:
        check((self.episode_steps >= 0, "task.episode_steps must be >= 0"))
        self.env_params = get_family(self.env).validate(self.env_params)

    @property
    def family(self) -> TaskFamily:
        return get_family(self.env)

    def make(self) -> gym.Env:
        """The env of the task (with a time limit when ``episode_steps`` is set)."""
        env = self.family.make(**self.env_params)
        return gym.wrappers.TimeLimit(env, self.episode_steps) if self.episode_steps else env

    def as_task(self) -> Task:
        return Task.create(self.env, self.env_params)


@dataclass
class TaskSequence(TaskSource):
    """A sequence of tasks of one family, played one after the other (task identity given)."""

    sequence: str = "pendulum:hypercrl"
    """A named sequence "<family>:<name>" or a JSON/TOML file (see `dynadapt envs`)."""
    tasks: int = 0
    """Use only the first this many tasks (0: all)."""
    episode_steps: int = 0
    """Steps per episode (0: the family's episode length)."""

    def __post_init__(self) -> None:
        check(
            (self.tasks >= 0, "task.tasks must be >= 0"), (self.episode_steps >= 0, "task.episode_steps >= 0")
        )
        tasks = self.load()
        if len({t.family for t in tasks}) != 1:
            raise DynadaptError("a task sequence must use one task family")
        n = len(tasks)  # the runs keep task-by-task matrices (R, P) in memory and in every checkpoint
        check_memory(n * n * MATRIX_CELL_BYTES, f"a sequence of {n} tasks (its task-by-task matrices)")

    def load(self) -> list[Task]:
        tasks = load_sequence(self.sequence)
        return tasks[: self.tasks] if self.tasks else tasks

    @property
    def family(self) -> TaskFamily:
        return self.load()[0].task_family


@dataclass
class Perturbations(TaskSource):
    """Training and held-out perturbations of one family (meta-learning), optionally changing mid-episode."""

    env: str = "pendulum"
    """Task family (see `dynadapt envs`)."""
    train_tasks: list[dict[str, Any]] = field(default_factory=list)
    """Training perturbations (empty: the family's "train" split, or its defaults)."""
    train_ranges: dict[str, Any] = field(default_factory=dict)
    """Per-episode uniform ranges {param: [low, high]} overriding train_tasks' values (e.g. mass)."""
    test_tasks: list[dict[str, Any]] = field(default_factory=list)
    """Held-out perturbations (empty: the family's "test" split)."""
    switch_at: int = 0
    """Change the perturbation at this step of every episode to another one (0: never)."""
    episode_steps: int = 0
    """Truncate episodes after this many steps (0: the family's own length)."""

    def __post_init__(self) -> None:
        check((self.episode_steps >= 0 and self.switch_at >= 0, "episode_steps and switch_at must be >= 0"))
        family = self.family
        for name, rng in self.train_ranges.items():
            if not (isinstance(rng, list | tuple) and len(rng) == 2):
                raise DynadaptError(f"task.train_ranges.{name} must be [low, high]")
            family.validate({name: rng[0]})
            family.validate({name: rng[1]})
        self.train_tasks = [family.validate(t) for t in self.train_tasks]
        self.test_tasks = [family.validate(t) for t in self.test_tasks]

    @property
    def family(self) -> TaskFamily:
        return get_family(self.env)

    def train_pool(self) -> list[dict[str, Any]]:
        """The training perturbations (the family's "train" split when none are given)."""
        fam = self.family
        return self.train_tasks or [fam.validate(t) for t in fam.splits.get("train", ({},))]

    def test_pool(self) -> list[dict[str, Any]]:
        """The held-out perturbations (the family's "test" split when none are given; may be empty)."""
        fam = self.family
        return self.test_tasks or [fam.validate(t) for t in fam.splits.get("test", ())]

    def sample_train(self, pool: list[dict[str, Any]], rng: np.random.Generator) -> dict[str, Any]:
        """A training perturbation: one of ``pool`` with the ``train_ranges`` parameters drawn uniformly."""
        task = dict(pool[int(rng.integers(len(pool)))])
        for name, (lo, hi) in self.train_ranges.items():
            task[name] = float(rng.uniform(lo, hi))
        return self.family.validate(task)


@dataclass
class Evaluation:
    """Periodic evaluation (no data kept)."""

    name: ClassVar[str] = "eval"
    every: int = 1
    """Evaluate every this many training episodes or iterations (0: only at the end)."""
    episodes: int = 3
    """Episodes per evaluation."""

    def __post_init__(self) -> None:
        check(
            (self.every >= 0, "eval.every must be >= 0"), (self.episodes >= 0, "eval.episodes must be >= 0")
        )
