"""Imagined rollouts: propagation modes, termination, NaN handling, determinism."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from dynadapt.errors import DynadaptError
from dynadapt.planning import PredictFn, Propagation, imagine
from dynadapt.planning.rollout import RewardFn


def offset_predict(params: dict[str, Tensor], obs: Tensor, act: Tensor) -> tuple[Tensor, None]:
    """Member e moves x by ``c[e] + a``: ``[E, N, 1] -> [E, N, 1]``."""
    c = params["c"]  # [E]
    return obs + c[:, None, None] + act, None


def next_x_reward(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    return next_obs[..., 0]


def one_reward(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    return torch.ones(next_obs.shape[:-1], dtype=next_obs.dtype, device=next_obs.device)


def test_termination_stops_accumulating_and_counts_the_terminating_step() -> None:
    params = {"c": torch.tensor([1.0])}

    def done_at_3(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
        return next_obs[..., 0] >= 3

    actions = torch.zeros(2, 10, 1)
    actions[1] = 1.0  # moves 2 per step: terminates at step 2 (x = 4)
    for prop in ("ts_inf", "ts1", "expectation"):
        ret = imagine(
            offset_predict,
            params,
            torch.zeros(1),
            actions,
            one_reward,
            done_at_3,
            propagation=prop,
            particles=3,
        )
        assert ret.tolist() == [3.0, 2.0], prop


def test_nan_after_termination_does_not_spoil_the_return() -> None:
    def explode(params: dict[str, Tensor], obs: Tensor, act: Tensor) -> tuple[Tensor, None]:
        nxt = obs + 1
        return torch.where(obs >= 2, torch.full_like(obs, torch.nan), nxt), None

    def done_at_2(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
        return next_obs[..., 0] >= 2

    ret = imagine(explode, {"c": torch.zeros(1)}, torch.zeros(1), torch.zeros(1, 6, 1), one_reward, done_at_2)
    assert ret.tolist() == [2.0]


@pytest.mark.parametrize("prop", ["ts_inf", "ts1", "expectation"])
def test_nan_and_inf_returns_become_minus_inf(prop: Propagation) -> None:
    def unstable(params: dict[str, Tensor], obs: Tensor, act: Tensor) -> tuple[Tensor, None]:
        nxt = obs + act
        nxt = torch.where(act > 0.5, torch.full_like(nxt, torch.nan), nxt)
        return torch.where(act < -0.5, torch.full_like(nxt, torch.inf), nxt), None

    actions = torch.zeros(3, 4, 1)
    actions[1, 2] = 1.0
    actions[2, 3] = -1.0
    ret = imagine(
        unstable,
        {"c": torch.zeros(2)},
        torch.zeros(1),
        actions,
        next_x_reward,
        None,
        propagation=prop,
        particles=2,
    )
    assert ret[0] == 0.0
    assert ret[1] == -torch.inf and ret[2] == -torch.inf


@pytest.mark.parametrize("particles", [3, 6, 4, 1])
def test_ts_inf_assigns_member_p_mod_e_for_the_whole_horizon(particles: int) -> None:
    c = torch.tensor([1.0, 2.0, 5.0])
    H = 4
    actions = torch.randn(5, H, 1)
    ret = imagine(offset_predict, {"c": c}, torch.zeros(1), actions, next_x_reward, None, particles=particles)
    # Particle p follows member p % E: x_t = sum_{j<=t} (c + a_j); reward is x_{t+1}.
    expected = torch.zeros(5)
    for p in range(particles):
        x = torch.cumsum(c[p % 3] + actions[..., 0], dim=1)
        expected += x.sum(dim=1) / particles
    torch.testing.assert_close(ret, expected)


def test_expectation_moves_to_the_mean_of_the_members_means() -> None:
    c = torch.tensor([1.0, 2.0, 6.0])
    actions = torch.randn(4, 3, 1)

    def square_predict(params: dict[str, Tensor], obs: Tensor, act: Tensor) -> tuple[Tensor, Tensor]:
        # Nonlinear in the state, so that mean-of-members differs from per-member propagation; std ignored.
        return obs.square() * 0.1 + params["c"][:, None, None] + act, torch.ones_like(obs)

    ret = imagine(
        square_predict, {"c": c}, torch.zeros(1), actions, next_x_reward, None, propagation="expectation"
    )
    x = torch.zeros(4)
    expected = torch.zeros(4)
    for t in range(3):
        x = x.square() * 0.1 + c.mean() + actions[:, t, 0]
        expected += x
    torch.testing.assert_close(ret, expected)


def test_ts1_redraws_members_at_every_step() -> None:
    # Two members moving by 0 and 2; reward x'^2. TS-inf: particles keep their member, every candidate
    # returns (0 + 0 + 4 + 16) / 2 = 10. TS1: at step 1 the members are swapped for about half of the
    # candidates, which then return (0 + 4 + 4 + 4) / 2 = 6.
    c = torch.tensor([0.0, 2.0])

    def square_reward(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
        return next_obs[..., 0].square()

    actions = torch.zeros(400, 2, 1)
    g = torch.Generator().manual_seed(0)
    ts_inf = imagine(offset_predict, {"c": c}, torch.zeros(1), actions, square_reward, None, particles=2)
    assert set(ts_inf.tolist()) == {10.0}
    ts1 = imagine(
        offset_predict,
        {"c": c},
        torch.zeros(1),
        actions,
        square_reward,
        None,
        propagation="ts1",
        particles=2,
        generator=g,
    )
    assert set(ts1.tolist()) == {10.0, 6.0}
    assert 0.35 < (ts1 == 6.0).float().mean() < 0.65


def gaussian_predict(params: dict[str, Tensor], obs: Tensor, act: Tensor) -> tuple[Tensor, Tensor]:
    """Member e: next ~ N(obs + c[e] + a, s[e]^2)."""
    mean = obs + params["c"][:, None, None] + act
    return mean, params["s"][:, None, None].expand_as(mean)


@pytest.mark.parametrize("prop", ["ts_inf", "ts1"])
def test_gaussian_members_are_sampled_from_the_generator(prop: Propagation) -> None:
    params = {"c": torch.tensor([0.0, 1.0]), "s": torch.tensor([1.0, 2.0])}
    actions = torch.zeros(3, 5, 1)

    def run(seed: int) -> Tensor:
        g = torch.Generator().manual_seed(seed)
        return imagine(
            gaussian_predict,
            params,
            torch.zeros(1),
            actions,
            next_x_reward,
            None,
            propagation=prop,
            particles=4,
            generator=g,
        )

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))
    assert len(set(run(1).tolist())) == 3  # candidates get independent noise


def test_gaussian_ts_inf_statistics() -> None:
    # x_H = sum of H steps of N(c_e, s_e^2): return = sum_t x_t has mean sum_t t * c_e.
    params = {"c": torch.tensor([0.0, 1.0]), "s": torch.tensor([0.5, 0.5])}
    H = 3
    g = torch.Generator().manual_seed(0)
    ret = imagine(
        gaussian_predict,
        params,
        torch.zeros(1),
        torch.zeros(2000, H, 1),
        next_x_reward,
        None,
        particles=2,
        generator=g,
    )
    expected = 0.5 * (1 + 2 + 3)  # member 1 contributes 6, member 0 zero, averaged
    assert abs(ret.mean().item() - expected) < 0.05
    # Variance of the mean of two particles: Var(sum_t x_t) = s^2 (9 + 4 + 1) per particle, / 2.
    assert abs(ret.var().item() - 0.25 * 14 / 2) < 0.3


def reference_ts_inf(
    predict: PredictFn,
    params: dict[str, Tensor],
    obs0: Tensor,
    actions: Tensor,
    reward_fn: RewardFn,
    particles: int,
) -> Tensor:
    """Slow reference: one particle at a time with its member's params (deterministic models)."""
    E = next(iter(params.values())).shape[0]
    B, H, _ = actions.shape
    total = torch.zeros(B)
    for p in range(particles):
        member = {k: v[p % E : p % E + 1] for k, v in params.items()}
        obs = obs0.expand(1, B, obs0.shape[0])
        for t in range(H):
            act = actions[:, t].unsqueeze(0)
            nxt, _ = predict(member, obs, act)
            total += reward_fn(obs, act, nxt)[0] / particles
            obs = nxt
    return total


def test_ts_inf_equals_per_particle_reference_on_a_nonlinear_ensemble() -> None:
    g = torch.Generator().manual_seed(0)
    E, O, A, Hd = 3, 4, 2, 16
    params = {
        "w1": torch.randn(E, O + A, Hd, generator=g) * 0.5,
        "w2": torch.randn(E, Hd, O, generator=g) * 0.5,
    }

    def mlp(params: dict[str, Tensor], obs: Tensor, act: Tensor) -> tuple[Tensor, None]:
        h = torch.tanh(torch.cat([obs, act], -1) @ params["w1"])
        return obs + h @ params["w2"], None

    def reward(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
        return -next_obs.square().sum(-1) - 0.1 * act.square().sum(-1)

    obs0 = torch.randn(O, generator=g)
    actions = torch.randn(7, 5, A, generator=g)
    for particles in (3, 5, 9):
        fast = imagine(mlp, params, obs0, actions, reward, None, particles=particles)
        torch.testing.assert_close(fast, reference_ts_inf(mlp, params, obs0, actions, reward, particles))


def test_single_model_and_input_validation() -> None:
    params = {"c": torch.tensor([1.0])}
    ret = imagine(
        offset_predict, params, torch.zeros(1), torch.ones(2, 3, 1), next_x_reward, None, particles=1
    )
    assert ret.tolist() == [12.0, 12.0]  # x = 2, 4, 6
    with pytest.raises(DynadaptError):
        imagine(offset_predict, params, torch.zeros(1), torch.ones(3, 1), next_x_reward, None)
    with pytest.raises(DynadaptError):
        imagine(
            offset_predict,
            params,
            torch.zeros(1),
            torch.ones(2, 3, 1),
            next_x_reward,
            None,
            propagation="dS",  # type: ignore[arg-type]
        )
    with pytest.raises(DynadaptError):
        imagine(offset_predict, params, torch.zeros(1), torch.ones(2, 3, 1), next_x_reward, None, particles=0)


def test_gradients_flow_through_the_rollout() -> None:
    params = {"c": torch.tensor([0.0, 1.0]), "s": torch.tensor([0.1, 0.1])}
    actions = torch.zeros(2, 3, 1, requires_grad=True)
    g = torch.Generator().manual_seed(0)
    ret = imagine(
        gaussian_predict, params, torch.zeros(1), actions, next_x_reward, None, particles=4, generator=g
    )
    ret.sum().backward()
    assert actions.grad is not None
    # d/da_t of sum_t x_{t+1} = H - t.
    torch.testing.assert_close(actions.grad[0, :, 0], torch.tensor([3.0, 2.0, 1.0]))


def _gaussian_ensemble(params: dict[str, torch.Tensor], obs: torch.Tensor, act: torch.Tensor):
    """A stochastic ensemble ``[E, N, ·]`` in float64: one hidden layer per member, mean and std heads."""
    x = torch.cat([obs, act.expand(*obs.shape[:-1], act.shape[-1])], dim=-1)
    h = torch.tanh(torch.einsum("eni,eih->enh", x, params["w1"]))
    mean = obs + torch.einsum("enh,eho->eno", h, params["w2"])
    std = torch.nn.functional.softplus(torch.einsum("enh,eho->eno", h, params["w3"])) + 1e-3
    return mean, std


def _gaussian_ensemble_params(E: int, O: int, A: int, Hd: int, g: torch.Generator) -> dict[str, Tensor]:
    """Random float64 weights of :func:`_gaussian_ensemble`."""
    return {
        "w1": torch.randn(E, O + A, Hd, generator=g, dtype=torch.float64),
        "w2": 0.1 * torch.randn(E, Hd, O, generator=g, dtype=torch.float64),
        "w3": 0.1 * torch.randn(E, Hd, O, generator=g, dtype=torch.float64),
    }


@pytest.mark.parametrize("propagation", ["ts_inf", "ts1", "expectation"])
def test_a_memory_budget_chunks_the_rows_with_the_same_noise_and_returns(propagation: str) -> None:
    from dynadapt.planning.rollout import ROW_BYTES

    g = torch.Generator().manual_seed(0)
    E, O, A = 3, 4, 2
    params = _gaussian_ensemble_params(E, O, A, 16, g)
    calls: list[int] = []

    def predict(p: dict[str, torch.Tensor], obs: torch.Tensor, act: torch.Tensor):
        calls.append(obs.shape[-2])
        return _gaussian_ensemble(p, obs, act)

    obs0 = torch.randn(O, generator=g, dtype=torch.float64)
    actions = torch.rand(25, 6, A, generator=g, dtype=torch.float64) * 2 - 1

    def returns(memory_bytes: int) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(7)
        ret = imagine(
            predict, params, obs0, actions, lambda o, a, n: -(n**2).sum(-1), None,
            propagation=propagation, particles=5, generator=gen, memory_bytes=memory_bytes,
        )  # fmt: skip
        return ret, gen.get_state()

    whole, whole_state = returns(0)
    assert max(calls) > 7
    calls.clear()
    chunked, chunked_state = returns(E * ROW_BYTES * 7)  # at most 7 rows per member at a time
    assert max(calls) == 7
    # the same returns up to float64 rounding (a matrix product's kernel may block other row counts
    # differently), and the same noise draws
    torch.testing.assert_close(chunked, whole, rtol=1e-12, atol=0.0)
    assert torch.equal(chunked_state, whole_state)


@pytest.mark.parametrize("propagation", ["ts_inf", "expectation"])
def test_a_memory_budget_also_chunks_the_reward_termination_and_terminal_value(propagation: str) -> None:
    """Learned reward heads, termination heads and critics are networks: under a memory budget they see at
    most the budget's rows at a time, and the returns are those of the unchunked rollout."""
    from dynadapt.planning.rollout import ROW_BYTES, TerminalValue

    g = torch.Generator().manual_seed(1)
    E, O, A, Hd = 2, 3, 1, 8
    params = _gaussian_ensemble_params(E, O, A, Hd, g)
    head = torch.randn(2 * O + A, Hd, generator=g, dtype=torch.float64)
    seen: dict[str, list[int]] = {"reward": [], "done": [], "value": []}

    def reward(o: Tensor, a: Tensor, n: Tensor) -> Tensor:
        seen["reward"].append(n.shape[-2])
        x = torch.cat([o, a.expand(*o.shape[:-1], A), n], dim=-1)
        return torch.tanh(x @ head).sum(-1)

    def done(o: Tensor, a: Tensor, n: Tensor) -> Tensor:
        seen["done"].append(n.shape[-2])
        return n[..., 0] > 3.0

    def value(s: Tensor) -> Tensor:
        seen["value"].append(s.shape[-2])
        return -(s**2).sum(-1)

    obs0 = torch.randn(O, generator=g, dtype=torch.float64)
    actions = torch.rand(20, 5, A, generator=g, dtype=torch.float64) * 2 - 1

    def returns(memory_bytes: int) -> Tensor:
        for v in seen.values():
            v.clear()
        return imagine(
            _gaussian_ensemble, params, obs0, actions, reward, done, propagation=propagation,
            particles=4, generator=torch.Generator().manual_seed(3), memory_bytes=memory_bytes,
            terminal=TerminalValue(value, 0.9),
        )  # fmt: skip

    whole = returns(0)
    assert all(max(v) > 6 for v in seen.values())
    chunked = returns(E * ROW_BYTES * 6)  # at most 6 rows per member at a time
    assert {k: max(v) for k, v in seen.items()} == {"reward": 6, "done": 6, "value": 6}
    torch.testing.assert_close(chunked, whole, rtol=1e-12, atol=0.0)
