"""The MPC agent: warm start by shifting, replanning every k steps, reset, timing, state round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from dynadapt.errors import DynadaptError
from dynadapt.planning import (
    CEMConfig,
    MPCAgent,
    MPCConfig,
    Objective,
    Planner,
    PlannerConfig,
    build_planner,
    planner_config,
)

from .problems import DT, point_mass_objective


class ScriptedPlanner(Planner):
    """Returns plans counting up from 10 * call index, and records what it was given."""

    name = "scripted"

    def __init__(self, horizon: int) -> None:
        super().__init__(
            PlannerConfig(), torch.tensor([-100.0]), torch.tensor([100.0]), horizon, torch.Generator()
        )
        self.calls: list[tuple[Tensor, Tensor | None]] = []
        self.shifts: list[int] = []
        self.resets = 0

    def _plan(self, objective: Objective, warm_start: Tensor | None) -> Tensor:
        self.calls.append((objective(torch.zeros(1, self.horizon, 1)), warm_start))
        start = 10.0 * len(self.calls)
        return (start + torch.arange(self.horizon, dtype=torch.float32)).unsqueeze(-1)

    def shift(self, steps: int) -> None:
        self.shifts.append(steps)

    def reset(self) -> None:
        self.resets += 1


def obs_objective(obs: Tensor) -> Objective:
    return lambda actions: obs[0].expand(actions.shape[0])


def test_replans_every_k_steps_with_the_shifted_plan_as_warm_start() -> None:
    planner = ScriptedPlanner(horizon=5)
    agent = MPCAgent(planner, obs_objective, 5, 1, np.array([-100.0]), np.array([100.0]), replan_every=2)
    actions = [agent.act(np.array([float(t)]))[0] for t in range(5)]
    assert actions == [10.0, 11.0, 20.0, 21.0, 30.0]
    # Objectives were built from the observation at the planning steps 0, 2, 4.
    assert [c[0].item() for c in planner.calls] == [0.0, 2.0, 4.0]
    assert planner.calls[0][1] is None
    warm = planner.calls[1][1]
    assert warm is not None
    assert warm[:, 0].tolist() == [12.0, 13.0, 14.0, 0.0, 0.0]  # shifted by 2, midpoint 0 appended
    assert planner.shifts == [2, 2]
    assert agent.num_plans == 3 and agent.last_plan_ms > 0 and agent.mean_plan_ms > 0
    agent.reset()
    assert planner.resets == 1 and agent.plan is None
    assert agent.act(np.array([7.0]))[0] == 40.0
    assert planner.calls[-1][1] is None


def test_executed_action_is_clipped_to_the_agent_bounds() -> None:
    agent = MPCAgent(ScriptedPlanner(horizon=3), obs_objective, 3, 1, np.array([-1.0]), np.array([1.0]))
    action = agent.act(np.zeros(1))
    assert action.dtype == np.float32 and action.tolist() == [1.0]


def test_state_round_trip_resumes_exactly() -> None:
    def make() -> MPCAgent:
        planner = build_planner(
            CEMConfig(population=30, elites=5, iterations=2),
            -torch.ones(1),
            torch.ones(1),
            6,
            torch.Generator().manual_seed(0),
        )
        return MPCAgent(planner, point_mass_objective, 6, 1, -np.ones(1), np.ones(1), replan_every=3)

    a = make()
    a.act(np.array([0.5, 0.0]))
    state = a.state_dict()
    b = make()
    b.load_state_dict(state)
    # Both execute the stored plan's next action without replanning.
    assert np.array_equal(a.act(np.array([0.5, 0.0])), b.act(np.array([0.5, 0.0])))
    with pytest.raises(DynadaptError):
        b.load_state_dict({"plan": torch.zeros(3, 1), "step": torch.tensor(0)})


def test_mpc_with_cem_drives_the_point_mass_to_the_origin() -> None:
    planner = build_planner(
        CEMConfig(population=200, elites=20, iterations=4),
        -torch.ones(1),
        torch.ones(1),
        15,
        torch.Generator().manual_seed(0),
    )
    agent = MPCAgent(planner, point_mass_objective, 15, 1, -np.ones(1), np.ones(1))
    x, v = 1.0, 0.0
    for _ in range(60):
        a = float(agent.act(np.array([x, v], dtype=np.float32))[0])
        v += DT * a
        x += DT * v
    assert abs(x) < 0.05 and abs(v) < 0.1


def test_config_validation() -> None:
    assert MPCConfig().propagation == "ts_inf"
    with pytest.raises(DynadaptError, match="replan_every"):
        MPCConfig(horizon=3, replan_every=4)
    with pytest.raises(DynadaptError, match="propagation"):
        MPCConfig(propagation="mm")  # type: ignore[arg-type]
    with pytest.raises(DynadaptError, match="particles"):
        MPCConfig(particles=0)
    with pytest.raises(DynadaptError, match="horizon"):
        MPCAgent(ScriptedPlanner(horizon=3), obs_objective, 4, 1, -np.ones(1), np.ones(1))


@pytest.mark.parametrize("name", ["icem", "mppi", "cem"])
def test_exact_resume_through_a_safetensors_file(name: str, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    def make(seed: int) -> MPCAgent:
        extra = {"elites": 5} if name == "cem" else {}
        cfg = planner_config(name, population=30, iterations=2, **extra)
        planner = build_planner(cfg, -torch.ones(1), torch.ones(1), 8, torch.Generator().manual_seed(seed))
        return MPCAgent(planner, point_mass_objective, 8, 1, -np.ones(1), np.ones(1), replan_every=2)

    def run(agent: MPCAgent, obs: np.ndarray, steps: int) -> tuple[list[float], np.ndarray]:
        actions = []
        for _ in range(steps):
            a = float(agent.act(obs)[0])
            actions.append(a)
            obs = np.array([obs[0] + DT * (obs[1] + DT * a), obs[1] + DT * a], dtype=np.float32)
        return actions, obs

    a = make(0)
    _, obs = run(a, np.array([1.0, 0.0], dtype=np.float32), 3)
    state = {**a.state_dict(), "generator": a.planner.generator.get_state()}
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "agent.safetensors"))
    expected, _ = run(a, obs, 5)

    b = make(123)
    loaded = load_file(str(tmp_path / "agent.safetensors"))
    b.planner.generator.set_state(loaded.pop("generator"))
    b.load_state_dict(loaded)
    resumed, _ = run(b, obs, 5)
    assert resumed == expected
