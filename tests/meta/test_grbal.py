"""GrBAL: the inner step, learned step sizes, M != K, online adaptation modes and G12."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dynadapt.data.buffer import ReplayBuffer
from dynadapt.meta.base import Segments, SegmentSource, Window
from dynadapt.meta.grbal import GrBAL, GrBALConfig, inner_update
from dynadapt.meta.online import GradientAdapter
from dynadapt.models.dynamics import DynamicsModel, ModelConfig

O, A = 2, 1
EPS64 = torch.finfo(torch.float64).eps


def tiny_model(seed: int = 0, dtype: torch.dtype = torch.float32) -> DynamicsModel:
    cfg = ModelConfig(ensemble_size=1, hidden=(8,), activation="tanh", head="deterministic")
    model = DynamicsModel(O, A, cfg, generator=torch.Generator().manual_seed(seed))
    if dtype != torch.float32:  # the same initial values, in ``dtype`` (a fresh optimiser holds them)
        model.params = {k: v.detach().to(dtype).requires_grad_(True) for k, v in model.params.items()}
        model.optimizer = model._make_optimizer()
    return model


def fill(buffer: ReplayBuffer, episodes: int = 6, steps: int = 30, seed: int = 0) -> None:
    """Linear dynamics s' = s + 0.1 * (c_task * a - s), one task per episode (3 tasks)."""
    rng = np.random.default_rng(seed)
    for ep in range(episodes):
        task = ep % 3
        s = rng.normal(size=O).astype(np.float32)
        for t in range(steps):
            a = rng.uniform(-1, 1, size=A).astype(np.float32)
            s2 = (s + 0.1 * ((task - 1.0) * 2.0 * a - s)).astype(np.float32)
            buffer.add(s, a, s2, 0.0, False, t == steps - 1, task_id=task, episode=ep, t=t)
            s = s2


def filled_buffer() -> ReplayBuffer:
    buf = ReplayBuffer(1000, O, A)
    fill(buf)
    return buf


def test_inner_step_equals_hand_computed_gradient_step() -> None:
    model = tiny_model(dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 5, O + A, generator=g, dtype=torch.float64)
    y = torch.randn(1, 5, O, generator=g, dtype=torch.float64)
    alpha = 0.05
    params = {k: v.detach().clone().requires_grad_(True) for k, v in model.params.items()}
    loss = ((model.forward_normalized(params, x)[0] - y) ** 2).mean()
    grads = torch.autograd.grad(loss, list(params.values()))
    expected = {k: v - alpha * g for (k, v), g in zip(params.items(), grads)}
    got = inner_update(lambda p, xx, yy: model.mse(p, xx, yy).sum(), params, x, y, alpha)
    for k in expected:  # torch.func.grad and autograd: the same float64 sums, maybe in another order
        torch.testing.assert_close(got[k], expected[k], rtol=1e3 * EPS64, atol=1e3 * EPS64)


def test_second_order_meta_gradient_equals_finite_differences() -> None:
    """The meta-gradient of GrBAL's objective J(θ, ψ) = mean_b L(θ − ψ ⊙ ∇L(θ; past_b); future_b), as
    :meth:`GrBAL.loss` computes it (vmapped over the task batch, learned per-element ψ), equals central
    finite differences of J in float64, for every element of θ and ψ; the first-order variant does not."""
    model = tiny_model(dtype=torch.float64)
    learner = GrBAL(model, GrBALConfig(M=4, K=5, inner_lr=0.3), torch.Generator().manual_seed(1))
    assert learner.psi is not None
    with torch.no_grad():  # per-element step sizes around α
        for v in learner.psi.values():
            v.mul_(1 + 0.5 * torch.sin(torch.arange(v.numel(), dtype=v.dtype)).reshape(v.shape))
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 9, O + A, generator=g, dtype=torch.float64)
    y = torch.tanh(x[..., :O] * torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)[:, None, None])
    seg = Segments(x, y, torch.arange(3), torch.arange(3))
    tensors = dict(learner.trainable())
    grads = dict(zip(tensors, torch.autograd.grad(learner.loss(seg), list(tensors.values()))))

    def objective() -> float:
        with torch.no_grad():
            return float(learner.segment_losses(seg, create_graph=False)[0].mean())

    h = 1e-6
    j0 = abs(objective())
    fd: dict[str, torch.Tensor] = {}
    for name, v in tensors.items():
        flat, out = v.detach().view(-1), torch.empty(v.numel(), dtype=torch.float64)
        for i in range(v.numel()):
            old = float(flat[i])
            flat[i] = old + h
            up = objective()
            flat[i] = old - h
            down = objective()
            flat[i] = old
            out[i] = (up - down) / (2 * h)
        fd[name] = out.view(v.shape)
    # central differences: truncation ~ h² · |third derivative| ~ 1e-12, rounding ~ eps · |J| / h
    tol = 1e3 * EPS64 * max(j0, 1.0) / h
    assert max(float(v.abs().max()) for v in fd.values()) > 1e3 * tol
    for name in tensors:
        torch.testing.assert_close(grads[name], fd[name], rtol=0.0, atol=tol, msg=name)
    first = GrBAL(model, GrBALConfig(M=4, K=5, inner_lr=0.3, first_order=True), torch.Generator())
    first.psi = {k: v.detach().clone().requires_grad_(True) for k, v in learner.psi.items()}
    first_grad = torch.autograd.grad(first.loss(seg), model.params["layers.0.weight"])[0]
    assert float((first_grad - fd["theta.layers.0.weight"]).abs().max()) > 1e3 * tol


def test_learned_step_sizes_receive_gradients_and_m_differs_from_k() -> None:
    model = tiny_model()
    buf = filled_buffer()
    model.update_normalizers(buf)
    learner = GrBAL(model, GrBALConfig(M=3, K=7, meta_batch=4), torch.Generator().manual_seed(1))
    source = SegmentSource(model, buf, 10, holdout_ratio=0.2)
    seg = source.sample(4, torch.Generator().manual_seed(2))
    assert seg.x.shape == (4, 10, O + A)
    assert seg.past(3)[0].shape[1] == 3 and seg.future(3)[0].shape[1] == 7
    assert len(set(seg.task_id.tolist())) == 3  # a task batch covers the perturbations
    learner.loss(seg).backward()
    assert learner.psi is not None
    for v in learner.psi.values():
        assert v.grad is not None and v.grad.abs().sum() > 0
    for v in model.params.values():
        assert v.grad is not None and v.grad.abs().sum() > 0


def test_segments_stay_in_one_episode_and_validation_holds_out_episodes() -> None:
    buf = filled_buffer()
    model = tiny_model()
    model.update_normalizers(buf)
    source = SegmentSource(model, buf, 12, holdout_ratio=0.3)
    seg = source.batch(source.train_starts)
    data = buf.all()
    idx = source.train_starts[:, None] + torch.arange(12)
    assert (data["episode"][idx] == data["episode"][idx][:, :1]).all()
    train_eps = set(data["episode"][source.train_starts].tolist())
    val_eps = set(data["episode"][source.val_starts].tolist())
    assert val_eps and not (train_eps & val_eps)
    assert seg.x.shape[1] == 12


def test_fit_improves_post_adaptation_loss_and_is_deterministic() -> None:
    results = []
    for _ in range(2):
        model = tiny_model()
        buf = filled_buffer()
        learner = GrBAL(model, GrBALConfig(M=4, K=4, meta_batch=6), torch.Generator().manual_seed(3))
        model.update_normalizers(buf)
        before, _ = learner.validate(SegmentSource(model, buf, 8, 0.1))
        res = learner.fit(buf, steps=40)
        assert res.steps == 40 and res.val_loss < before
        results.append(res.val_loss)
    assert results[0] == results[1]
    res = learner.fit(buf)  # early-stopped path
    assert res.epochs >= 1 and math.isfinite(res.val_loss)


def test_online_window_includes_newest_and_modes() -> None:
    w = Window(3)
    for i in range(5):
        w.add([i, i], [i], [i + 1, i + 1])
    obs, _, nxt = w.tensors()
    assert obs[:, 0].tolist() == [2, 3, 4] and nxt[-1, 0] == 5  # newest transition included (G6)

    model = tiny_model()
    model.update_normalizers(filled_buffer())
    theta = {k: v.detach().clone() for k, v in model.params.items()}
    none = GradientAdapter(model, 3, 0.1, mode="none")
    reset = GradientAdapter(model, 3, 0.1, mode="reset")
    cont = GradientAdapter(model, 3, 0.1, mode="continue")
    for ad in (none, reset, cont):
        assert torch.equal(ad.params()["layers.0.weight"], theta["layers.0.weight"])  # empty window
        ad.observe([0.1, 0.2], [0.5], [0.3, 0.1])
    p_reset_1 = reset.params()
    p_reset_2 = reset.params()
    torch.testing.assert_close(p_reset_1["layers.0.weight"], p_reset_2["layers.0.weight"])  # from θ*
    c1 = cont.params()["layers.0.weight"]
    c2 = cont.params()["layers.0.weight"]
    assert not torch.allclose(c1, c2)  # accumulates
    assert torch.equal(none.params()["layers.0.weight"], theta["layers.0.weight"])


def test_min_window_plans_with_the_prior_until_the_window_is_full_enough() -> None:
    model = tiny_model()
    model.update_normalizers(filled_buffer())
    theta = model.params["layers.0.weight"].detach().clone()
    ad = GradientAdapter(model, 4, 0.1, mode="reset", min_window=3)
    for i in range(2):
        ad.observe([0.1 * i, 0.2], [0.5], [0.3, 0.1 * i])
        assert torch.equal(ad.params()["layers.0.weight"], theta)  # 1, 2 transitions: θ*
    ad.observe([0.3, 0.2], [-0.5], [0.3, 0.4])
    assert not torch.allclose(ad.params()["layers.0.weight"], theta)  # 3: adapted
    ad.reset()
    ad.observe([0.3, 0.2], [-0.5], [0.3, 0.4])
    assert torch.equal(ad.params()["layers.0.weight"], theta)  # a new episode starts unadapted again
    with pytest.raises(ValueError, match="min_window"):
        GradientAdapter(model, 4, 0.1, min_window=5)


def test_adapted_state_cleared_after_fit_and_at_episode_start() -> None:
    """Regression test for G12: no adapted parameters survive a fit or an episode boundary."""
    model = tiny_model()
    buf = filled_buffer()
    learner = GrBAL(model, GrBALConfig(M=4, K=4, meta_batch=4), torch.Generator().manual_seed(0))
    learner.fit(buf, steps=2)
    ad = GradientAdapter(model, 4, 0.1, mode="continue")
    ad.observe([0.1, 0.2], [0.5], [0.3, 0.1])
    stale = ad.params()["layers.0.weight"].clone()
    learner.fit(buf, steps=5)  # θ* changes
    ad.clear()
    assert ad.adapted is None
    fresh = ad.params()["layers.0.weight"]
    expected = GradientAdapter(model, 4, 0.1, mode="reset")
    expected.observe([0.1, 0.2], [0.5], [0.3, 0.1])
    torch.testing.assert_close(fresh, expected.params()["layers.0.weight"])
    assert not torch.allclose(fresh, stale)
    ad.reset()
    assert ad.adapted is None and len(ad.window) == 0
    assert torch.equal(ad.params()["layers.0.weight"], model.params["layers.0.weight"].detach())


def test_segments_never_span_a_mid_episode_change_of_perturbation() -> None:
    """Regression: with ``switch_at`` an episode holds two perturbations; a segment across the change
    would adapt on one and be scored on the other."""
    buf = ReplayBuffer(1000, O, A)
    rng = np.random.default_rng(0)
    for ep in range(4):
        for t in range(30):
            task = 2 * ep + (t >= 13)  # change of perturbation at step 13, as MetaRun's task ids
            s, a = rng.normal(size=O).astype(np.float32), rng.uniform(-1, 1, size=A).astype(np.float32)
            buf.add(s, a, s, 0.0, False, t == 29, task_id=task, episode=ep, t=t)
    model = tiny_model()
    model.update_normalizers(buf)
    source = SegmentSource(model, buf, 8, holdout_ratio=0.0)
    data = buf.all()
    idx = source.train_starts[:, None] + torch.arange(8)
    assert (data["task_id"][idx] == data["task_id"][idx][:, :1]).all()
    assert source.train_starts.numel() == 4 * ((13 - 8 + 1) + (17 - 8 + 1))
