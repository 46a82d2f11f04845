"""ReBAL and the functional GRU: equivalence with torch.nn.GRU, training, state reset at episode start."""

from __future__ import annotations

import torch

from dynadapt.meta.base import SegmentSource
from dynadapt.meta.rebal import ReBAL, ReBALConfig
from dynadapt.nets.recurrent import GRUSpec, gru_scan, init_gru_params
from tests.meta.test_grbal import A, O, filled_buffer, tiny_model


def test_functional_gru_equals_torch_gru() -> None:
    spec = GRUSpec(3, 5)
    params = init_gru_params(spec, torch.Generator().manual_seed(0))
    ref = torch.nn.GRU(3, 5, batch_first=True)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(params["weight_ih"].T)
        ref.weight_hh_l0.copy_(params["weight_hh"].T)
        ref.bias_ih_l0.copy_(params["bias_ih"])
        ref.bias_hh_l0.copy_(params["bias_hh"])
    xs = torch.randn(4, 7, 3)
    h0 = torch.randn(4, 5)
    expected, _ = ref(xs, h0.unsqueeze(0))
    torch.testing.assert_close(gru_scan(params, xs, h0), expected, rtol=1e-5, atol=1e-6)


def make_rebal(context: str = "window") -> ReBAL:
    model = tiny_model()
    cfg = ReBALConfig(M=4, K=3, rnn_hidden=6, meta_batch=6, context=context)  # type: ignore[arg-type]
    return ReBAL(model, cfg, torch.Generator().manual_seed(0))


def test_rebal_trains_and_context_helps() -> None:
    learner = make_rebal()
    buf = filled_buffer()
    learner.model.update_normalizers(buf)
    before, _ = learner.validate(SegmentSource(learner.model, buf, 7, 0.1))
    res = learner.fit(buf, steps=60)
    assert res.val_loss < before
    seg = SegmentSource(learner.model, buf, 7, 0.1)
    seg_b = seg.sample(6, torch.Generator().manual_seed(1))
    learner.loss(seg_b).backward()
    assert all(v.grad is not None for v in learner.params.values())


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
