"""Planner distillation: DAgger (Ross et al. 2011) on a PETS planner, then the policy alone.

::

    model: train one with the PETS loop (a nested run in RUN_DIR/pets, resumable on its own),
           or load a model file / finished pets run directory (model_path)
    step 0, planner evaluation: eval_episodes episodes of MPC with the model on fixed seeds (return, cost
        per step) and a uniform-random floor on the same seeds
    DAgger iteration i (one step each; dynadapt.policy.distill):
        collect episodes_per_iteration episodes: iteration 0 the planner alone, later the mixture (planner
            with probability beta**i, else the policy); the planner labels every visited state
        aggregate, refit the policy (fresh init), evaluate it on the evaluation seeds
        keep it if it is the best so far on validation episodes (seeds apart from the evaluation seeds)
    the distilled policy: the best on validation, as DAgger returns "the best policy on validation" (Ross
        et al. 2011, Alg. 3.1); a refit from scratch can lose a skill an earlier one had (one cart-pole
        evaluation episode fell from 185 to 20 at the last of five iterations)

Cost per step is counted machine-independently: the planner's dynamics-model evaluations (one row = one
member's prediction for one state-action; the learned reward and termination heads are added when the
model has them; analytic task rewards are not counted) times the network's multiply-add FLOPs per row,
against the policy's one MLP evaluation. Wall-clock milliseconds per step go to ``metrics.jsonl`` (the
``time/`` and ``*_ms_per_step`` keys), not to ``summary.json``, which holds no timings.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from dynadapt.envs import action_bounds
from dynadapt.policy.distill import DistilledPolicy, PolicyConfig, dagger_episode, rollout_return
from dynadapt.runs.checkpoint import Stateful, TensorDict
from dynadapt.runs.distill.planner import Planner, load_model, timed_returns, train_pets
from dynadapt.runs.distill.plots import plot_distill
from dynadapt.runs.mbrl import MBRLConfig, PETSSettings
from dynadapt.runs.run import Run
from dynadapt.runs.rundir import RunDir
from dynadapt.runs.settings import OneTask, RunConfig, check
from dynadapt.video import Camera


@dataclass
class DistillConfig(RunConfig):
    """Distil an MPC planner on a learned model into a feed-forward policy (DAgger), then compare them."""

    task: OneTask = field(default_factory=OneTask)
    """The task played (by the nested PETS run too)."""
    model_path: str = ""
    """A dynamics model file, or a finished pets run directory (its checkpoints/model_final.safetensors), to
    plan with; empty: train one first with the `pets` settings (a nested run in RUN_DIR/pets)."""
    pets: PETSSettings = field(default_factory=PETSSettings)
    """PETS training of the model and the planner that is distilled (pets.planner, pets.mpc); the nested run
    plays this run's task with its seed and threads."""
    iterations: int = 4
    """DAgger iterations after iteration 0 (the planner-only behaviour-cloning round)."""
    episodes_per_iteration: int = 2
    """Episodes collected (and labelled by the planner) per DAgger iteration."""
    beta: float = 0.5
    """Mixture: at iteration i >= 1 each executed action is the planner's with probability beta**i."""
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    """The distilled policy and its behaviour-cloning fit."""
    eval_episodes: int = 5
    """Evaluation episodes (fixed seeds, the same for the planner, the policy and the random floor)."""
    val_episodes: int = 4
    """Validation episodes of each iteration's policy (other seeds); the best on them is the distilled
    policy (0: the last iteration's)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            (self.iterations >= 0, "iterations must be >= 0"),
            (self.episodes_per_iteration >= 1, "episodes_per_iteration must be >= 1"),
            (0.0 <= self.beta <= 1.0, "beta must be in [0, 1]"),
            (self.eval_episodes >= 1, "eval_episodes must be >= 1"),
            (self.val_episodes >= 0, "val_episodes must be >= 0"),
        )

    def pets_run(self) -> MBRLConfig:
        """The nested PETS run's config: ``pets`` with this run's task, seed, threads and device."""
        return MBRLConfig.of(self.pets, self.task, self.seed, self.threads, self.device)


class DistillRun(Run[DistillConfig]):
    kind = "distill"
    plots: ClassVar[Callable[[RunDir], list[Path]]] = staticmethod(plot_distill)
    state_fields = ("iteration", "planner_eval", "history", "best")

    def build(self) -> None:
        cfg, family = self.cfg, self.cfg.task.family
        self.env = cfg.task.make()
        self.low, self.high = action_bounds(self.env)
        self.plan_gen = self.seeds.torch("plan", self.device)
        self.policy = DistilledPolicy(
            family.obs_dim, family.act_dim, self.low, self.high, cfg.policy,
            obs_preproc=family.obs_preproc, feature_dim=family.feature_dim, family=family.name,
            generator=self.seeds.torch("policy"),
        )  # fmt: skip
        self.mix_rng, self.random_rng = self.seeds.numpy("mix"), self.seeds.numpy("random")
        self.env_seed = self.seeds.int("env")
        self.data = TensorDict(obs=torch.zeros(0, family.obs_dim), act=torch.zeros(0, family.act_dim))
        """The aggregated data set: every visited state with the planner's action."""
        self.best_policy = TensorDict()
        """The state of the policy that is best on validation so far (empty: none yet)."""
        self.planner: Planner | None = None
        """The MPC planner on the model (built once per process by :meth:`use_planner`)."""
        self.iteration = 0
        """DAgger iterations completed."""
        self.planner_eval: dict[str, Any] | None = None
        self.history: list[dict[str, Any]] = []
        self.best = 0
        """The DAgger iteration (1-based) whose policy is best on validation so far (0: none yet)."""

    def components(self) -> dict[str, Stateful]:
        return {"policy": self.policy, "data": self.data, "best_policy": self.best_policy}

    def done(self) -> bool:
        return self.planner_eval is not None and self.iteration > self.cfg.iterations

    # ------------------------------------------------------------------------------------------ one step
    def step(self) -> dict[str, Any]:
        planner = self.use_planner()
        if self.planner_eval is None:
            return self.evaluate_planner(planner)
        cfg, i = self.cfg, self.iteration
        # collect: iteration 0 the planner alone, then the mixture; the planner labels every visited state
        beta, learner = cfg.beta**i if i else 1.0, self.policy.act if i else None
        seed0, rows0, env, mix = self.env_seed + 1000 * i, planner.counter.rows, self.env, self.mix_rng
        episodes = [
            dagger_episode(env, planner.act, learner, beta, mix, seed0 + k, planner.agent.reset)
            for k in range(cfg.episodes_per_iteration)
        ]
        obs, act = torch.cat([e.obs for e in episodes]), torch.cat([e.labels for e in episodes])
        steps = sum(e.length for e in episodes)
        # DAgger's "how wrong was the current policy on the states it reached", before refitting
        pre_mse = self.policy.mse(obs, act) if i else math.nan
        # aggregate, refit (fresh init unless warm_start), evaluate; keep the best policy on validation
        for key, new in (("obs", obs), ("act", act)):
            self.data[key] = torch.cat([self.data[key], new])
        fit_s = time.perf_counter()
        if not cfg.policy.warm_start:
            self.policy.reinit()
        train_loss = self.policy.fit(self.data["obs"], self.data["act"])
        fit_s = time.perf_counter() - fit_s
        returns, policy_ms = self.evaluate_policy(self.eval_seeds())
        val = float(np.mean(self.evaluate_policy(self.val_seeds())[0])) if cfg.val_episodes else 0.0
        self.iteration += 1
        if cfg.val_episodes == 0 or self.best == 0 or val > self.history[self.best - 1]["val_return"]:
            self.best = self.iteration
            self.best_policy.load_state_dict(self.policy.state_dict())
        rec = {
            "iteration": self.iteration, "beta": beta, "policy_return": float(np.mean(returns)),
            "policy_returns": returns, "val_return": val,
            "collect_return": float(np.mean([e.ret for e in episodes])), "dataset": len(self.data["obs"]),
        }  # fmt: skip
        self.history.append(rec)
        return {
            "iteration": self.iteration, "phase": "dagger" if i else "bc", "dagger/beta": beta,
            "dagger/expert_fraction": sum(int(e.by_expert.sum()) for e in episodes) / steps,
            "dagger/dataset": rec["dataset"], "dagger/collect_return": rec["collect_return"],
            "policy/train_loss": train_loss, "eval/policy_return": rec["policy_return"],
            "eval/policy_return_std": float(np.std(returns)), "val/policy_return": val,
            "dagger/best_iteration": self.best, "policy/ms_per_step": policy_ms,
            "planner/model_rows_per_step": (planner.counter.rows - rows0) / steps, "time/fit_s": fit_s,
            **({"dagger/label_mse_before_fit": pre_mse} if i else {}),
        }  # fmt: skip

    def evaluate_planner(self, planner: Planner) -> dict[str, Any]:
        """Step 0: the planner's returns on the evaluation seeds with its model rows and FLOPs per step,
        and the uniform-random floor on the same seeds."""
        returns, rows, plan_ms = planner.evaluate(self.env, self.eval_seeds())
        self.planner_eval = {
            "returns": returns,
            "model_rows_per_step": rows,
            "flops_per_step": rows * planner.counter.flops_per_row,
            "random_returns": [rollout_return(self.env, self.random_act, s)[0] for s in self.eval_seeds()],
        }
        return {
            "iteration": 0,
            "phase": "planner_eval",
            "eval/planner_return": float(np.mean(self.planner_eval["returns"])),
            "planner/model_rows_per_step": rows,
            "planner/flops_per_step": self.planner_eval["flops_per_step"],
            "planner/ms_per_step": plan_ms,
        }

    # ----------------------------------------------------------------------------------- the planner
    def use_planner(self) -> Planner:
        """The planner, built once per process on the model: ``model_path``, or the nested PETS run's (in
        ``RUN_DIR/pets``, trained or resumed first)."""
        if self.planner is None:
            cfg = self.cfg
            if cfg.model_path:
                path = Path(cfg.model_path)
            else:
                path = train_pets(cfg.pets_run(), self.rundir, self.preset, self.progress)
            model = load_model(path, cfg.task.family)
            self.planner = Planner.on(model, cfg.pets, cfg.task, self.plan_gen, (self.low, self.high))
        return self.planner

    def random_act(self, obs: np.ndarray) -> np.ndarray:
        return self.random_rng.uniform(self.low, self.high).astype(np.float32)

    # ------------------------------------------------------------------------------------- evaluation
    def eval_seeds(self, episodes: int | None = None) -> list[int]:
        n = self.cfg.eval_episodes if episodes is None else episodes
        return [self.env_seed + 1_000_000 + k for k in range(n)]

    def val_seeds(self) -> list[int]:
        return [self.env_seed + 2_000_000 + k for k in range(self.cfg.val_episodes)]

    def evaluate_policy(self, seeds: list[int]) -> tuple[list[float], float]:
        """Returns of the policy alone on ``seeds``, and its wall ms per step."""
        return timed_returns(self.env, self.policy.act, seeds)

    def watch_tasks(self) -> list[str]:
        return [self.cfg.task.as_task().label] if self.best else []

    def watch(self, camera: Camera, task: int, episodes: int) -> None:
        """The distilled policy (the best on validation so far) on the evaluation seeds."""
        policy = copy.deepcopy(self.policy)
        policy.load_state_dict(dict(self.best_policy))
        with camera.filming(self):
            timed_returns(self.env, policy.act, self.eval_seeds(episodes))

    # --------------------------------------------------------------------------------------- outputs
    def save_outputs(self) -> None:
        self.policy.load_state_dict(dict(self.best_policy))
        self.policy.save(self.rundir.checkpoints / "policy_final.safetensors")

    def summary(self) -> dict[str, Any]:
        model = self.use_planner().model  # (a run resumed after its last step has not loaded it yet)
        cfg, pe = self.cfg, self.planner_eval
        assert pe is not None
        planner, rand = float(np.mean(pe["returns"])), float(np.mean(pe["random_returns"]))
        final = self.history[self.best - 1]
        policy, span, flops = final["policy_return"], planner - rand, self.policy.flops_per_step()
        settings = {
            "planner": type(cfg.pets.planner).name, "horizon": cfg.pets.mpc.horizon,
            "particles": cfg.pets.mpc.particles, "ensemble_size": model.cfg.ensemble_size,
            "model_hidden": list(model.cfg.hidden), "learned_reward": model.reward_spec is not None,
            "policy_hidden": list(cfg.policy.hidden), "beta": cfg.beta,
            "episodes_per_iteration": cfg.episodes_per_iteration, "val_episodes": cfg.val_episodes,
        }  # fmt: skip
        return {
            "kind": "distill", "preset": self.preset, "env": cfg.task.env, "env_params": cfg.task.env_params,
            "seed": cfg.seed, "model": cfg.model_path or "pets", "iterations": self.iteration,
            "dataset": self.history[-1]["dataset"], "selected_iteration": self.best,
            "eval_seeds": self.eval_seeds(),
            "planner_return": planner, "planner_returns": pe["returns"],
            "policy_return": policy, "policy_returns": final["policy_returns"],
            "last_policy_return": self.history[-1]["policy_return"],
            "random_return": rand, "random_returns": pe["random_returns"],
            "return_ratio": policy / planner if planner else math.nan,
            "normalized_return_ratio": (policy - rand) / span if span else math.nan,
            "planner_model_rows_per_step": pe["model_rows_per_step"],
            "planner_flops_per_step": pe["flops_per_step"],
            "policy_flops_per_step": flops,
            "flops_ratio": flops / pe["flops_per_step"] if pe["flops_per_step"] else math.nan,
            "dagger": self.history,
            "settings": settings,
        }  # fmt: skip
