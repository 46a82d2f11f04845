"""Kind ``inverse``: learn an inverse or action-free model from random play and evaluate it.

::

    for each iteration:
        collect `episodes_per_iter` episodes with uniformly random actions
        split all segments of n steps by episode (held out: `holdout` of the episodes)
        fit the model (and its least-squares baseline) on the training segments
        held-out error at gap n of the model and of least squares
        inverse models: `reach` trials in the real env (below): the model, least squares, random actions

A reach trial (the lecture's test of an inverse model: does the predicted action take the system where it
should go?): from a fresh episode's state s_t after a random number of random steps, n more random steps give
the target s_{t+n}; the simulator is set back to s_t and the actions are executed: a chunk open loop, a
first-action model closed loop (replanned at every step with the steps left, k = n, n − 1, ..., 1). The
trial succeeds when the reached state is within ``tolerance`` of the target: the root mean square over the
observation of the difference in units of the data's standard deviation (velocities included: one step of
any action barely moves a position, so positions alone would let random actions "reach" one-step targets).
The trials are the same at every evaluation and for every predictor (common random numbers). One step of
the run skeleton is one iteration.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from dynadapt.data.buffer import ReplayBuffer
from dynadapt.envs import action_bounds
from dynadapt.envs.base import MujocoTaskEnv
from dynadapt.errors import DynadaptError
from dynadapt.models.inverse import SegmentModel, SegmentModelConfig, segments
from dynadapt.runs.checkpoint import Stateful
from dynadapt.runs.run import Run
from dynadapt.runs.settings import OneTask, RunConfig, at_least, check

if TYPE_CHECKING:
    from dynadapt.video import Camera

Controller = Callable[[Tensor, int], Tensor]
"""``act(obs[O], steps_left) -> action[A]`` (or a chunk ``[k, A]``, executed open loop)."""
Distance = Callable[[Tensor, Tensor], Tensor]
"""``distance(obs[..., O], target[..., O]) -> [...]``"""
Tracker = Callable[[Tensor, Tensor], Tensor]
"""``act(obs[O], target[O]) -> action[A]``: a controller towards a state n steps ahead."""


@dataclass
class InverseConfig(RunConfig):
    """Inverse (one-step, n-step first action or chunk) or action-free models learned from random play."""

    task: OneTask = field(default_factory=lambda: OneTask(env="reacher"))
    """The task played (random actions)."""
    iterations: int = 3
    """Collect-fit-evaluate iterations."""
    episodes_per_iter: int = 20
    """Random episodes collected per iteration."""
    holdout: float = 0.2
    """Fraction of the episodes whose segments are held out (by a fixed hash of the episode index)."""
    reach: int = 50
    """Reach trials in the real env per evaluation (inverse models; 0: none)."""
    tolerance: float = 0.1
    """A reach trial succeeds when the RMS difference to the target, in standard deviations of the data's
    observations, is below this."""
    buffer_capacity: int = 200_000
    """Replay buffer size."""
    model: SegmentModelConfig = field(default_factory=SegmentModelConfig)
    """The model: kind, span n, output, network and fit."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            *at_least(self, iterations=1, episodes_per_iter=1, reach=0, buffer_capacity=1),
            (0 < self.holdout < 1, "holdout must be in (0, 1)"),
            (self.tolerance > 0, "tolerance must be > 0"),
            (self.model.n < self.task.steps, "model.n must be shorter than an episode"),
        )


class InverseRun(Run[InverseConfig]):
    kind = "inverse"
    state_fields: ClassVar[tuple[str, ...]] = ("iteration", "episode", "errors")

    def build(self) -> None:
        cfg, family = self.cfg, self.cfg.task.family
        self.env = cfg.task.make()
        sim = self.env.unwrapped
        if not isinstance(sim, MujocoTaskEnv):
            raise DynadaptError(f"{family.name}: reach trials need a MuJoCo task env (physics state)")
        self.sim = sim
        self.low, self.high = action_bounds(self.env)
        self.model = SegmentModel(family, cfg.model, self.seeds.torch("model"))
        self.buffer = ReplayBuffer(cfg.buffer_capacity, family.obs_dim, family.act_dim)
        self.act_rng = self.seeds.numpy("act")
        self.env_seed = self.seeds.int("env")
        self.iteration = self.episode = 0
        self.errors: list[dict[str, float]] = []
        """Every evaluation's errors and reach rates."""

    def components(self) -> dict[str, Stateful]:
        return {"model": self.model, "buffer": self.buffer}

    def done(self) -> bool:
        return self.iteration >= self.cfg.iterations

    # ------------------------------------------------------------------------------------------ one step
    def step(self) -> dict[str, Any]:
        cfg = self.cfg
        for _ in range(cfg.episodes_per_iter):
            self.collect()
        train, test = segments(self.buffer, cfg.model.n).split(cfg.holdout)
        fitted = self.fit(train)
        result = {"train_segments": float(len(train)), "test_segments": float(len(test))}
        result |= (
            self.model.errors(test) if len(test) else {"error": math.nan, "error_least_squares": math.nan}
        )
        if cfg.model.kind == "inverse" and cfg.reach:
            result |= self.reach_rates()
        self.iteration += 1
        self.errors.append(result)
        return {"iteration": self.iteration, "train/env_steps": self.buffer.total_added, **fitted,
                **{f"eval/{k}": v for k, v in result.items()}}  # fmt: skip

    def collect(self) -> None:
        """One episode of uniformly random actions into the buffer."""
        obs, _ = self.env.reset(seed=self.env_seed + self.episode)
        for t in range(self.cfg.task.steps):
            act = self.act_rng.uniform(self.low, self.high).astype(np.float32)
            nxt, reward, terminated, truncated, _ = self.env.step(act)
            self.buffer.add(obs, act, nxt, float(reward), terminated, truncated, episode=self.episode, t=t)
            obs = nxt
            if terminated or truncated:
                break
        self.episode += 1

    def fit(self, train: Any) -> dict[str, float]:
        """Fit the model(s) on the training segments; their metrics."""
        return {"model/train_loss": self.model.fit(train)}

    # ----------------------------------------------------------------------------------------- reach
    def trial(self, k: int) -> tuple[np.ndarray, Tensor, Tensor, np.random.Generator, Tensor]:
        """Reach trial ``k``: (the simulator state at s_t, the observation s_t, the target s_{t+n}, the
        trial's random stream, the n actions that led there), the same at every call."""
        n, seed = self.cfg.model.n, self.env_seed + 10_000_000 + k
        rng = np.random.default_rng(seed)
        obs, _ = self.env.reset(seed=seed)
        for _ in range(int(rng.integers(0, self.cfg.task.steps - n))):
            obs = self.sim.step(rng.uniform(self.low, self.high))[0]
        state, start = self.sim.get_physics_state(), torch.as_tensor(obs, dtype=torch.float32)
        actions = rng.uniform(self.low, self.high, size=(n, len(self.low)))
        for a in actions:
            obs = self.sim.step(a)[0]
        return state, start, torch.as_tensor(obs, dtype=torch.float32), rng, torch.as_tensor(actions)

    def execute(self, state: np.ndarray, obs: Tensor, act: Controller, steps: int) -> Tensor:
        """Set the simulator to ``state`` (observation ``obs``) and execute ``act(obs, steps_left)`` for
        ``steps`` steps (a chunk controller returns all of its actions at once); the observation reached."""
        self.sim.set_physics_state(state)
        left = steps
        while left > 0:
            for a in act(obs, left).reshape(-1, len(self.low))[:left]:
                obs = torch.as_tensor(self.sim.step(a.numpy())[0], dtype=torch.float32)
                left -= 1
        return obs

    def controllers(self, target: Tensor, rng: np.random.Generator) -> dict[str, Controller]:
        """The reach trials' controllers towards ``target``: the model, least squares, random actions."""

        def inverse(linear: bool) -> Controller:
            return lambda obs, left: self.model.actions(obs[None], target[None], left, linear)[0]

        def uniform(obs: Tensor, left: int) -> Tensor:
            return torch.as_tensor(rng.uniform(self.low, self.high, size=(left, len(self.low))))

        return {"reach_model": inverse(False), "reach_least_squares": inverse(True), "reach_random": uniform}

    def state_distance(self) -> Distance:
        """RMS difference over the observation in standard deviations of the buffer's observations."""
        std = self.buffer.all()["obs"].std(dim=0).clamp_min(1e-6)
        return lambda obs, target: ((obs - target) / std).square().mean(dim=-1).sqrt()

    def reach_rates(self) -> dict[str, float]:
        """Success rates of the model, least squares and random actions over the reach trials."""
        success: dict[str, int] = {}
        distance = self.state_distance()
        for k in range(self.cfg.reach):
            state, start, target, rng, _ = self.trial(k)
            for key, act in self.controllers(target, rng).items():
                reached = self.execute(state, start, act, self.cfg.model.n)
                success[key] = success.get(key, 0) + int(distance(reached, target) < self.cfg.tolerance)
        return {key: count / self.cfg.reach for key, count in success.items()}

    # ---------------------------------------------------------------------------------------- videos
    def watch_tasks(self) -> list[str]:
        """The task, once an inverse model has been fitted (an action-free model controls nothing)."""
        fitted = self.iteration > 0 and self.cfg.model.kind == "inverse"
        return [self.cfg.task.as_task().label] if fitted else []

    def tracker(self, task: int) -> Tracker:
        """The controller :meth:`watch` films: the model's (first) action towards the target in n steps."""
        n, a = self.cfg.model.n, len(self.low)
        return lambda obs, target: self.model.actions(obs[None], target[None], n).reshape(-1, a)[0]

    def watch(self, camera: Camera, task: int, episodes: int) -> None:
        """Film episodes in which the controller follows a random reference trajectory, aiming at each
        step at the reference's state n steps ahead (the reach trials as one continuous episode); the
        reference is played in an unfilmed copy of the env from the same start state."""
        n, steps, act = self.cfg.model.n, self.cfg.task.steps, self.tracker(task)
        reference = self.cfg.task.make().unwrapped
        with camera.filming(self):
            for k in range(episodes):
                seed = self.env_seed + 20_000_000 + k
                rng = np.random.default_rng(seed)
                path = [reference.reset(seed=seed)[0]]
                path += [reference.step(rng.uniform(self.low, self.high))[0] for _ in range(steps + n)]
                obs, _ = self.env.reset(seed=seed)
                for t in range(steps):
                    a = act(torch.as_tensor(obs, dtype=torch.float32), torch.as_tensor(path[t + n]).float())
                    obs, _, terminated, truncated, _ = self.env.step(a.numpy())
                    if terminated or truncated:
                        break

    # --------------------------------------------------------------------------------------- outputs
    def save_outputs(self) -> None:
        self.model.save(self.rundir.checkpoints / "model_final.safetensors")

    def summary(self) -> dict[str, Any]:
        cfg, last = self.cfg, self.errors[-1] if self.errors else {}
        return {
            "kind": self.kind, "preset": self.preset, "env": cfg.task.env, "seed": cfg.seed,
            "model_kind": cfg.model.kind, "n": cfg.model.n, "output": cfg.model.output,
            "env_steps": self.buffer.total_added, "by_iteration": self.errors,
            "model_flops_per_prediction": self.model.flops_per_row(),
            **{f"final_{k}": v for k, v in last.items()},
        }  # fmt: skip
