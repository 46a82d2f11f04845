"""ReBAL and the functional GRU: equivalence with torch.nn.GRU, training, state reset at episode start."""

from __future__ import annotations

import numpy as np
import torch

from dynadapt.data.buffer import ReplayBuffer
from dynadapt.meta.base import SegmentSource
from dynadapt.meta.rebal import ReBAL, ReBALConfig
from dynadapt.nets.recurrent import GRUSpec, gru_scan, init_gru_params
from tests.meta.test_grbal import EPS64, A, O, filled_buffer, tiny_model


def test_functional_gru_equals_torch_gru() -> None:
    spec = GRUSpec(3, 5)
    params = init_gru_params(spec, torch.Generator().manual_seed(0), dtype=torch.float64)
    ref = torch.nn.GRU(3, 5, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(params["weight_ih"].T)
        ref.weight_hh_l0.copy_(params["weight_hh"].T)
        ref.bias_ih_l0.copy_(params["bias_ih"])
        ref.bias_hh_l0.copy_(params["bias_hh"])
    g = torch.Generator().manual_seed(1)
    xs = torch.randn(4, 7, 3, generator=g, dtype=torch.float64)
    h0 = torch.randn(4, 5, generator=g, dtype=torch.float64)
    expected, _ = ref(xs, h0.unsqueeze(0))
    # 7 steps of the same float64 formulas (values ~1) in another order
    torch.testing.assert_close(gru_scan(params, xs, h0), expected, rtol=1e3 * EPS64, atol=1e3 * EPS64)


def make_rebal(context: str = "window", lr: float = 1e-3) -> ReBAL:
    model = tiny_model()
    cfg = ReBALConfig(M=4, K=3, rnn_hidden=6, meta_batch=6, context=context, lr=lr)  # type: ignore[arg-type]
    return ReBAL(model, cfg, torch.Generator().manual_seed(0))


def sign_buffer(seed: int, episodes: int = 8, steps: int = 30) -> ReplayBuffer:
    """``s' = s + c · (0.3, −0.2) · a − 0.05 s`` with the sign ``c = ±1`` of the action's effect changing
    from episode to episode: without knowing c the action's effect on Δ cannot be predicted (Δ's best
    context-free prediction is ``−0.05 s``); a few transitions of the episode reveal it."""
    rng = np.random.default_rng(seed)
    buf = ReplayBuffer(episodes * steps, O, A)
    gain = np.array([0.3, -0.2], dtype=np.float32)
    for ep in range(episodes):
        c = 1.0 if ep % 2 else -1.0
        s = rng.normal(size=O).astype(np.float32)
        for t in range(steps):
            a = rng.uniform(-1, 1, size=A).astype(np.float32)
            s2 = (s + c * gain * a - 0.05 * s).astype(np.float32)
            buf.add(s, a, s2, 0.0, False, t == steps - 1, task_id=int(c > 0), episode=ep, t=t)
            s = s2
    return buf


def test_rebal_trains_and_context_helps() -> None:
    """On held-out episodes where the past M transitions reveal the task, the prediction with the context
    encoded from them must be far better than with a zero context or with the context of a segment of the
    other task (the recurrent state carries the task, not just any input the head learned to expect)."""
    learner = make_rebal(lr=1e-2)  # the release's ReBAL learning rate (reference §5.2)
    buf = sign_buffer(0)
    learner.model.update_normalizers(buf)
    before, _ = learner.validate(SegmentSource(learner.model, buf, 7, 0.25))
    res = learner.fit(buf, steps=200)
    assert res.val_loss < before
    test = SegmentSource(learner.model, sign_buffer(1), 7, 0.0)
    seg = test.batch(test.train_starts)
    m = learner.M
    with torch.no_grad():
        own, zero = learner.segment_losses(seg, create_graph=False)
        ctx = learner.encode(*seg.past(m))
        # each segment gets the context of a segment of the other task (cycling through them)
        pools = [(seg.task_id != c).nonzero().squeeze(-1) for c in (0, 1)]
        other = torch.stack([pools[int(c)][i % len(pools[int(c)])] for i, c in enumerate(seg.task_id)])
        assert (seg.task_id[other] != seg.task_id).all()
        head = {k: v.expand(len(other), *v.shape[1:]) for k, v in learner.head().items()}
        x_f, y_f = seg.future(m)
        shuffled = ((learner.forward_normalized(head, x_f, ctx[other]) - y_f) ** 2).mean(dim=(-1, -2))
    assert float(own.mean()) < 0.5 * float(zero.mean())
    assert float(own.mean()) < 0.5 * float(shuffled.mean())
    learner.loss(test.batch(test.train_starts[:6])).backward()
    assert all(v.grad is not None and v.grad.abs().sum() > 0 for v in learner.params.values())


def test_predict_contract_and_state_reset_at_episode_start() -> None:
    for context in ("window", "episode"):
        learner = make_rebal(context)
        learner.model.update_normalizers(filled_buffer())
        ad = learner.make_adapter()
        zero = ad.params()["ctx"]
        assert torch.equal(zero, torch.zeros(1, 6))
        for t in range(6):
            ad.observe([0.1 * t, 0.2], [0.5], [0.1 * t + 0.05, 0.1])
        p = ad.params()
        assert not torch.allclose(p["ctx"], zero)
        mean, std = learner.predict(p, torch.randn(1, 9, O), torch.randn(1, 9, A))
        assert mean.shape == (1, 9, O) and std is None
        ad.reset()  # episode start
        assert len(ad.window) == 0 and torch.equal(ad.params()["ctx"], zero)


def test_window_mode_forgets_older_than_m() -> None:
    learner = make_rebal("window")
    learner.model.update_normalizers(filled_buffer())
    a, b = learner.make_adapter(), learner.make_adapter()
    a.observe([5.0, 5.0], [1.0], [4.0, 4.0])  # only in a's history, pushed out of the M = 4 window
    for t in range(4):
        for ad in (a, b):
            ad.observe([0.1 * t, 0.2], [0.5], [0.1 * t + 0.05, 0.1])
    torch.testing.assert_close(a.params()["ctx"], b.params()["ctx"])
