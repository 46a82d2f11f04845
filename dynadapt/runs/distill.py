"""Planner distillation (run kind ``"distill"``): DAgger on a PETS planner, then the policy alone.

::

    model: train one with the PETS loop (a nested run in RUN_DIR/pets, resumable on its own),
           or load a model file / finished pets run directory (model_path)
    planner evaluation: eval_episodes episodes of MPC with the model on fixed seeds (return, cost per step)
    DAgger (Ross et al. 2011; dynadapt.policy.distill):
        iteration 0: episodes_per_iteration planner episodes, every state labelled with the planner's action
        iteration i >= 1: episodes of the mixture (planner with probability beta**i, else the policy);
                          the planner relabels every visited state
        after each iteration: aggregate, refit the policy (fresh init), evaluate it (same fixed seeds)
    the distilled policy: the iteration's policy with the best return on validation episodes (seeds apart
        from the evaluation seeds), as DAgger returns "the best policy on validation" (Ross et al. 2011,
        Alg. 3.1); a refit from scratch can lose a skill an earlier one had (one cart-pole evaluation
        episode fell from 185 to 20 at the last of five iterations)
    summary: planner and policy returns, a uniform-random floor, the ratios, and the cost per step

Cost per step is counted machine-independently: the planner's dynamics-model evaluations (one row = one
member's prediction for one state-action; the learned reward and termination heads are added when the
model has them; analytic task rewards are not counted) times the network's multiply-add FLOPs per row,
against the policy's one MLP evaluation. Wall-clock milliseconds per step go to ``metrics.jsonl`` (the
``time/`` and ``*_ms_per_step`` keys), not to ``summary.json``, which holds no timings.

A checkpoint after the planner evaluation and after every DAgger iteration holds the policy, its optimiser,
the aggregated data and every random state, so ``dynadapt resume`` after ``kill -9`` repeats only the
interrupted iteration (or resumes the nested PETS run).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from dynadapt.envs import TaskFamily, get_family
from dynadapt.errors import DynadaptError
from dynadapt.io import flatten, load_tensors, save_tensors, unflatten
from dynadapt.models.dynamics import DynamicsModel
from dynadapt.planning import imagine
from dynadapt.policy.distill import DistilledPolicy, PolicyConfig, dagger_episode, rollout_return
from dynadapt.runs.common import RunBase, action_bounds, derive_seeds, make_mpc_agent
from dynadapt.runs.launch import register_kind
from dynadapt.runs.mbrl import MBRLConfig, MBRLRun
from dynadapt.runs.rundir import RunDir

CHECKPOINT_FORMAT = "dynadapt.DistillCheckpoint"


@dataclass
class DistillConfig:
    """Distil an MPC planner on a learned model into a feed-forward policy (DAgger), then compare them."""

    env: str = "pendulum"
    """Task family (see `dynadapt envs`)."""
    env_params: dict[str, Any] = field(default_factory=dict)
    """Physical parameters of the task (defaults: the family's)."""
    seed: int = 0
    """Seed of every random number in the run."""
    episode_steps: int = 0
    """Truncate episodes after this many steps (0: the family's own episode length)."""
    model_path: str = ""
    """A dynamics model file, or a finished pets run directory (its checkpoints/model_final.safetensors), to
    plan with; empty: train one first with the `pets` settings (a nested run in RUN_DIR/pets)."""
    pets: MBRLConfig = field(default_factory=MBRLConfig)
    """PETS training of the model and the planner that is distilled (pets.planner, pets.mpc); its env,
    env_params, seed, episode_steps and threads are always this run's."""
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
    threads: int = 1
    """torch CPU threads (1: fastest for CPU-scale models; 0: torch's default)."""

    def __post_init__(self) -> None:
        checks = [
            (self.episode_steps >= 0, "episode_steps must be >= 0"),
            (self.iterations >= 0, "iterations must be >= 0"),
            (self.episodes_per_iteration >= 1, "episodes_per_iteration must be >= 1"),
            (0.0 <= self.beta <= 1.0, "beta must be in [0, 1]"),
            (self.eval_episodes >= 1, "eval_episodes must be >= 1"),
            (self.val_episodes >= 0, "val_episodes must be >= 0"),
            (self.threads >= 0, "threads must be >= 0"),
        ]
        for ok, msg in checks:
            if not ok:
                raise DynadaptError(msg)
        self.env_params = get_family(self.env).validate(self.env_params)
        self.pets = dataclasses.replace(
            self.pets,
            env=self.env,
            env_params=dict(self.env_params),
            seed=self.seed,
            episode_steps=self.episode_steps,
            threads=self.threads,
        )


class CountingPredict:
    """Wraps ``model.predict`` and counts the rows it evaluates (``E x N`` per call) and their FLOPs."""

    def __init__(self, model: DynamicsModel, flops_per_row: int) -> None:
        self.model = model
        self.flops_per_row = flops_per_row
        self.rows = 0

    def __call__(self, params: dict[str, Tensor], obs: Tensor, act: Tensor) -> tuple[Tensor, Tensor | None]:
        self.rows += int(math.prod(obs.shape[:-1]))
        return self.model.predict(params, obs, act)


class DistillRun(RunBase):
    """One run of :class:`DistillConfig` in a run directory."""

    kind = "distill"

    def __init__(self, cfg: DistillConfig, rundir: RunDir, preset: str = "", progress: bool = True) -> None:
        super().__init__(cfg, rundir, preset, progress)
        self.cfg: DistillConfig = cfg
        self.family: TaskFamily = get_family(cfg.env)
        self.env = self.family.make(**cfg.env_params)
        if cfg.episode_steps:
            self.env = gym.wrappers.TimeLimit(self.env, cfg.episode_steps)
        self.reward_fn = self.family.reward_fn_for(**cfg.env_params)
        self.termination_fn = self.family.termination_fn_for(**cfg.env_params)
        self.low, self.high = action_bounds(self.env)
        s_plan, s_policy, s_mix, s_rand, self.env_seed = derive_seeds(cfg.seed, 5)
        self.plan_gen = torch.Generator().manual_seed(s_plan)
        self.mix_rng = np.random.default_rng(s_mix)
        self.s_rand = s_rand
        self.policy = DistilledPolicy(
            self.family.obs_dim,
            self.family.act_dim,
            self.low,
            self.high,
            cfg.policy,
            obs_preproc=self.family.obs_preproc,
            feature_dim=self.family.feature_dim,
            family=self.family.name,
            generator=torch.Generator().manual_seed(s_policy),
        )
        self.model: DynamicsModel | None = None
        self.counter: CountingPredict | None = None
        self.agent = make_mpc_agent(
            cfg.pets.planner, cfg.pets.mpc, self.objective_for, self.low, self.high, self.plan_gen
        )
        # loop state (checkpointed)
        self.iteration = 0  # DAgger iterations completed
        self.rows = 0
        self.wall = 0.0
        self.data_obs = torch.zeros(0, self.family.obs_dim)
        self.data_act = torch.zeros(0, self.family.act_dim)
        self.planner_eval: dict[str, Any] | None = None
        self.history: list[dict[str, Any]] = []
        self.best = 0
        """The DAgger iteration (1-based) whose policy is best on validation so far (0: none yet)."""

    # ------------------------------------------------------------------------------------------ model
    def obtain_model(self) -> DynamicsModel:
        """Load ``model_path`` or train (or resume training) the nested PETS run in ``RUN_DIR/pets``."""
        cfg = self.cfg
        if cfg.model_path:
            path = Path(cfg.model_path)
            if path.is_dir():
                path = path / "checkpoints" / "model_final.safetensors"
            if not path.is_file():
                raise DynadaptError(f"model_path: no model file at {path} (is the pets run finished?)")
            model = DynamicsModel.load(path, obs_preproc=self.family.obs_preproc)
            if model.family not in (None, self.family.name):
                raise DynadaptError(f"model_path: the model was trained on {model.family!r}, not {cfg.env!r}")
            if (model.obs_dim, model.act_dim) != (self.family.obs_dim, self.family.act_dim):
                raise DynadaptError(f"model_path: the model's obs/act sizes do not fit {cfg.env!r}")
            return model
        sub = RunDir(self.rundir.path / "pets")
        final = sub.checkpoints / "model_final.safetensors"
        if sub.read_summary() is None or not final.is_file():
            runner = MBRLRun(cfg.pets, sub, preset=f"{self.preset}/pets", progress=self.progress)
            if sub.config_path.exists():
                if sub.checkpoint_path.exists():
                    runner.load_checkpoint(sub.checkpoint_path)
                else:
                    sub.truncate_metrics(0)
            else:
                sub.create(runner.config_dict())
            runner.run()
        return DynamicsModel.load(final, obs_preproc=self.family.obs_preproc)

    def objective_for(self, obs0: Tensor) -> Callable[[Tensor], Tensor]:
        """The planner's objective: the imagined return under the model (with its learned reward and
        termination when it has those heads, else the task family's)."""
        assert self.model is not None and self.counter is not None
        model, mpc = self.model, self.cfg.pets.mpc
        params = {k: v.detach() for k, v in model.params.items()}
        reward_fn = model.learned_reward_fn(params) if model.reward_spec is not None else self.reward_fn
        term_fn = (
            model.learned_termination_fn(params)
            if model.termination_spec is not None
            else self.termination_fn
        )
        counter = self.counter

        def objective(actions: Tensor) -> Tensor:
            return imagine(
                counter,
                params,
                obs0,
                actions,
                reward_fn,
                term_fn,
                propagation=mpc.propagation,
                particles=mpc.particles,
                generator=self.plan_gen,
            )

        return objective

    def planner_act(self, obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.agent.act(obs)

    # ------------------------------------------------------------------------------------- evaluation
    def eval_seeds(self) -> list[int]:
        return [self.env_seed + 1_000_000 + k for k in range(self.cfg.eval_episodes)]

    def val_seeds(self) -> list[int]:
        return [self.env_seed + 2_000_000 + k for k in range(self.cfg.val_episodes)]

    @property
    def best_path(self) -> Path:
        return self.rundir.checkpoints / "policy_best.safetensors"

    def evaluate_planner(self) -> dict[str, Any]:
        """Returns of the planner on the evaluation seeds, with its model rows and FLOPs per step."""
        assert self.counter is not None
        rows0, steps, returns = self.counter.rows, 0, []
        plan_ms0, plans0 = self.agent.mean_plan_ms * self.agent.num_plans, self.agent.num_plans
        for seed in self.eval_seeds():
            ret, n = rollout_return(self.env, self.planner_act, seed, reset=self.agent.reset)
            returns.append(ret)
            steps += n
        rows = (self.counter.rows - rows0) / steps
        plan_ms = (self.agent.mean_plan_ms * self.agent.num_plans - plan_ms0) / max(
            1, self.agent.num_plans - plans0
        )
        return {
            "returns": returns,
            "model_rows_per_step": rows,
            "flops_per_step": rows * self.counter.flops_per_row,
            "ms_per_step": plan_ms,
        }

    def evaluate_policy(self, seeds: list[int] | None = None) -> tuple[list[float], float]:
        """Returns of the policy alone on ``seeds`` (default: the evaluation seeds), and its wall ms/step."""
        elapsed, steps, returns = 0.0, 0, []

        def act(obs: np.ndarray) -> np.ndarray:
            nonlocal elapsed, steps
            start = time.perf_counter()
            a = self.policy.act(obs)
            elapsed += time.perf_counter() - start
            steps += 1
            return a

        for seed in self.eval_seeds() if seeds is None else seeds:
            returns.append(rollout_return(self.env, act, seed)[0])
        return returns, 1e3 * elapsed / max(1, steps)

    def evaluate_random(self) -> list[float]:
        """The uniform-random floor on the evaluation seeds (its own generator, so nothing else changes)."""
        rng = np.random.default_rng(self.s_rand)

        def act(obs: np.ndarray) -> np.ndarray:
            return rng.uniform(self.low, self.high).astype(np.float32)

        return [rollout_return(self.env, act, seed)[0] for seed in self.eval_seeds()]

    # ------------------------------------------------------------------------------------------- loop
    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        self.model = self.obtain_model()
        flops = self.model.flops_per_row() + self.model.head_flops_per_row()
        self.counter = CountingPredict(self.model, flops)
        if self.planner_eval is None:
            start = time.perf_counter()
            ev = self.evaluate_planner()
            self.planner_eval = {
                "returns": ev["returns"],
                "model_rows_per_step": ev["model_rows_per_step"],
                "flops_per_step": ev["flops_per_step"],
                "random_returns": self.evaluate_random(),
            }
            self.wall += time.perf_counter() - start
            row = {
                "iteration": 0,
                "phase": "planner_eval",
                "eval/planner_return": float(np.mean(ev["returns"])),
                "planner/model_rows_per_step": ev["model_rows_per_step"],
                "planner/flops_per_step": ev["flops_per_step"],
                "planner/ms_per_step": ev["ms_per_step"],
                "time/wall_s": self.wall,
            }
            self._log(row)
        while self.iteration <= cfg.iterations:
            self._dagger_iteration()
        return self.finish()

    def _dagger_iteration(self) -> None:
        cfg, i = self.cfg, self.iteration
        start = time.perf_counter()
        beta = 1.0 if i == 0 else cfg.beta**i
        rows0 = self.counter.rows if self.counter is not None else 0
        new_obs, new_act, returns, by_expert, steps = [], [], [], 0, 0
        for k in range(cfg.episodes_per_iteration):
            ep = dagger_episode(
                self.env,
                self.planner_act,
                None if i == 0 else self.policy.act,
                beta,
                self.mix_rng,
                seed=self.env_seed + 1000 * i + k,
                reset_expert=self.agent.reset,
            )
            new_obs.append(ep.obs)
            new_act.append(ep.labels)
            returns.append(ep.ret)
            by_expert += int(ep.by_expert.sum())
            steps += ep.length
        obs, act = torch.cat(new_obs), torch.cat(new_act)
        # DAgger's "how wrong was the current policy on the states it reached" before refitting
        pre_mse = self.policy.mse(obs, act) if i > 0 else math.nan
        self.data_obs = torch.cat([self.data_obs, obs])
        self.data_act = torch.cat([self.data_act, act])
        fit_s = time.perf_counter()
        if not cfg.policy.warm_start:
            self.policy.reinit()
        train_loss = self.policy.fit(self.data_obs, self.data_act)
        fit_s = time.perf_counter() - fit_s
        pol_returns, pol_ms = self.evaluate_policy()
        val = float(np.mean(self.evaluate_policy(self.val_seeds())[0])) if cfg.val_episodes else 0.0
        self.iteration += 1
        if cfg.val_episodes == 0 or self.best == 0 or val > self.history[self.best - 1]["val_return"]:
            self.best = self.iteration
            self.policy.save(self.best_path)
        self.wall += time.perf_counter() - start
        assert self.counter is not None
        rec = {
            "iteration": self.iteration,
            "beta": beta,
            "policy_return": float(np.mean(pol_returns)),
            "policy_returns": pol_returns,
            "val_return": val,
            "collect_return": float(np.mean(returns)),
            "dataset": int(self.data_obs.shape[0]),
        }
        self.history.append(rec)
        row = {
            "iteration": self.iteration,
            "phase": "bc" if i == 0 else "dagger",
            "dagger/beta": beta,
            "dagger/expert_fraction": by_expert / steps,
            "dagger/dataset": rec["dataset"],
            "dagger/collect_return": rec["collect_return"],
            "policy/train_loss": train_loss,
            "eval/policy_return": rec["policy_return"],
            "eval/policy_return_std": float(np.std(pol_returns)),
            "val/policy_return": val,
            "dagger/best_iteration": self.best,
            "policy/ms_per_step": pol_ms,
            "planner/model_rows_per_step": (self.counter.rows - rows0) / steps,
            "time/fit_s": fit_s,
            "time/wall_s": self.wall,
        }
        if i > 0:
            row["dagger/label_mse_before_fit"] = pre_mse
        self._log(row)

    def _log(self, row: dict[str, Any]) -> None:
        self.rundir.append_metrics(row)
        self.rows += 1
        if self.progress:
            from tqdm import tqdm

            shown = {k: v for k, v in row.items() if isinstance(v, int | float) and not isinstance(v, bool)}
            tqdm.write(" | ".join(f"{k} {v:.4g}" for k, v in shown.items()))
        self.save_checkpoint()

    # ------------------------------------------------------------------------------------------ finish
    def finish(self) -> dict[str, Any]:
        DistilledPolicy.load(self.best_path).save(self.rundir.checkpoints / "policy_final.safetensors")
        summary = self.summary()
        self.rundir.write_summary(summary)
        from dynadapt.runs.plots import plot_run

        plot_run(self.rundir)
        return summary

    def summary(self) -> dict[str, Any]:
        cfg = self.cfg
        assert self.planner_eval is not None and self.model is not None
        pe = self.planner_eval
        planner, rand = float(np.mean(pe["returns"])), float(np.mean(pe["random_returns"]))
        final = self.history[self.best - 1]
        policy = final["policy_return"]
        pol_flops = self.policy.flops_per_step()
        span = planner - rand
        return {
            "kind": "distill",
            "preset": self.preset,
            "env": cfg.env,
            "env_params": cfg.env_params,
            "seed": cfg.seed,
            "model": cfg.model_path or "pets",
            "iterations": self.iteration,
            "dataset": self.history[-1]["dataset"],
            "selected_iteration": self.best,
            "eval_seeds": self.eval_seeds(),
            "planner_return": planner,
            "planner_returns": pe["returns"],
            "policy_return": policy,
            "policy_returns": final["policy_returns"],
            "last_policy_return": self.history[-1]["policy_return"],
            "random_return": rand,
            "random_returns": pe["random_returns"],
            "return_ratio": policy / planner if planner else math.nan,
            "normalized_return_ratio": (policy - rand) / span if span else math.nan,
            "planner_model_rows_per_step": pe["model_rows_per_step"],
            "planner_flops_per_step": pe["flops_per_step"],
            "policy_flops_per_step": pol_flops,
            "flops_ratio": pol_flops / pe["flops_per_step"] if pe["flops_per_step"] else math.nan,
            "dagger": self.history,
            "settings": {
                "planner": type(cfg.pets.planner).name,
                "horizon": cfg.pets.mpc.horizon,
                "particles": cfg.pets.mpc.particles,
                "ensemble_size": int(next(iter(self.model.params.values())).shape[0]),
                "model_hidden": list(self.model.cfg.hidden),
                "learned_reward": self.model.reward_spec is not None,
                "policy_hidden": list(cfg.policy.hidden),
                "beta": cfg.beta,
                "episodes_per_iteration": cfg.episodes_per_iteration,
                "val_episodes": cfg.val_episodes,
            },
        }

    # ------------------------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> None:
        tensors = flatten("policy", self.policy.state_dict())
        tensors["data.obs"] = self.data_obs
        tensors["data.act"] = self.data_act
        tensors["rng.plan"] = self.plan_gen.get_state()
        meta = {
            "version": 1,
            "iteration": self.iteration,
            "rows": self.rows,
            "wall": self.wall,
            "planner_eval": self.planner_eval,
            "history": self.history,
            "best": self.best,
            "mix_rng": self.mix_rng.bit_generator.state,
        }
        save_tensors(self.rundir.checkpoint_path, tensors, CHECKPOINT_FORMAT, meta)

    def load_checkpoint(self, path: Path) -> None:
        tensors, meta = load_tensors(path, CHECKPOINT_FORMAT)
        try:
            self.policy.load_state_dict(unflatten("policy", tensors))
            self.data_obs = tensors["data.obs"].clone()
            self.data_act = tensors["data.act"].clone()
            self.plan_gen.set_state(tensors["rng.plan"])
            self.mix_rng.bit_generator.state = meta["mix_rng"]
            self.iteration = int(meta["iteration"])
            self.rows = int(meta["rows"])
            self.wall = float(meta["wall"])
            self.planner_eval = meta["planner_eval"]
            self.history = list(meta["history"])
            self.best = int(meta["best"])
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise DynadaptError(f"{path}: checkpoint does not match this run ({e})") from None
        self.rundir.truncate_metrics(self.rows)


register_kind("distill", DistillConfig, DistillRun)


def plot_distill(rundir: RunDir) -> list[Path]:
    """``plots/distill.png``: the policy's evaluation return per DAgger iteration against the planner's
    return and the random floor (from ``metrics.jsonl``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = rundir.read_metrics()
    cfg = rundir.read_config()
    it = [r for r in rows if r.get("eval/policy_return") is not None]
    planner = next((r["eval/planner_return"] for r in rows if r.get("eval/planner_return") is not None), None)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    if it:
        x = [r["iteration"] - 1 for r in it]
        m = [float(r["eval/policy_return"]) for r in it]
        s = [float(r.get("eval/policy_return_std") or 0.0) for r in it]
        ax.plot(x, m, "o-", ms=4, lw=1.5, label="distilled policy")
        ax.fill_between(x, [a - b for a, b in zip(m, s)], [a + b for a, b in zip(m, s)], alpha=0.2)
        ax.plot(
            x, [float(r["dagger/collect_return"]) for r in it], "x--", ms=4, lw=1, label="data collection"
        )
    if planner is not None:
        ax.axhline(float(planner), color="gray", ls="--", lw=1, label="MPC planner")
    summary = rundir.read_summary()
    if summary is not None and summary.get("random_return") is not None:
        ax.axhline(float(summary["random_return"]), color="red", ls=":", lw=1, label="random actions")
    ax.set_xlabel("DAgger iteration (0: behaviour cloning on planner rollouts)")
    ax.set_ylabel("evaluation return")
    ax.set_title(f"{cfg.get('preset') or cfg.get('env')} (seed {cfg.get('seed')})")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    rundir.plots.mkdir(parents=True, exist_ok=True)
    out = rundir.plots / "distill.png"
    fig.savefig(out)
    plt.close(fig)
    return [out]
