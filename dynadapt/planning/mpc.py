"""Receding-horizon control (model-predictive control) around any planner.

At every ``replan_every``-th step the agent builds the objective for the current observation
(``objective_factory(obs) -> objective``; the objective is an imagined rollout with a learned model, or a
rollout of the true dynamics, the agent does not care), plans with the previous plan shifted by the executed
steps as warm start (bound midpoint appended, as mbrl-lib; PETS appends 0, the same for symmetric bounds)
and executes the plan's first action; in between it executes the stored plan. PETS and PDDM replan at
every step (reference notes §2).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from dynadapt.errors import DynadaptError
from dynadapt.planning.base import Objective, Planner, shift_plan
from dynadapt.planning.rollout import PROPAGATIONS, Propagation

ObjectiveFactory = Callable[[Tensor], Objective]
"""``objective_factory(obs[O]) -> objective(actions[B, H, A]) -> returns[B]``"""
Proposer = Callable[[Tensor], Tensor | None]
"""``proposer(obs[O]) -> proposals[M, H, A]`` (candidate sequences from a policy) or None (none now)."""


@dataclass
class MPCConfig:
    """Model-predictive control around a planner (PETS: Chua et al. 2018, Section 4.3; reference §1.3, §2)."""

    name: ClassVar[str] = "mpc"

    horizon: int = 30
    """H: planning horizon in env steps (PETS halfcheetah 30, cartpole 25; iCEM 30; PDDM 7 or 20)."""
    replan_every: int = 1
    """Replan every k env steps and execute the stored plan in between (PETS, PDDM: 1)."""
    particles: int = 20
    """P: particles per candidate for TS propagation (PETS: 20, a multiple of the 5 members)."""
    propagation: Propagation = "ts_inf"
    """Ensemble propagation: ``ts_inf`` (PETS TS∞, default), ``ts1`` or ``expectation`` (reference §1.3)."""
    memory_mb: float = 1024.0
    """Memory budget of one imagined step's model evaluation in MiB: more candidates x particles are
    evaluated in chunks (the model, the reward and termination functions and the terminal value), with
    the same noise and returns (0: no limit)."""
    compile: bool = False
    """``torch.compile`` the imagined rollout (fixed shapes): on a GPU a plan step is otherwise thousands of
    small kernel launches (``benchmarks/gpu.py`` measures both). Compiled once per rollout shape (the first
    plan steps pay for it; a planner whose population changes, iCEM's, compiles each size once). Needs a C++
    compiler on the CPU. Results may differ from eager ones in the last bits (fused kernels round
    differently)."""

    def __post_init__(self) -> None:
        for key in ("horizon", "replan_every", "particles"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                raise DynadaptError(f"invalid mpc config: {key} must be an integer >= 1, got {value!r}")
        if not isinstance(self.compile, bool):
            raise DynadaptError(f"invalid mpc config: compile must be true or false, got {self.compile!r}")
        if not self.memory_mb >= 0:
            raise DynadaptError(f"invalid mpc config: memory_mb must be >= 0, got {self.memory_mb!r}")
        if self.replan_every > self.horizon:
            raise DynadaptError(
                f"invalid mpc config: replan_every ({self.replan_every}) must not exceed "
                f"horizon ({self.horizon})"
            )
        if self.propagation not in PROPAGATIONS:
            raise DynadaptError(
                f"invalid mpc config: propagation must be one of {', '.join(PROPAGATIONS)}, "
                f"got {self.propagation!r}"
            )


class MPCAgent:
    """Receding-horizon agent: ``act(obs) -> action``, ``reset()`` at episode start.

    Attributes: ``last_plan_ms`` (wall time of the last planning call), ``mean_plan_ms`` (running mean over
    all planning calls of this agent), ``num_plans``, and ``last_num_evaluations`` (candidate sequences the
    last planning call evaluated).
    """

    def __init__(
        self,
        planner: Planner,
        objective_factory: ObjectiveFactory,
        horizon: int,
        act_dim: int,
        low: Tensor | np.ndarray,
        high: Tensor | np.ndarray,
        replan_every: int = 1,
        proposer: Proposer | None = None,
    ) -> None:
        if planner.horizon != horizon or planner.act_dim != act_dim:
            raise DynadaptError(
                f"planner was built for horizon {planner.horizon} and {planner.act_dim} action dims, "
                f"the agent for {horizon} and {act_dim}"
            )
        if not isinstance(replan_every, int) or not 1 <= replan_every <= horizon:
            raise DynadaptError(
                f"replan_every must be an integer in [1, horizon={horizon}], got {replan_every!r}"
            )
        self.planner = planner
        self.objective_factory = objective_factory
        self.horizon = horizon
        self.act_dim = act_dim
        self.low = torch.as_tensor(low, dtype=planner.low.dtype, device=planner.low.device)
        self.high = torch.as_tensor(high, dtype=planner.low.dtype, device=planner.low.device)
        self.replan_every = replan_every
        self.proposer = proposer
        """Policy proposals for every planning call (see :meth:`Planner.plan`), or None."""
        self._plan: Tensor | None = None
        self._step = 0  # actions of the stored plan executed so far
        self.last_plan_ms = 0.0
        self.mean_plan_ms = 0.0
        self.num_plans = 0

    @property
    def plan(self) -> Tensor | None:
        """The stored plan ``[H, A]`` (None before the first step of an episode)."""
        return self._plan

    @property
    def last_num_evaluations(self) -> int:
        return self.planner.last_num_evaluations

    def reset(self) -> None:
        """Episode start: drop the stored plan and reset the planner (timing statistics are kept)."""
        self._plan = None
        self._step = 0
        self.planner.reset()

    @property
    def plans_next(self) -> bool:
        """Whether the next :meth:`act` plans (rather than executing the stored plan): a loop that adapts
        the model online does so only then, before the call."""
        return self._plan is None or self._step >= self.replan_every

    def act(self, obs: np.ndarray | Tensor) -> np.ndarray:
        """The action ``[A]`` to execute for observation ``obs[O]`` (replans when due)."""
        if self.plans_next:
            obs_t = torch.as_tensor(obs, dtype=self.low.dtype, device=self.low.device)
            warm_start = None
            if self._plan is not None:
                warm_start = shift_plan(self._plan, self._step, self.planner.mid)
                self.planner.shift(self._step)
            start = time.perf_counter()
            proposals = None if self.proposer is None else self.proposer(obs_t)
            self._plan = self.planner.plan(self.objective_factory(obs_t), warm_start, proposals).detach()
            if self._plan.is_cuda:  # the time of the work, not of queueing it
                torch.cuda.synchronize(self._plan.device)
            self.last_plan_ms = (time.perf_counter() - start) * 1e3
            self.num_plans += 1
            self.mean_plan_ms += (self.last_plan_ms - self.mean_plan_ms) / self.num_plans
            self._step = 0
        assert self._plan is not None
        action = self._plan[self._step]
        self._step += 1
        return torch.maximum(torch.minimum(action, self.high), self.low).cpu().numpy()

    def state_dict(self) -> dict[str, Tensor]:
        """Stored plan, position in it and the planner's carried state (``planner.*`` keys)."""
        state = {f"planner.{k}": v for k, v in self.planner.state_dict().items()}
        state["step"] = torch.tensor(self._step, dtype=torch.int64)
        if self._plan is not None:
            state["plan"] = self._plan.clone()
        return state

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        """Restore what :meth:`state_dict` returned."""
        unknown = [k for k in state if k not in ("plan", "step") and not k.startswith("planner.")]
        if unknown or "step" not in state:
            raise DynadaptError(f"not an MPC agent state: keys {sorted(state)}")
        plan = state.get("plan")
        if plan is not None and tuple(plan.shape) != (self.horizon, self.act_dim):
            raise DynadaptError(
                f"stored plan has shape {list(plan.shape)}, expected {[self.horizon, self.act_dim]}"
            )
        step = int(state["step"])
        if not 0 <= step <= self.replan_every:
            raise DynadaptError(f"stored plan position {step} outside [0, {self.replan_every}]")
        self.planner.load_state_dict(
            {k[len("planner.") :]: v for k, v in state.items() if k.startswith("planner.")}
        )
        self._plan = None if plan is None else plan.to(dtype=self.low.dtype, device=self.low.device).clone()
        self._step = step
