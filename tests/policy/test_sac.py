"""SAC: target update, temperature gradient and squashed log-density against hand computations."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from dynadapt.errors import CorruptFileError, DynadaptError
from dynadapt.nets import mlp
from dynadapt.policy import sac as sac_module
from dynadapt.policy.sac import SAC, SACConfig, log1m_tanh_sq, polyak_update, squashed_log_prob

EPS64 = torch.finfo(torch.float64).eps


@pytest.fixture
def float64(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Build and run the agent in float64 (networks, temperature, batches), so that values computed by
    hand agree to a few hundred float64 ulps on any CPU."""
    monkeypatch.setattr(sac_module, "init_params", functools.partial(mlp.init_params, dtype=torch.float64))
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _agent(seed: int = 0, **kw: object) -> SAC:
    cfg = SACConfig(hidden=(16, 16), batch_size=8, **kw)  # type: ignore[arg-type]
    return SAC(3, 2, [-2.0, -1.0], [2.0, 3.0], cfg, generator=torch.Generator().manual_seed(seed))


def _batch(n: int = 8, seed: int = 1) -> dict[str, torch.Tensor]:
    """A batch in the default dtype; rewards are float32 values (``SAC.update`` reads them as float32)."""
    g = torch.Generator().manual_seed(seed)
    return {
        "obs": torch.randn(n, 3, generator=g),
        "act": torch.rand(n, 2, generator=g) * torch.tensor([4.0, 4.0]) - torch.tensor([2.0, 1.0]),
        "reward": torch.randn(n, generator=g).float().to(torch.get_default_dtype()),
        "next_obs": torch.randn(n, 3, generator=g),
        "terminated": torch.tensor([True, False] * (n // 2)),
    }


def _mlp_by_hand(params: dict[str, torch.Tensor], x: list[float]) -> list[float]:
    """A ReLU MLP with weights ``[in, out]`` evaluated on one input, in Python floats."""
    h = list(x)
    n = len(params) // 2
    for i in range(n):
        w, b = params[f"layers.{i}.weight"].tolist(), params[f"layers.{i}.bias"].tolist()
        h = [sum(h[a] * w[a][j] for a in range(len(h))) + b[j] for j in range(len(b))]
        if i < n - 1:
            h = [max(v, 0.0) for v in h]
    return h


def _policy_by_hand(
    agent: SAC, actor: dict[str, torch.Tensor], obs: list[float], eps: list[float]
) -> tuple[list[float], float]:
    """Squashed-Gaussian sample and its log-density by hand: ``u = μ + σ ε``, ``ã = tanh u``,
    ``log π = Σ_i [log N(u_i; μ_i, σ_i) − log(1 − tanh² u_i)]`` (log σ clamped)."""
    out = _mlp_by_hand(actor, obs)
    a_dim = len(out) // 2
    lo, hi = agent.cfg.log_std_min, agent.cfg.log_std_max
    acts, logp = [], 0.0
    for i in range(a_dim):
        mu, log_std = out[i], min(max(out[a_dim + i], lo), hi)
        u = mu + math.exp(log_std) * eps[i]
        acts.append(math.tanh(u))
        logp += -0.5 * eps[i] ** 2 - log_std - 0.5 * math.log(2 * math.pi) - math.log(1 - math.tanh(u) ** 2)
    return acts, logp


def _q_by_hand(critic: dict[str, torch.Tensor], obs: list[float], unit_act: list[float]) -> list[float]:
    """Both critics' values of one (obs, unit action)."""
    return [_mlp_by_hand({k: v[j] for k, v in critic.items()}, obs + unit_act)[0] for j in range(2)]


def test_critic_target_and_the_losses_by_hand(float64: None) -> None:
    """The soft Bellman target y = r + γ(1 − d)(min_j Q̄_j(s', ã') − α log π(ã'|s')), the critic loss
    Σ_j ½ mean (Q_j(s, ã) − y)², the actor loss mean(α log π(ã|s) − min_j Q_j(s, ã)) with the critics just
    updated, and the temperature loss −mean(log α (log π + H̄)), all by hand in float64 with the agent's
    own noise draws."""
    # γ = 0.5 and float32 rewards: ``SAC.update`` reads rewards and terminations as float32, so that
    # γ (1 − d) is a float32 product; these values make it exact
    agent = _agent(init_alpha=0.3, gamma=0.5, tau=0.2)
    agent.update(_batch(seed=5))  # the target critics now differ from the critics
    batch = _batch(seed=1)
    actor = {k: v.detach().clone() for k, v in agent.actor.items()}
    critic = {k: v.detach().clone() for k, v in agent.critic.items()}
    target = {k: v.detach().clone() for k, v in agent.critic_target.items()}
    log_alpha = float(agent.log_alpha.detach())
    alpha, gamma, n = math.exp(log_alpha), agent.cfg.gamma, 8
    state = agent.generator.get_state()
    noise = torch.Generator().set_state(state)
    eps1 = torch.randn(n, 2, generator=noise).tolist()  # the target's policy sample at s'
    eps2 = torch.randn(n, 2, generator=noise).tolist()  # the actor's sample at s
    obs, next_obs = batch["obs"].tolist(), batch["next_obs"].tolist()
    low, high = agent.low.tolist(), agent.high.tolist()
    y = []
    for i in range(n):
        a_next, logp_next = _policy_by_hand(agent, actor, next_obs[i], eps1[i])
        q_next = min(_q_by_hand(target, next_obs[i], a_next))
        done = float(batch["terminated"][i])
        y.append(float(batch["reward"][i]) + gamma * (1 - done) * (q_next - alpha * logp_next))
    got_y = agent.target_values(batch["reward"], batch["next_obs"], batch["terminated"].double())
    torch.testing.assert_close(got_y, torch.tensor(y), rtol=1e3 * EPS64, atol=1e3 * EPS64)
    agent.generator.set_state(state)
    metrics = agent.update(batch)
    unit = [
        [2 * (batch["act"][i, d].item() - low[d]) / (high[d] - low[d]) - 1 for d in range(2)]
        for i in range(n)
    ]
    q = [_q_by_hand(critic, obs[i], unit[i]) for i in range(n)]
    critic_loss = sum(0.5 * sum((q[i][j] - y[i]) ** 2 for i in range(n)) / n for j in range(2))
    updated = {k: v.detach() for k, v in agent.critic.items()}  # the actor is trained against these
    actor_loss = alpha_loss = 0.0
    for i in range(n):
        a_new, logp = _policy_by_hand(agent, actor, obs[i], eps2[i])
        actor_loss += (alpha * logp - min(_q_by_hand(updated, obs[i], a_new))) / n
        alpha_loss += -log_alpha * (logp + agent.target_entropy) / n
    assert metrics["sac/critic_loss"] == pytest.approx(critic_loss, rel=1e3 * EPS64)
    assert metrics["sac/actor_loss"] == pytest.approx(actor_loss, rel=1e3 * EPS64)
    assert metrics["sac/alpha_loss"] == pytest.approx(alpha_loss, rel=1e3 * EPS64)
    # the critics' step changed what the actor sees: the actor loss with the old critics is another number
    stale = (
        sum(
            alpha * _policy_by_hand(agent, actor, obs[i], eps2[i])[1]
            - min(_q_by_hand(critic, obs[i], _policy_by_hand(agent, actor, obs[i], eps2[i])[0]))
            for i in range(n)
        )
        / n
    )
    assert abs(stale - actor_loss) > 1e6 * EPS64 * abs(actor_loss)


def test_polyak_update_matches_hand_computation() -> None:
    target = {"w": torch.tensor([1.0, -2.0]), "b": torch.tensor([0.5])}
    online = {"w": torch.tensor([3.0, 2.0]), "b": torch.tensor([-0.5])}
    polyak_update(target, online, 0.25)
    # 0.25 * online + 0.75 * target
    assert torch.allclose(target["w"], torch.tensor([1.5, -1.0]))
    assert torch.allclose(target["b"], torch.tensor([0.25]))


def test_update_moves_targets_by_tau_towards_the_updated_critics(float64: None) -> None:
    agent = _agent(tau=0.1)
    agent.update(_batch())  # targets now differ from the critics
    before = {k: v.clone() for k, v in agent.critic_target.items()}
    agent.update(_batch(seed=2))
    for k, v in agent.critic_target.items():
        expected = 0.1 * agent.critic[k].detach() + 0.9 * before[k]
        torch.testing.assert_close(v, expected, rtol=16 * EPS64, atol=16 * EPS64, msg=k)
        assert not torch.allclose(v, before[k]), k


def test_target_update_interval_skips_updates() -> None:
    agent = _agent(target_update_interval=2)
    before = {k: v.clone() for k, v in agent.critic_target.items()}
    agent.update(_batch())
    assert all(torch.equal(v, before[k]) for k, v in agent.critic_target.items())
    agent.update(_batch())
    assert not all(torch.equal(v, before[k]) for k, v in agent.critic_target.items())


def test_temperature_loss_gradient_matches_hand_computation(float64: None) -> None:
    agent = _agent(init_alpha=0.5)
    logp = torch.tensor([-1.0, 0.5, 2.0, -3.5])
    loss = agent.alpha_loss(logp)
    loss.backward()
    # J = -mean(log α (log π + H̄)), H̄ = -|A| = -2  =>  dJ/dlog α = -mean(log π - 2)
    expected = -((-1.0 - 2) + (0.5 - 2) + (2.0 - 2) + (-3.5 - 2)) / 4
    assert agent.target_entropy == -2.0
    assert agent.log_alpha.grad is not None
    assert agent.log_alpha.grad.item() == pytest.approx(expected, rel=16 * EPS64)
    assert loss.item() == pytest.approx(math.log(0.5) * expected, rel=16 * EPS64)


def test_temperature_falls_when_entropy_exceeds_the_target() -> None:
    # a fresh policy has log σ ≈ 0: its entropy is far above H̄ = -10, so α must decrease
    agent = _agent(target_entropy=-10.0)
    a0 = agent.alpha
    for s in range(3):
        agent.update(_batch(seed=s))
    assert agent.alpha < a0
    frozen = _agent(learn_alpha=False)
    frozen.update(_batch())
    assert frozen.alpha == pytest.approx(1.0)


def test_log1m_tanh_sq_is_exact_and_stable() -> None:
    u = torch.linspace(-5, 5, 101, dtype=torch.float64)
    assert torch.allclose(log1m_tanh_sq(u), torch.log(1 - torch.tanh(u) ** 2), atol=1e-10)
    big = torch.tensor([30.0, -30.0, 100.0])
    out = log1m_tanh_sq(big)
    assert torch.isfinite(out).all()  # the naive form gives log(0) = -inf here
    assert torch.allclose(out, 2 * math.log(2) - 2 * big.abs(), atol=1e-5)


def test_squashed_log_prob_equals_the_change_of_variables_density() -> None:
    mean, log_std = torch.tensor([0.3], dtype=torch.float64), torch.tensor([-0.2], dtype=torch.float64)
    sigma = math.exp(-0.2)
    for a in [-0.95, -0.5, 0.0, 0.4, 0.9]:
        u = torch.tensor([math.atanh(a)], dtype=torch.float64)
        normal = math.exp(-0.5 * ((u.item() - 0.3) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
        hand = math.log(normal / (1 - a * a))  # p(a) = N(atanh a; μ, σ) / (1 - a²)
        assert squashed_log_prob(u, mean, log_std).item() == pytest.approx(hand, rel=1e-9)


def test_squashed_density_matches_monte_carlo_and_integrates_to_one() -> None:
    mean, log_std = torch.tensor([0.8]), torch.tensor([0.3])
    g = torch.Generator().manual_seed(0)
    a = torch.tanh(mean + log_std.exp() * torch.randn(400_000, 1, generator=g)).squeeze(-1)
    edges = torch.linspace(-0.99, 0.99, 34)
    hist = torch.histc(a, bins=33, min=-0.99, max=0.99) / a.numel()
    # expected mass per bin from the density (midpoint rule on a fine grid inside each bin)
    for i in range(33):
        grid = torch.linspace(edges[i].item(), edges[i + 1].item(), 201, dtype=torch.float64)[:, None]
        dens = squashed_log_prob(torch.atanh(grid), mean.double(), log_std.double()).exp()
        mass = torch.trapezoid(dens, grid.squeeze(-1)).item()
        assert hist[i].item() == pytest.approx(mass, abs=2.5e-3), i
    grid = torch.linspace(-1 + 1e-9, 1 - 1e-9, 200_001, dtype=torch.float64)[:, None]
    dens = squashed_log_prob(torch.atanh(grid), mean.double(), log_std.double()).exp()
    assert torch.trapezoid(dens, grid.squeeze(-1)).item() == pytest.approx(1.0, abs=1e-3)


def test_actions_are_rescaled_to_the_env_bounds() -> None:
    agent = _agent()
    obs = torch.randn(500, 3) * 10
    act = agent.act(obs)
    assert (act[:, 0] >= -2).all() and (act[:, 0] <= 2).all()
    assert (act[:, 1] >= -1).all() and (act[:, 1] <= 3).all()
    assert torch.allclose(
        agent.to_env(torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]])),
        torch.tensor([[-2.0, -1.0], [2.0, 3.0], [0.0, 1.0]]),
    )
    assert torch.allclose(
        agent.to_unit(agent.to_env(torch.tensor([[0.3, -0.7]]))), torch.tensor([[0.3, -0.7]])
    )
    small = torch.randn(4, 3, generator=torch.Generator().manual_seed(5)) * 0.1  # away from saturation
    unit, logp = agent.sample(small)
    mean, log_std = agent.dist_params(small)
    assert torch.allclose(
        logp, squashed_log_prob(torch.atanh(unit.double()).float(), mean, log_std), atol=1e-3
    )
    det = agent.act(small, deterministic=True)
    assert torch.equal(det, agent.to_env(torch.tanh(mean)))


def test_same_seed_same_updates_and_save_load_round_trip(tmp_path: Path) -> None:
    a, b = _agent(seed=3), _agent(seed=3)
    for s in range(3):
        ma, mb = a.update(_batch(seed=s)), b.update(_batch(seed=s))
        assert ma == mb
    a.save(tmp_path / "sac.safetensors")
    c = SAC.load(tmp_path / "sac.safetensors")
    assert c.updates == 3 and c.alpha == pytest.approx(a.alpha)
    # the restored agent (optimiser moments and generator included) continues exactly like the original
    assert c.update(_batch(seed=9)) == a.update(_batch(seed=9))
    for k in a.actor:
        assert torch.equal(a.actor[k], c.actor[k])


def test_bad_settings_and_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DynadaptError, match="tau"):
        SACConfig(tau=0.0)
    with pytest.raises(DynadaptError, match="high > low"):
        SAC(3, 1, [1.0], [1.0])
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a file")
    with pytest.raises(CorruptFileError):
        SAC.load(bad)
