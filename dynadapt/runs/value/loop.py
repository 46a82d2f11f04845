"""Value-guided MPC (TD-MPC2, Hansen et al. 2024; the lecture's first way past short horizons) on the two
model-based loops, each unchanged but for what :class:`~dynadapt.runs.value.guide.ValueGuide` adds:

* kind ``value-mpc``: the PETS loop (:mod:`dynadapt.runs.mbrl`) on a probabilistic ensemble::

      collect `random_episodes` random episodes; fit the ensemble
      for each further episode:
          for each step: plan on Σ_{t<H} γ^t r_t + γ^H V(s_H) (policy proposals in the population),
              execute a_0
          aggregate the data; refit the ensemble; then (guide) clone π from the planner's actions,
          roll π out in the ensemble's elites, TD-train the critics on real + rollout transitions

* kind ``value-meta``: the GrBAL loop (:mod:`dynadapt.runs.meta`) whose planner uses θ' adapted online at
  every step; the critics and π are trained after every meta-training on all data, their rollouts in θ*.

Both record ``planner/model_evals_per_step`` (imagined transitions per planning call: candidates ×
particles × H, plus the proposals' M × H) for the cost comparison against long-horizon MPC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dynadapt.data.buffer import ReplayBuffer
from dynadapt.envs.family import never_terminates
from dynadapt.nets.ensemble import select
from dynadapt.planning import ModelObjective, MPCAgent
from dynadapt.runs.checkpoint import Stateful
from dynadapt.runs.mbrl.loop import MBRLConfig, MBRLRun
from dynadapt.runs.meta.loop import MetaConfig, MetaRun
from dynadapt.runs.run import Run
from dynadapt.runs.settings import check
from dynadapt.runs.value.guide import ValueGuide, ValueSettings
from dynadapt.types import Params, PredictFn, RewardFn, TerminationFn


@dataclass
class ValueMPCConfig(MBRLConfig):
    """PETS-style MPC that plans on the imagined return plus a learned terminal value (value-guided MPC),
    optionally with policy-proposed candidates."""

    value: ValueSettings = field(default_factory=ValueSettings)
    """Terminal value, critic training and policy proposals."""


@dataclass
class ValueMetaConfig(MetaConfig):
    """GrBAL-style online adaptation whose planner plans on the adapted model's return plus a learned
    terminal value."""

    value: ValueSettings = field(default_factory=ValueSettings)
    """Terminal value, critic training and policy proposals."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            (
                self.method != "rebal",
                "value-meta needs a parametric model: method grbal, mb, mbde or continue",
            )
        )


class Guided(Run[Any]):
    """What both kinds add to their base run (which builds the objective, the agent, the bounds and the
    buffer, and whose config has ``value``, ``task`` and ``planner``): the guide, checkpointed with the base's
    components and attached again on restore, and every step's imagined transitions per planning call."""

    objective: ModelObjective
    agent: MPCAgent
    buffer: ReplayBuffer
    low: np.ndarray
    high: np.ndarray

    def build(self) -> None:
        super().build()
        cfg = self.cfg
        population = int(getattr(cfg.planner, "population", 1))
        self.guide = ValueGuide(cfg.value, cfg.task.family, self.low, self.high, population, self.seeds)
        self.guide.attach(self.objective)
        self.evals_per_step: list[float] = []
        """Imagined model transitions per planning call, one entry per step that planned."""

    def components(self) -> dict[str, Stateful]:
        return super().components() | self.guide.components()

    def restored(self) -> None:
        super().restored()
        self.guide.attach(self.objective)

    def learn(
        self, predict: PredictFn, params: Params, reward: RewardFn, done: TerminationFn, planner_from: int
    ) -> dict[str, float]:
        """Train the guide after a model fit (see :meth:`ValueGuide.learn`) and attach it; its metrics."""
        learned = self.guide.learn(self.buffer, predict, params, reward, done, planner_from)
        self.guide.attach(self.objective)
        return learned

    def step(self) -> dict[str, Any]:
        imagined, plans = self.objective.imagined, self.agent.num_plans
        row = super().step()
        plans = self.agent.num_plans - plans
        per_plan = (self.objective.imagined - imagined) / plans if plans else math.nan
        if plans:
            self.evals_per_step.append(per_plan)
        return row | {"planner/model_evals_per_step": per_plan}

    def cost(self) -> dict[str, float]:
        """The summary's mean imagined transitions per planning call."""
        evals = self.evals_per_step
        return {"model_evals_per_step": float(np.mean(evals)) if evals else math.nan}


class ValueMPCRun(Guided, MBRLRun):
    kind = "value-mpc"
    state_fields = (*MBRLRun.state_fields, "evals_per_step")  # type: ignore[assignment]
    cfg: ValueMPCConfig

    learned: dict[str, float]
    """The guide's metrics of this step's model fits (empty when the step fitted nothing)."""

    def fit_model(self) -> None:
        super().fit_model()
        m, objective = self.model, self.objective
        done = objective.termination_fn or never_terminates
        elites = select(m.detached_params(), m.elites)
        self.learned = self.learn(m.predict, elites, objective.reward_fn, done, self.cfg.random_episodes)

    def step(self) -> dict[str, Any]:
        self.learned = {}
        row = super().step()
        return row | self.learned

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        out["settings"] |= self.cfg.value.summary()
        return out | {"kind": self.kind, **self.cost()}


class ValueMetaRun(Guided, MetaRun):
    kind = "value-meta"
    state_fields = (*MetaRun.state_fields, "evals_per_step")  # type: ignore[assignment]
    cfg: ValueMetaConfig

    def fit(self) -> dict[str, float]:
        metrics = super().fit()
        cfg, m = self.cfg, self.model
        first_planned = cfg.random_iterations * cfg.episodes_per_iter
        done = cfg.task.family.termination_fn
        return metrics | self.learn(
            m.predict, m.detached_params(), self.objective.reward_fn, done, first_planned
        )

    def summary(self) -> dict[str, Any]:
        value = {"value": self.cfg.value.summary(), "horizon": self.cfg.mpc.horizon}
        return super().summary() | {"kind": self.kind, **self.cost(), **value}
