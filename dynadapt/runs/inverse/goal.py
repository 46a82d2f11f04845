"""Kind ``goal-reach``: reach a goal state with an n-step inverse model, with forward-model MPC, or at random
(the use of inverse models the lecture hints at).

::

    iterations as kind inverse: random play; the n-step inverse model, its least-squares baseline and a
        forward dynamics ensemble fitted on the same data
    then, one controller per step, `goals` goal-reaching episodes (the reach trials of kind inverse: the
    goal is the state n random steps after a start state, so it is reachable in n steps):
        for t < budget (default 2n), from the start state:
            inverse: a_t = the model's first action towards the goal with max(1, n − t) steps left
                     (replanned at every step; a chunk model executes the first action of its chunk)
            mpc:     the planner over H steps on the forward ensemble, reward −distance to the goal
            random:  uniform actions
        success: the goal features come within `goal_tolerance` of the goal's at some step (final success:
                 within it at the last step, so that passing through the goal does not count)
        cost: milliseconds and model predictions (rows through a network) per action

Every controller sees the same start states and goals (common random numbers).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.models.inverse import Segments
from dynadapt.planning import PLANNER_CONFIGS, ModelObjective, MPCConfig, PlannerConfig, mpc_agent
from dynadapt.planning.cem import CEMConfig
from dynadapt.runs.checkpoint import Stateful
from dynadapt.runs.inverse.loop import Controller, Distance, InverseConfig, InverseRun, Tracker
from dynadapt.runs.settings import check
from dynadapt.types import RewardFn

CONTROLLERS: tuple[str, ...] = ("inverse", "mpc", "random")


def reacher_tip(obs: Tensor) -> Tensor:
    """The reacher's fingertip ``(x, y)``: target + (fingertip − target), ``[..., 11] -> [..., 2]``."""
    return obs[..., 4:6] + obs[..., 8:10]


GOAL_FEATURES: dict[str, Callable[[Tensor], Tensor]] = {"reacher": reacher_tip}
"""What a goal constrains, by family (the whole observation for the others)."""


def goal_distance(family: str) -> Distance:
    """Euclidean distance on the family's goal features."""
    feats = GOAL_FEATURES.get(family, lambda obs: obs)
    return lambda obs, goal: torch.linalg.vector_norm(feats(obs) - feats(goal), dim=-1)


@dataclass
class GoalReachConfig(InverseConfig):
    """Goal reaching by an n-step inverse model, forward-model MPC and random actions, on the same goals."""

    goals: int = 20
    """Goal-reaching episodes per controller."""
    goal_tolerance: float = 0.02
    """A goal is reached within this distance of its goal features (:data:`GOAL_FEATURES`: the reacher's
    fingertip position, in metres; the whole observation otherwise)."""
    budget: int = 0
    """Steps each controller has per goal (0: 2n)."""
    controllers: tuple[str, ...] = CONTROLLERS
    """The controllers compared: inverse, mpc, random."""
    dynamics: ModelConfig = field(default_factory=lambda: ModelConfig(ensemble_size=5, hidden=(200, 200)))
    """The forward model of the MPC controller."""
    planner: PlannerConfig = field(
        default_factory=lambda: CEMConfig(population=200, elites=20, iterations=3),
        metadata={"choices": PLANNER_CONFIGS},
    )
    """The MPC controller's trajectory optimiser."""
    mpc: MPCConfig = field(default_factory=lambda: MPCConfig(horizon=10, particles=5))
    """The MPC controller's horizon and propagation."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.controllers = tuple(self.controllers)
        check(
            (self.model.kind == "inverse", "goal-reach needs an inverse model: model.kind=inverse"),
            (self.goals >= 1 and self.budget >= 0, "goals must be >= 1 and budget >= 0"),
            (self.goal_tolerance > 0, "goal_tolerance must be > 0"),
            (all(c in CONTROLLERS for c in self.controllers), f"controllers must be among {CONTROLLERS}"),
            (len(set(self.controllers)) == len(self.controllers) >= 1, "controllers must be distinct"),
        )


class GoalReachRun(InverseRun):
    kind = "goal-reach"
    state_fields = (*InverseRun.state_fields, "results")
    cfg: GoalReachConfig

    def build(self) -> None:
        super().build()
        cfg, family = self.cfg, self.cfg.task.family
        self.dynamics = DynamicsModel.for_family(family, cfg.dynamics, self.seeds.torch("dynamics"))
        self.objective = ModelObjective(
            self.dynamics.predict, cfg.mpc, self.seeds.torch("plan", self.device), family.reward_fn, None,
            self.dynamics.detached_params(),
        )  # fmt: skip
        self.agent = mpc_agent(cfg.planner, self.objective, self.low, self.high)
        self.distance = goal_distance(family.name)
        self.results: dict[str, dict[str, float]] = {}
        """Per controller: success rate, mean final and closest distance, model predictions per action."""

    def components(self) -> dict[str, Stateful]:
        return super().components() | {"dynamics": self.dynamics}

    def done(self) -> bool:
        return super().done() and len(self.results) == len(self.cfg.controllers)

    def fit(self, train: Segments) -> dict[str, float]:
        return super().fit(train) | self.dynamics.fit(self.buffer).metrics("dynamics/")

    def step(self) -> dict[str, Any]:
        if not super().done():
            return super().step()
        name = next(c for c in self.cfg.controllers if c not in self.results)
        self.results[name], ms = self.reach_goals(name)
        row = {f"goal/{k}": v for k, v in self.results[name].items()}
        return {"controller": name, **row, "goal/ms_per_step": ms}

    # ----------------------------------------------------------------------------------------- control
    def goal_reward(self, goal: Tensor) -> RewardFn:
        """The MPC controller's reward: minus the distance of the next state's goal features to ``goal``."""
        return lambda obs, act, next_obs: -self.distance(next_obs, goal)

    def controller(self, name: str, goal: Tensor, rng: np.random.Generator) -> Controller:
        if name == "mpc":
            self.objective.reward_fn = self.goal_reward(goal)
            self.agent.reset()
            return lambda obs, left: torch.as_tensor(self.agent.act(obs))
        inverse = self.controllers(goal, rng)["reach_model" if name == "inverse" else "reach_random"]
        if name == "random":
            return inverse
        return lambda obs, left: inverse(obs, left).reshape(-1, len(self.low))[0]  # a chunk's first action

    def reach_goals(self, name: str) -> tuple[dict[str, float], float]:
        """``goals`` closed-loop episodes of controller ``name``: (its success rate (within the tolerance at
        some step), final success rate (within it at the last step: passing through the goal does not
        count), mean final and closest distance and model predictions per action; milliseconds per action,
        kept out of the summary)."""
        cfg = self.cfg
        n = cfg.model.n
        budget = cfg.budget or 2 * n
        wins, held, finals, closest, seconds = 0, 0, [], [], 0.0
        imagined = self.objective.imagined
        for k in range(cfg.goals):
            state, obs, goal, rng, _ = self.trial(k)
            act = self.controller(name, goal, rng)
            self.sim.set_physics_state(state)
            best = math.inf
            for t in range(budget):
                start = time.perf_counter()
                a = act(obs, max(1, n - t)).reshape(-1, len(self.low))[0]
                seconds += time.perf_counter() - start
                obs = torch.as_tensor(self.sim.step(a.numpy())[0], dtype=torch.float32)
                best = min(best, float(self.distance(obs, goal)))
            wins += best < cfg.goal_tolerance
            finals.append(float(self.distance(obs, goal)))
            held += finals[-1] < cfg.goal_tolerance
            closest.append(best)
        steps = cfg.goals * budget
        rows = {"inverse": float(steps), "mpc": float(self.objective.imagined - imagined), "random": 0.0}[
            name
        ]
        return {
            "success_rate": wins / cfg.goals,
            "final_success_rate": held / cfg.goals,
            "final_distance": float(np.mean(finals)),
            "closest_distance": float(np.mean(closest)),
            "model_rows_per_step": rows / steps,
        }, 1e3 * seconds / steps

    # ---------------------------------------------------------------------------------------- videos
    def watch_tasks(self) -> list[str]:
        """The controllers evaluated so far (each filmed following a random reference, see ``watch``)."""
        return list(self.results)

    def tracker(self, task: int) -> Tracker:
        name, rng = list(self.results)[task], np.random.default_rng(self.env_seed + 30_000_000)
        return lambda obs, target: self.controller(name, target, rng)(obs, self.cfg.model.n).reshape(
            -1, len(self.low)
        )[0]

    # --------------------------------------------------------------------------------------- outputs
    def save_outputs(self) -> None:
        super().save_outputs()
        self.dynamics.save(self.rundir.checkpoints / "dynamics_final.safetensors")

    def summary(self) -> dict[str, Any]:
        success = {f"success_{name}": r["success_rate"] for name, r in self.results.items()}
        budget = self.cfg.budget or 2 * self.cfg.model.n
        return super().summary() | {"goals": self.results, "budget": budget, **success}
