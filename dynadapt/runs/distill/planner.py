"""The planner a distill run distils: its dynamics model (a model file, a finished pets run directory, or
the nested PETS run trained in ``RUN_DIR/pets``) and the MPC agent on it, which counts the model rows it
evaluates; and the timed evaluation of a controller (the planner's or the policy's) on fixed seeds."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dynadapt.envs.family import TaskFamily
from dynadapt.errors import DynadaptError
from dynadapt.models.dynamics import DynamicsModel
from dynadapt.planning import ModelObjective, MPCAgent, mpc_agent
from dynadapt.policy.distill import ActFn, rollout_return
from dynadapt.runs.mbrl import MBRLConfig, MBRLRun, PETSSettings
from dynadapt.runs.rundir import RunDir
from dynadapt.runs.settings import OneTask
from dynadapt.types import Params


class CountingPredict:
    """Wraps ``model.predict`` and counts the rows it evaluates (``E x N`` per call) and their FLOPs."""

    def __init__(self, model: DynamicsModel, flops_per_row: int) -> None:
        self.model = model
        self.flops_per_row = flops_per_row
        self.rows = 0

    def __call__(self, params: Params, obs: Tensor, act: Tensor) -> tuple[Tensor, Tensor | None]:
        self.rows += int(math.prod(obs.shape[:-1]))
        return self.model.predict(params, obs, act)


def train_pets(cfg: MBRLConfig, rundir: RunDir, preset: str, progress: bool) -> Path:
    """Run (or resume) the nested PETS run in ``RUN_DIR/pets`` of the distill run ``rundir`` (of ``preset``)
    to the end; its final model file."""
    sub = RunDir(rundir.path / "pets")
    final = sub.checkpoints / "model_final.safetensors"
    if sub.read_summary() is None or not final.is_file():
        runner = MBRLRun(cfg, sub, preset=f"{preset}/pets", progress=progress)
        fresh = not sub.config_path.exists()
        with sub.create(runner.config_dict()) if fresh else sub.lock():
            if not fresh and sub.checkpoint_path.exists():
                runner.load_checkpoint(sub.checkpoint_path)
            elif not fresh:
                sub.truncate_metrics(0)
            runner.run()
    return final


def load_model(path: Path, family: TaskFamily) -> DynamicsModel:
    """The model file at ``path`` (or a finished pets run directory's), checked against ``family``."""
    if path.is_dir():
        path = path / "checkpoints" / "model_final.safetensors"
    if not path.is_file():
        raise DynadaptError(f"model_path: no model file at {path} (is the pets run finished?)")
    model = DynamicsModel.load(path, obs_preproc=family.obs_preproc)
    if model.family not in (None, family.name):
        raise DynadaptError(f"model_path: the model was trained on {model.family!r}, not {family.name!r}")
    if (model.obs_dim, model.act_dim) != (family.obs_dim, family.act_dim):
        raise DynadaptError(f"model_path: the model's obs/act sizes do not fit {family.name!r}")
    return model


@dataclass
class Planner:
    """MPC with ``model`` (its learned reward and termination heads where it has them, else the task's),
    predicting through ``counter``."""

    model: DynamicsModel
    counter: CountingPredict
    agent: MPCAgent

    @classmethod
    def on(
        cls,
        model: DynamicsModel,
        pets: PETSSettings,
        task: OneTask,
        generator: torch.Generator,
        bounds: tuple[np.ndarray, np.ndarray],
    ) -> Planner:
        """The ``pets.planner`` / ``pets.mpc`` planner on ``model`` for ``task`` (its noise drawn from
        ``generator``) within the action ``bounds`` (low, high)."""
        family, params, kw = task.family, model.detached_params(), task.env_params
        counter = CountingPredict(model, model.flops_per_row() + model.head_flops_per_row())
        learned = model.reward_spec is not None, model.termination_spec is not None
        reward_fn = model.learned_reward_fn(params) if learned[0] else family.reward_fn_for(**kw)
        term_fn = model.learned_termination_fn(params) if learned[1] else family.termination_fn_for(**kw)
        objective = ModelObjective(counter, pets.mpc, generator, reward_fn, term_fn, params)
        return cls(model, counter, mpc_agent(pets.planner, objective, *bounds))

    def act(self, obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.agent.act(obs)

    def evaluate(self, env: Any, seeds: list[int]) -> tuple[list[float], float, float]:
        """Returns of the planner on ``seeds``, with its model rows and its planning wall ms per step."""
        agent, rows0 = self.agent, self.counter.rows
        plan_ms0, plans0 = agent.mean_plan_ms * agent.num_plans, agent.num_plans
        runs = [rollout_return(env, self.act, s, reset=agent.reset) for s in seeds]
        rows = (self.counter.rows - rows0) / sum(n for _, n in runs)
        plan_ms = (agent.mean_plan_ms * agent.num_plans - plan_ms0) / max(1, agent.num_plans - plans0)
        return [ret for ret, _ in runs], rows, plan_ms


def timed_returns(env: Any, act: ActFn, seeds: list[int]) -> tuple[list[float], float]:
    """Returns of ``act`` alone on ``seeds``, and its wall ms per step."""
    elapsed, steps = 0.0, 0

    def timed(obs: np.ndarray) -> np.ndarray:
        nonlocal elapsed, steps
        start = time.perf_counter()
        a = act(obs)
        elapsed += time.perf_counter() - start
        steps += 1
        return a

    returns = [rollout_return(env, timed, seed)[0] for seed in seeds]
    return returns, 1e3 * elapsed / max(1, steps)
