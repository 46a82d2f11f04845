"""Continual strategies: HyperCRL's regulariser and look-ahead, EWC/SI penalties by hand, smoke runs."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import Tensor

from dynadapt.continual import (
    EWC,
    SI,
    STRATEGIES,
    ContinualContext,
    EWCConfig,
    HyperCRL,
    HyperCRLConfig,
    SIConfig,
    adam_lookahead,
    empirical_fisher,
    output_regularizer,
)
from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.nets.hypernet import HyperNetConfig, HyperNetwork


def _model(head: str = "deterministic") -> DynamicsModel:
    cfg = ModelConfig(ensemble_size=1, hidden=(6,), activation="relu", head=head)  # type: ignore[arg-type]
    return DynamicsModel(2, 1, cfg, generator=torch.Generator().manual_seed(0))


def _data(seed: int, n: int = 40) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    return x, torch.tanh(x[:, :2] * (1 + seed)) + 0.1 * x[:, 2:]


def _ctx(n_tasks: int = 4) -> ContinualContext:
    return ContinualContext(task_data=lambda i: _data(i), num_tasks=n_tasks)


def _hypercrl(**kw: object) -> HyperCRL:
    cfg = HyperCRLConfig(hnet=HyperNetConfig(hidden=(8,)), **kw)  # type: ignore[arg-type]
    s = cfg.build(_model("gaussian"), torch.Generator().manual_seed(1))
    assert isinstance(s, HyperCRL)
    return s


@pytest.mark.parametrize("mode", ["stored", "snapshot"])
def test_regulariser_zero_when_unchanged_and_equal_to_direct(mode: str) -> None:
    s = _hypercrl(targets=mode, reg_tasks=0)
    for t in range(3):
        s.before_task(t, _ctx())
        x, y = _data(t)
        for _ in range(3):
            s.update(t, x[:8], y[:8])
    # at the start of task 3 the hnet has not changed: zero
    s.before_task(3, _ctx())
    assert s.targets_mode(3) == mode
    ids = [0, 1, 2]
    reg = output_regularizer(s.hnet, ids, s.reg_targets(ids), s.hnet.theta)
    assert float(reg.detach()) == 0.0
    # after some training it equals (1/t) Σ_i ‖Θ*_i − h(e_i; θ)‖² computed tensor by tensor
    snapshot = [{k: v.detach().clone() for k, v in s.hnet.generate([i]).items()} for i in ids]
    x, y = _data(3)
    for _ in range(5):
        s.update(3, x[:8], y[:8])
    direct = 0.0
    for i in ids:
        now = {k: v.detach() for k, v in s.hnet.generate([i]).items()}
        direct += sum(float(((now[k] - snapshot[i][k]) ** 2).sum()) for k in now) / 3
    reg = output_regularizer(s.hnet, ids, s.reg_targets(ids), s.hnet.theta)
    assert float(reg.detach()) > 0
    assert float(reg.detach()) == pytest.approx(direct, rel=1e-5)


def test_adam_lookahead_equals_the_step_adam_takes() -> None:
    g = torch.Generator().manual_seed(0)
    params = [
        torch.randn(4, 3, generator=g).requires_grad_(True),
        torch.randn(3, generator=g).requires_grad_(True),
    ]
    opt = torch.optim.Adam(params, lr=1e-2)
    for k in range(3):
        opt.zero_grad()
        loss = (params[0].sum(0) * params[1] * (k + 1)).pow(2).sum()
        loss.backward()
        if k < 2:
            opt.step()
    delta = adam_lookahead(opt, params)
    state_before = copy.deepcopy(opt.state_dict())
    before = [p.detach().clone() for p in params]
    opt.step()
    for p, b, d in zip(params, before, delta):
        torch.testing.assert_close(p.detach() - b, d, rtol=1e-5, atol=1e-7)
    # the look-ahead left the optimiser untouched: the real step started from the saved state
    assert int(state_before["state"][0]["step"]) == 2


def test_one_pass_update_without_lookahead_equals_task_plus_regulariser_gradient() -> None:
    """lookahead="none" takes task loss and regulariser in one hypernetwork pass: the gradient it steps on
    must equal ∇θ (L_task + β L_reg) computed from two separate passes."""
    s = _hypercrl(lookahead="none", beta=0.7, reg_tasks=0, grad_clip=0.0, lr=1e-2)
    s.before_task(0, _ctx())
    for _ in range(3):
        s.update(0, *_data(0))
    s.before_task(1, _ctx())
    s.before_task(2, _ctx())
    x, y = _data(2)
    for _ in range(3):  # move θ away from the stored targets: the regulariser is 0 at a task's start
        s.update(2, x, y)
    theta = [p.detach().clone().requires_grad_(True) for p in s.theta_list]
    params = dict(zip(s.hnet.theta, theta))
    loss = s.task_loss(s.hnet.generate([2], params), x, y)
    reg = output_regularizer(s.hnet, [0, 1], s.reg_targets([0, 1]), params)
    grads = torch.autograd.grad(loss + 0.7 * reg, theta)
    metrics = s.update(2, x, y)
    assert metrics["train/reg"] > 0
    torch.testing.assert_close(metrics["train/reg"], float(reg.detach()))
    for p, g in zip(s.theta_list, grads):
        torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-8)


def test_hypercrl_bounded_sampling_and_beta_zero() -> None:
    s = _hypercrl(reg_tasks=2)
    for t in range(5):
        s.before_task(t, _ctx(5))
    assert len(s.sample_tasks(4)) == 2 and len(set(s.sample_tasks(4))) == 2
    assert s.sample_tasks(1) == [0]
    hnet = STRATEGIES["hnet"](hnet=HyperNetConfig(hidden=(8,))).build(  # type: ignore[call-arg]
        _model(), torch.Generator().manual_seed(0)
    )
    assert isinstance(hnet, HyperCRL) and hnet.cfg.beta == 0.0
    hnet.before_task(0, _ctx())
    hnet.before_task(1, _ctx())
    assert "train/reg" not in hnet.update(1, *_data(1))


def test_hypercrl_keeps_old_task_weights_better_than_beta_zero() -> None:
    drift = {}
    for beta in (0.0, 5.0):
        s = _hypercrl(beta=beta, lr=1e-2, emb_lr=1e-2)
        s.before_task(0, _ctx())
        for _ in range(30):
            s.update(0, *_data(0))
        w0 = HyperNetwork.flatten_params(s.hnet.generate([0])).detach()
        s.before_task(1, _ctx())
        for _ in range(30):
            s.update(1, *_data(1))
        drift[beta] = float((HyperNetwork.flatten_params(s.hnet.generate([0])).detach() - w0).norm())
    assert drift[5.0] < 0.5 * drift[0.0]


def test_ewc_penalty_and_fisher_by_hand() -> None:
    s = EWCConfig(lam=3.0, fisher_samples=5).build(_model(), torch.Generator().manual_seed(0))
    assert isinstance(s, EWC)
    s.before_task(0, _ctx())
    ctx = ContinualContext(task_data=lambda i: _data(0, n=5))
    s.after_task(0, ctx)
    # Fisher: mean over the 5 transitions of the squared per-transition gradients (any order)
    x, y = _data(0, n=5)
    head = {k: v.detach() for k, v in s.heads[0].items()}
    expected = {k: torch.zeros_like(v) for k, v in s.trunk.items()}
    for n in range(5):
        leaves = {k: v.detach().clone().requires_grad_(True) for k, v in s.trunk.items()}
        loss = (
            (s.model.forward_normalized(leaves | head, x[None, n : n + 1])[0] - y[None, n : n + 1]) ** 2
        ).mean()
        for k, gk in zip(leaves, torch.autograd.grad(loss, list(leaves.values()))):
            expected[k] += gk**2 / 5
    for k in expected:
        torch.testing.assert_close(s.fishers[0][k], expected[k])
    # penalty: λ · ½ · Σ F (θ − θ*)² with a hand-set displacement
    with torch.no_grad():
        for v in s.trunk.values():
            v.add_(0.1)
    hand = 3.0 * 0.5 * sum(float((expected[k] * 0.01).sum()) for k in expected)
    assert float(s.penalty(1)) == pytest.approx(hand, rel=1e-5)


def test_empirical_fisher_on_a_linear_model() -> None:
    # loss = (w·x − y)²: per-sample gradient 2(w·x − y)x
    w = {"w": torch.tensor([0.5, -1.0])}
    x = torch.tensor([[1.0, 2.0], [0.0, 1.0]])
    y = torch.tensor([[1.0], [0.0]])
    f = empirical_fisher(lambda p, xi, yi: ((xi @ p["w"] - yi[:, 0]) ** 2).sum(), w, x, y)
    g1 = 2 * (0.5 - 2.0 - 1.0) * x[0]
    g2 = 2 * (-1.0 - 0.0) * x[1]
    torch.testing.assert_close(f["w"], (g1**2 + g2**2) / 2)


def test_si_path_integral_importance_and_penalty_by_hand() -> None:
    s = SIConfig(c=0.5, xi=1e-3, lr=1e-2).build(_model(), torch.Generator().manual_seed(0))
    assert isinstance(s, SI)
    s.before_task(0, _ctx())
    x, y = _data(0)
    start = {k: v.detach().clone() for k, v in s.trunk.items()}
    w_hand = {k: torch.zeros_like(v) for k, v in start.items()}
    for _ in range(3):
        before = {k: v.detach().clone() for k, v in s.trunk.items()}
        leaves = {k: v.detach().clone().requires_grad_(True) for k, v in s.trunk.items()}
        head = {k: v.detach() for k, v in s.heads[0].items()}
        grads = torch.autograd.grad(s.task_loss(leaves | head, x, y), list(leaves.values()))
        s.update(0, x, y)
        for k, g in zip(leaves, grads):
            w_hand[k] -= g * (s.trunk[k].detach() - before[k])
    s.after_task(0, _ctx())
    for k, v in s.trunk.items():
        omega = w_hand[k] / ((v.detach() - start[k]) ** 2 + 1e-3)
        torch.testing.assert_close(s.omega[k], omega, rtol=1e-4, atol=1e-6)
    with torch.no_grad():
        for v in s.trunk.values():
            v.add_(0.2)
    hand = 0.5 * sum(float((s.omega[k] * 0.04).sum()) for k in s.trunk)
    assert float(s.penalty(1)) == pytest.approx(hand, rel=1e-4)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_trains_two_tasks_and_round_trips(name: str) -> None:
    cls = STRATEGIES[name]
    kw = {"hnet": HyperNetConfig(hidden=(8,))} if name in ("hypercrl", "hnet") else {}
    s = cls(**kw).build(_model("gaussian"), torch.Generator().manual_seed(0))  # type: ignore[call-arg]
    for t in range(2):
        s.before_task(t, _ctx())
        for _ in range(3):
            m = s.update(t, *_data(t, n=16))
            assert all(v == v for v in m.values())
        s.end_round(t)
        s.after_task(t, _ctx())
    p = s.params_for(0)
    assert p["layers.0.weight"].shape == (1, 3, 6) and p["max_logvar"].shape == (1, 2)
    other = cls(**kw).build(_model("gaussian"), torch.Generator().manual_seed(5))  # type: ignore[call-arg]
    state = s.state_dict()
    assert all(v.dtype == torch.int64 and v.dim() == 0 for k, v in state.items() if k.startswith("count."))
    other.load_state_dict(dict(sorted(state.items())))  # in a file's key order (safetensors sorts them)
    for t in range(2):
        for k, v in s.params_for(t).items():
            torch.testing.assert_close(other.params_for(t)[k], v)
    # training continues identically (optimiser state matched to the right parameters)
    other.resumed(1, _ctx())
    other.generator.set_state(s.generator.get_state())
    for strategy in (s, other):
        strategy.update(1, *_data(1, n=16))
    for t in range(2):
        for k, v in s.params_for(t).items():
            assert torch.equal(other.params_for(t)[k], v), (t, k)
