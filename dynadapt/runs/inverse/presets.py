"""Presets of kinds ``inverse`` and ``goal-reach`` on the reacher.

* ``inverse-reacher`` (one step), ``inverse-nstep-reacher`` (first action over 5 steps),
  ``inverse-chunk-reacher`` (the 5 actions), ``action-free-reacher`` (the next 5 states): 3 iterations of
  20 random episodes (1000 transitions each), a 2x200 ReLU network, 2000 Adam steps per fit with weight
  decay 1e-3 (without it the 5-step model overfits: held-out error 0.34 against 0.20 with it, least
  squares 0.30; reach 0.92 vs 0.88, seed 0), 50 reach trials (success: within 0.1 standard deviations,
  RMS over the observation); ``-paper``: 5 iterations of 100 episodes, 3x256, 10000 steps, 200 trials.
* ``goal-reacher``: goals 10 steps away (0.2 s); the 10-step inverse model (first action, replanned every
  step with the steps left) against MPC on a 5x(2x200) ensemble (CEM 200/20/3 over H 10, 5 particles) and
  random actions, 50 goals with 20 steps each (success: the fingertip within 2 cm of the goal's);
  ``-paper``: the PETS reacher model and planner (5x(4x200), CEM 400/40/5, 20 particles; Chua et al. 2018,
  reference §1.2) and 200 goals.
"""

from __future__ import annotations

import functools

from dynadapt.models.dynamics import ModelConfig
from dynadapt.models.inverse import Kind, Output, SegmentModelConfig
from dynadapt.planning.cem import CEMConfig
from dynadapt.planning.mpc import MPCConfig
from dynadapt.runs.inverse.goal import GoalReachConfig
from dynadapt.runs.inverse.loop import InverseConfig
from dynadapt.runs.preset import preset
from dynadapt.runs.settings import OneTask


def _model(kind: Kind, n: int, output: Output, paper: bool) -> SegmentModelConfig:
    hidden, steps = ((256, 256, 256), 10_000) if paper else ((200, 200), 2000)
    return SegmentModelConfig(
        kind=kind, n=n, output=output, hidden=hidden, train_steps=steps, weight_decay=1e-3
    )


def _inverse(kind: Kind, n: int, output: Output, paper: bool) -> InverseConfig:
    iterations, episodes, reach = (5, 100, 200) if paper else (3, 20, 50)
    return InverseConfig(
        task=OneTask(env="reacher"), iterations=iterations, episodes_per_iter=episodes, reach=reach,
        tolerance=0.1, model=_model(kind, n, output, paper),
    )  # fmt: skip


_KINDS: dict[str, tuple[Kind, int, Output, str]] = {
    "inverse": ("inverse", 1, "first", "one-step inverse model p(a_t | s_t, s_t+1)"),
    "inverse-nstep": ("inverse", 5, "first", "5-step inverse model of the first action p(a_t | s_t, s_t+5)"),
    "inverse-chunk": ("inverse", 5, "chunk", "5-step inverse model of the chunk p(a_t:t+5 | s_t, s_t+5)"),
    "action-free": ("action_free", 5, "first", "action-free 5-step prediction p(s_t+1:t+5 | s_t)"),
}

for _name, (_kind, _n, _output, _what) in _KINDS.items():
    for _paper in (False, True):
        preset(
            f"{_name}-reacher{'-paper' if _paper else ''}",
            "inverse",
            f"{_what} on the reacher from random play ({'paper' if _paper else 'CPU'}-scale)",
        )(functools.partial(_inverse, _kind, _n, _output, _paper))


def _goal(paper: bool) -> GoalReachConfig:
    base = _inverse("inverse", 10, "first", paper)
    model = ModelConfig(ensemble_size=5, hidden=(200,) * (4 if paper else 2), batch_size=32 if paper else 64)
    planner = CEMConfig(population=400, elites=40, iterations=5) if paper else CEMConfig(200, 20, 3)
    return GoalReachConfig(
        task=base.task, iterations=base.iterations, episodes_per_iter=base.episodes_per_iter, reach=0,
        goal_tolerance=0.02, model=base.model, goals=200 if paper else 50, dynamics=model,
        planner=planner, mpc=MPCConfig(horizon=10, particles=20 if paper else 5),
    )  # fmt: skip


preset("goal-reacher", "goal-reach", "Reacher goals 10 steps away: 10-step inverse model vs MPC vs random")(
    lambda: _goal(False)
)
preset(
    "goal-reacher-paper",
    "goal-reach",
    "goal-reacher with PETS's reacher ensemble and CEM (5x(4x200), 400/40/5, 20 particles), 200 goals",
)(lambda: _goal(True))
