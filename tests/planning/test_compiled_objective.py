"""``mpc.compile``: the imagined rollout through ``torch.compile`` gives the eager returns (same noise), and
is compiled once per predict/reward, not per plan step (CPU here; the same path serves a GPU)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from dynadapt.errors import DynadaptError
from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.planning.mpc import MPCConfig
from dynadapt.planning.objective import ModelObjective


def cost(o: Tensor, a: Tensor, n: Tensor) -> Tensor:
    return -(n**2).sum(-1) - 0.1 * (a**2).sum(-1)


def test_the_compiled_rollout_returns_the_eager_returns_and_compiles_once_per_model() -> None:
    model = DynamicsModel(
        3,
        1,
        ModelConfig(ensemble_size=2, hidden=(8,), head="gaussian"),
        generator=torch.Generator().manual_seed(1),
    )
    params = {k: v.detach() for k, v in model.params.items()}
    actions = torch.rand(6, 4, 1, generator=torch.Generator().manual_seed(2)) * 2 - 1
    obs = torch.randn(3, generator=torch.Generator().manual_seed(3))
    returns = {}
    for compiled in (False, True):
        objective = ModelObjective(
            model.predict, MPCConfig(horizon=4, particles=4, compile=compiled),
            torch.Generator().manual_seed(5), cost, None, params,
        )  # fmt: skip
        returns[compiled] = [objective(obs)(actions) for _ in range(3)]
        if compiled:
            first = objective._compiled
            objective(obs)(actions)
            assert objective._compiled is first  # the same compiled rollout for every plan step
            objective.reward_fn = lambda o, a, n: cost(o, a, n) + 1.0
            objective(obs)(actions)
            assert objective._compiled is not first  # a new reward: compiled anew
    for eager, comp in zip(returns[False], returns[True], strict=True):
        # the noise stream is the generator's in both; fused kernels may round the last bits differently
        torch.testing.assert_close(comp, eager, rtol=1e-5, atol=1e-4)
    assert not torch.equal(returns[False][0], returns[False][1])  # each plan step draws fresh noise


def test_compile_must_be_a_boolean() -> None:
    with pytest.raises(DynadaptError, match="compile must be true or false"):
        MPCConfig(compile="yes")  # type: ignore[arg-type]
