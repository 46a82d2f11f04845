"""The label-free continual loop (issue 16): one model kept right along a stream of recurring situations.

::

    the stream (dynadapt.envs.streams) plays situations A B A C B A ..., switching at episode boundaries and
    mid-episode; nobody tells the agent which situation it is in (the task-aware reference excepted)
    warm-up: `warmup_steps` steps with uniformly random actions; their data set the model's normalisers
        (then frozen), are handed to the learner in order, and the first training session runs
    then at every step:
        params = learner.params()              identify / adapt on the recent window, cached weights
        act = MPC on model.predict(params, ...)
        next_obs = env.step(act)               (the stream applies its switches; the label stays hidden)
        learner.observe(obs, act, next_obs, label)
        every `train_every` steps: learner.train()   a bounded training session
    at the stream's end: the multi-step prediction error of the learner on every situation and on the
    held-out settings, each after it has seen the first `eval.window` transitions of a fixed episode of it

One step of the run skeleton is one episode of the stream. Recorded per step (loop state, so a resumed run
ends with the same results): the true and the inferred situation (run-length encoded, from step 0: the
learner's label of a warm-up transition is the one it gave when the warm-up data was handed to it), the
one-step error of the parameters planned with (normalised MSE, from the end of the warm-up), and per episode
its return, situation and library size.
Every method (``method``) sees the same stream, warm-up data, start states and planner seeds for a seed
(common random numbers); only the learner differs.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
import torch

from dynadapt.continual.metrics import prediction_error
from dynadapt.data.buffer import ReplayBuffer
from dynadapt.envs import Task, action_bounds, get_family
from dynadapt.envs.streams import Stream, StreamEnv, get_stream
from dynadapt.errors import CorruptFileError
from dynadapt.labelfree import (
    CaDMConfig,
    ContextHnetConfig,
    GrBALStreamConfig,
    StreamLearner,
    TMCLConfig,
    identification_summary,
)
from dynadapt.labelfree.metrics import rle_decode
from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.planning import PLANNER_CONFIGS, ModelObjective, MPCConfig, PlannerConfig, mpc_agent
from dynadapt.planning.cem import CEMConfig
from dynadapt.runs.checkpoint import Stateful
from dynadapt.runs.labelfree.plots import plot_labelfree
from dynadapt.runs.meta.evaluation import one_step_error, seeded
from dynadapt.runs.run import Run
from dynadapt.runs.rundir import RunDir
from dynadapt.runs.settings import RunConfig, at_least, check
from dynadapt.video import Camera

Method = Literal["hnet", "task-aware", "grbal", "cadm", "tmcl"]
METHODS: tuple[str, ...] = ("hnet", "task-aware", "grbal", "cadm", "tmcl")
SITUATED: tuple[str, ...] = ("hnet", "task-aware", "tmcl")
"""The methods that say which situation they believe they are in (the others report -1 at every step)."""


@dataclass
class StreamEval:
    """The end-of-stream evaluation of the model (no data kept, no training)."""

    name: ClassVar[str] = "eval"
    episode_steps: int = 100
    """Steps of the fixed evaluation episode of each situation (uniformly random actions from a fixed
    start state; the same episodes for every method of a seed)."""
    window: int = 32
    """Transitions of the episode the learner observes before predicting (it identifies or adapts on them)."""
    horizon: int = 10
    """Open-loop prediction horizon of the error (mean L1 of the last predicted observation)."""

    def __post_init__(self) -> None:
        check(
            *at_least(self, episode_steps=2, window=1, horizon=1),
            (self.window + self.horizon <= self.episode_steps, "eval.window + eval.horizon must be <= "
             "eval.episode_steps"),
        )  # fmt: skip


def _model() -> ModelConfig:
    return ModelConfig(ensemble_size=1, hidden=(64, 64), activation="relu", head="deterministic", lr=1e-3)


@dataclass
class LabelFreeConfig(RunConfig):
    """Continual dynamics without task labels on a stream of recurring situations (issue 16)."""

    stream: str = "pendulum:recurring"
    """The stream: "<family>:<name>" (see `dynadapt streams`) or a .toml/.json stream file."""
    method: Method = "hnet"
    """hnet (context-conditioned hypernetwork, online identification: no labels) | task-aware (the same
    hypernetwork told the true situation: HyperCRL, the upper reference) | grbal (meta-learned online
    adaptation, no memory) | cadm (context-concatenation model, online fine-tuning) | tmcl (multi-head,
    winner-take-all)."""
    warmup_steps: int = 200
    """Leading steps with uniformly random actions; their data set the model's normalisers (then frozen)."""
    train_every: int = 100
    """Env steps between training sessions (after the warm-up)."""
    eval: StreamEval = field(default_factory=StreamEval)
    """The end-of-stream evaluation of the model on every situation and held-out setting."""
    model: ModelConfig = field(default_factory=_model)
    """The dynamics network every method plans with (generated, selected or adapted by the learner)."""
    hnet: ContextHnetConfig = field(default_factory=ContextHnetConfig)
    """hnet / task-aware: context-conditioned hypernetwork, identification and training settings."""
    grbal: GrBALStreamConfig = field(default_factory=GrBALStreamConfig)
    """grbal: meta-training sessions and online adaptation."""
    cadm: CaDMConfig = field(default_factory=CaDMConfig)
    """cadm: context encoder and training."""
    tmcl: TMCLConfig = field(default_factory=TMCLConfig)
    """tmcl: heads, winner-take-all training and selection."""
    planner: PlannerConfig = field(
        default_factory=lambda: CEMConfig(population=200, elites=20, iterations=3),
        metadata={"choices": PLANNER_CONFIGS},
    )
    """Trajectory optimiser (shared by every method)."""
    mpc: MPCConfig = field(
        default_factory=lambda: MPCConfig(horizon=15, particles=1, propagation="expectation")
    )
    """MPC settings."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            (self.method in METHODS, f"method must be one of {', '.join(METHODS)}"),
            *at_least(self, warmup_steps=1, train_every=1),
            (self.model.ensemble_size == 1, "label-free runs use a single network: model.ensemble_size=1"),
        )
        get_stream(self.stream)  # an unknown stream or a bad file: one error now, before any directory

    def learner_config(self) -> Any:
        """The config whose ``build(model, generator)`` makes this method's learner."""
        if self.method == "task-aware":
            return replace(self.hnet, labels="true")
        if self.method == "hnet":
            return replace(self.hnet, labels="inferred")
        return {"grbal": self.grbal, "cadm": self.cadm, "tmcl": self.tmcl}[self.method]


def _rle_append(rle: list[list[int]], label: int) -> None:
    """Append one step's label to a run-length encoding ``[[label, count], ...]``."""
    if rle and rle[-1][0] == label:
        rle[-1][1] += 1
    else:
        rle.append([label, 1])


def _mean_rows(rows: list[dict[str, float]]) -> dict[str, float]:
    """The mean of every numeric key over the rows that have it (the sessions of one episode)."""
    keys = dict.fromkeys(k for r in rows for k, v in r.items() if isinstance(v, int | float))
    return {k: float(np.mean([r[k] for r in rows if k in r])) for k in keys}


def learner_size(learner: StreamLearner) -> int:
    """Parameters the learner trains and shares across situations (its ``num_params()``, or that of its
    context-conditioned hypernetwork); -1 when it does not say."""
    for owner in (learner, getattr(learner, "dyn", None)):
        count = getattr(owner, "num_params", None)
        if callable(count):
            return int(count())
    return -1


class LabelFreeRun(Run[LabelFreeConfig]):
    kind = "labelfree"
    state_fields = (
        "episode", "t", "returns", "episode_situations", "library_sizes", "true_rle", "inferred_rle",
        "errors", "train_cpu_s", "learner_meta", "final",
    )  # fmt: skip
    plots: ClassVar[Callable[[RunDir], list[Path]]] = staticmethod(plot_labelfree)

    def build(self) -> None:
        cfg = self.cfg
        self.stream: Stream = get_stream(cfg.stream)
        self.family = get_family(self.stream.family)
        self.env = StreamEnv(self.stream)
        self.low, self.high = action_bounds(self.env.env)
        gen = self.seeds.torch("model")
        self.model = DynamicsModel.for_family(self.family, cfg.model, gen)
        self.learner: StreamLearner = cfg.learner_config().build(self.model, gen)
        self.warm = ReplayBuffer(cfg.warmup_steps, self.family.obs_dim, self.family.act_dim)
        plan_gen = self.seeds.torch("plan", self.device)
        self.objective = ModelObjective(
            self.model.predict, cfg.mpc, plan_gen, self.env.reward_fn, self.env.termination_fn
        )
        self.agent = mpc_agent(cfg.planner, self.objective, self.low, self.high)
        self.act_rng = self.seeds.numpy("act")
        self.env_seed = self.seeds.int("env")
        self.episode, self.t = 0, 0
        self.returns: list[float] = []
        self.episode_situations: list[int] = []
        """The true situation in force for most of each episode."""
        self.library_sizes: list[int] = []
        """The learner's library size at each episode's end (-1: the learner keeps none)."""
        self.true_rle: list[list[int]] = []
        self.inferred_rle: list[list[int]] = []
        self.errors: list[float] = []
        """One-step normalised MSE of the parameters planned with, per step after the warm-up."""
        self.train_cpu_s: list[float] = []
        """Process CPU seconds of each training session."""
        self.learner_meta: dict[str, Any] = {}
        self.final: dict[str, Any] = {}
        """The end-of-stream evaluation (filled by the last step)."""

    def components(self) -> dict[str, Stateful]:
        return {"model": self.model, "learner": self.learner, "warm": self.warm}

    def restored(self) -> None:
        self.check_records()
        self.learner.load_meta(self.learner_meta)

    def check_records(self) -> None:
        """Raise :class:`CorruptFileError` unless the restored loop state is one this loop could have
        written (counts consistent with the stream, labels in range, finite errors)."""
        n, total, warm = len(self.stream.situations), self.stream.total_steps, self.cfg.warmup_steps
        starts = [*self.stream.episode_starts(), total]

        def count(x: Any, low: int = 0, high: float = math.inf) -> bool:
            return isinstance(x, int) and not isinstance(x, bool) and low <= x <= high

        def rle_ok(rle: Any, low: int, high: int) -> bool:
            return isinstance(rle, list) and all(
                isinstance(r, list) and len(r) == 2 and count(r[0], low, high) and count(r[1], 1) for r in rle
            )

        recorded = self.t if self.t >= warm else 0
        problems = [
            (count(self.episode, 0, len(starts) - 1) and count(self.t, 0, total)
             and starts[self.episode] == self.t, "episode and step counters"),
            (all(isinstance(r, int | float) and math.isfinite(r) for r in self.returns)
             and len(self.returns) == self.episode, "returns"),
            (all(count(s, 0, n - 1) for s in self.episode_situations)
             and len(self.episode_situations) == self.episode, "episode situations"),
            (all(count(s, -1) for s in self.library_sizes) and len(self.library_sizes) == self.episode,
             "library sizes"),
            (rle_ok(self.true_rle, 0, n - 1) and sum(r[1] for r in self.true_rle) == recorded, "true labels"),
            (rle_ok(self.inferred_rle, -1, 2**31) and sum(r[1] for r in self.inferred_rle) == recorded,
             "inferred labels"),
            (all(isinstance(e, int | float) and math.isfinite(e) and e >= 0 for e in self.errors)
             and len(self.errors) == max(0, self.t - warm), "one-step errors"),
            (all(isinstance(c, int | float) and math.isfinite(c) for c in self.train_cpu_s), "session times"),
        ]  # fmt: skip
        for ok, what in problems:
            if not ok:
                raise CorruptFileError(f"{self.rundir.path}: the checkpoint's {what} are not this run's")

    def done(self) -> bool:
        return self.env.t >= self.stream.total_steps if not self.final else True

    # ------------------------------------------------------------------------------------------ one step
    def step(self) -> dict[str, Any]:
        """One episode of the stream (and, after the last one, the end-of-stream evaluation)."""
        cfg = self.cfg
        self.env.t = self.t  # resume: the stream continues where the checkpoint left it
        obs, info = self.env.reset(seed=self.env_seed + self.episode)
        self.agent.reset()
        self.learner.reset()
        plan0, ident0 = self.agent.mean_plan_ms * self.agent.num_plans, self.learner.ident_ms_total
        total, steps, planned = 0.0, 0, 0
        sessions: list[dict[str, float]] = []
        counts = np.zeros(len(self.stream.situations))
        while True:
            warm = self.t < cfg.warmup_steps
            if warm:
                act = self.act_rng.uniform(self.low, self.high).astype(np.float32)
            else:
                if self.agent.plans_next:
                    self.objective.params = self.learner.params()
                act = self.agent.act(obs)
                planned += 1
            next_obs, reward, terminated, truncated, info = self.env.step(act)
            label = int(info["situation"])
            counts[label] += 1
            total += float(reward)
            if warm:
                self.warm.add(obs, act, next_obs, float(reward), terminated, truncated,
                              episode=self.episode, t=steps)  # fmt: skip
            else:
                self.errors.append(one_step_error(self.objective, self.model, obs, act, next_obs))
                self.learner.observe(obs, act, next_obs, label)
                _rle_append(self.true_rle, label)
                _rle_append(self.inferred_rle, int(self.learner.situation))
            self.t, steps, obs = self.t + 1, steps + 1, next_obs
            if self.t == cfg.warmup_steps:
                self.end_warmup()
                sessions.append(self.train())
            elif not warm and (self.t - cfg.warmup_steps) % cfg.train_every == 0:
                sessions.append(self.train())
            if terminated or truncated:
                break
        self.episode += 1
        self.returns.append(total)
        self.episode_situations.append(int(np.argmax(counts)))
        self.library_sizes.append(int(getattr(self.learner, "library_size", -1)))
        self.learner_meta = self.learner.meta()
        plan_ms = (self.agent.mean_plan_ms * self.agent.num_plans - plan0) / planned if planned else math.nan
        ident_ms = (self.learner.ident_ms_total - ident0) / planned if planned else math.nan
        row: dict[str, Any] = {
            "episode": self.episode,
            "env_steps": self.t,
            "situation": self.episode_situations[-1],
            "inferred": int(self.learner.situation),
            "library_size": self.library_sizes[-1],
            "train/return": total,
            "planner/ms_per_step": plan_ms,
            "ident/ms_per_step": ident_ms,
            **_mean_rows(sessions),
        }
        if self.t >= self.stream.total_steps:
            self.final = self.evaluate()
            row |= {f"eval/{k}": v for k, v in self.final.items() if isinstance(v, int | float)}
        return row

    def end_warmup(self) -> None:
        """Normalisers from the warm-up data (then frozen); the learner sees the warm-up transitions in
        order."""
        data = self.warm.all()
        self.model.observe(data["obs"], data["act"], data["next_obs"])
        self.model.freeze_normalizers(0)
        labels = self.stream.labels()
        episode = -1
        for i in range(data["obs"].shape[0]):
            if int(data["episode"][i]) != episode:
                episode = int(data["episode"][i])
                self.learner.reset()
            label = int(labels[i])
            obs, act, nxt = (data[k][i].numpy() for k in ("obs", "act", "next_obs"))
            self.learner.observe(obs, act, nxt, label)
            _rle_append(self.true_rle, label)
            _rle_append(self.inferred_rle, int(self.learner.situation))

    def train(self) -> dict[str, float]:
        """One training session; its metrics with its process CPU seconds (``time/train_session_cpu_s``)."""
        start = time.process_time()
        metrics = self.learner.train()
        self.objective.params = self.learner.params()
        self.train_cpu_s.append(time.process_time() - start)
        return {**metrics, "time/train_session_cpu_s": self.train_cpu_s[-1]}

    # ------------------------------------------------------------------------------------- evaluation
    def eval_episode(self, params: dict[str, Any], seed: int) -> dict[str, torch.Tensor]:
        """A fixed episode of ``params`` with uniformly random actions (its own seeds: the same for every
        method and every evaluation of a seed)."""
        env = self.family.make(**params)
        rng = np.random.default_rng(seed)
        obs, _ = env.reset(seed=seed)
        rows: list[tuple[Any, Any, Any]] = []
        for _ in range(self.cfg.eval.episode_steps):
            act = rng.uniform(self.low, self.high).astype(np.float32)
            nxt, _, terminated, _, _ = env.step(act)
            rows.append((obs, act, nxt))
            obs = nxt
            if terminated:
                break
        env.close()
        return {k: torch.as_tensor(np.asarray(v, dtype=np.float32)) for k, v in
                zip(("obs", "act", "next_obs"), zip(*rows))}  # fmt: skip

    def error_after_window(self, params: dict[str, Any], label: int, seed: int) -> float:
        """The ``eval.horizon``-step error on a fixed episode of ``params`` after a copy of the learner has
        observed its first ``eval.window`` transitions (the learner itself is untouched)."""
        ev = self.cfg.eval
        episode = self.eval_episode(params, seed)
        if episode["obs"].shape[0] < ev.window + ev.horizon:
            return math.nan
        learner = copy.deepcopy(self.learner)
        learner.reset()
        for i in range(ev.window):
            learner.observe(episode["obs"][i].numpy(), episode["act"][i].numpy(),
                            episode["next_obs"][i].numpy(), label)  # fmt: skip
        with torch.no_grad():
            theta = learner.params()
            rest = {k: v[ev.window :] for k, v in episode.items()}
            return prediction_error(self.model, theta, rest, ev.horizon)

    def evaluate(self) -> dict[str, Any]:
        """Multi-step error on every situation and held-out setting, and the identification metrics."""
        base = self.env_seed + 3_000_000
        n = len(self.stream.situations)
        with seeded(self.objective.generator, base):
            situ = [self.error_after_window(dict(p), i, base + i)
                    for i, p in enumerate(self.stream.situations)]  # fmt: skip
            held = [self.error_after_window(dict(p), n + j, base + 1000 + j)
                    for j, p in enumerate(self.stream.held_out)]  # fmt: skip
        true, inferred = rle_decode(self.true_rle), rle_decode(self.inferred_rle)
        switches = [s for s in self.stream.switch_steps() if s < true.shape[0]]  # (all, at the stream's end)
        ident = identification_summary(true, inferred, switches) if self.cfg.method in SITUATED else {}
        return {
            "pred_error": float(np.nanmean(situ)),
            "pred_error_held_out": float(np.nanmean(held)) if held else math.nan,
            "pred_error_by_situation": situ,
            "pred_error_by_held_out": held,
            "identification": ident,
        }

    # --------------------------------------------------------------------------------------- outputs
    def watch_tasks(self) -> list[str]:
        """The stream's situations, once the warm-up is over (before, nothing has been learned)."""
        if self.t < self.cfg.warmup_steps:
            return []
        return [Task.create(self.stream.family, p).label for p in self.stream.situations]

    def watch(self, camera: Camera, task: int, episodes: int) -> None:
        """Episodes of situation ``task`` from fixed start states, planned with a copy of the learner that
        identifies or adapts online as it plays (no training, no data kept; the learner is untouched)."""
        env = gym.wrappers.TimeLimit(
            self.family.make(**self.stream.situations[task]), self.stream.episode_steps
        )
        holder = SimpleNamespace(env=env)
        learner, params = copy.deepcopy(self.learner), self.objective.params
        base = self.env_seed + 4_000_000 + 1000 * task
        try:
            with camera.filming(holder), seeded(self.objective.generator, base):
                for k in range(episodes):
                    obs, _ = holder.env.reset(seed=base + k)
                    self.agent.reset()
                    learner.reset()
                    while True:
                        if self.agent.plans_next:
                            self.objective.params = learner.params()
                        act = self.agent.act(obs)
                        nxt, _, terminated, truncated, _ = holder.env.step(act)
                        learner.observe(obs, act, nxt, task)
                        obs = nxt
                        if terminated or truncated:
                            break
        finally:
            self.objective.params = params
            env.close()

    def console(self, row: dict[str, Any]) -> str:
        return (
            f"ep {row['episode']} step {row['env_steps']}/{self.stream.total_steps} situation "
            f"{row['situation']} inferred {row['inferred']} library {row['library_size']} return "
            f"{row['train/return']:.1f} plan {row['planner/ms_per_step']:.1f} ms ident "
            f"{row['ident/ms_per_step']:.2f} ms"
        )

    def summary(self) -> dict[str, Any]:
        cfg = self.cfg
        post = [r for r, s in zip(self.returns, self.episode_starts()) if s >= cfg.warmup_steps]
        by_situation: dict[str, list[float]] = {}
        for r, s, start in zip(self.returns, self.episode_situations, self.episode_starts()):
            if start >= cfg.warmup_steps:
                by_situation.setdefault(self.stream.names[s], []).append(r)
        return {
            "kind": "labelfree", "preset": self.preset, "stream": cfg.stream, "method": cfg.method,
            "seed": cfg.seed, "env_steps": self.t, "episodes": self.episode,
            "average_return": float(np.mean(post)) if post else math.nan,
            "return_by_situation": {k: float(np.mean(v)) for k, v in by_situation.items()},
            "returns": self.returns, "episode_situations": self.episode_situations,
            "library_sizes": self.library_sizes, "situations": len(self.stream.situations),
            **{k: v for k, v in self.final.items()},
            "train_sessions": len(self.train_cpu_s), "learner_params": learner_size(self.learner),
            "warmup_steps": cfg.warmup_steps, "switch_steps": list(self.stream.switch_steps()),
            "true_rle": self.true_rle, "inferred_rle": self.inferred_rle,
            "one_step_errors": [float(f"{e:.5g}") for e in self.errors],
        }  # fmt: skip

    def episode_starts(self) -> list[int]:
        starts = list(self.stream.episode_starts())
        return starts[: len(self.returns)]
