"""The context-conditioned hypernetwork: sizes, generated params == a plain model, refinement, the cache,
batched scoring, the set encoder, config validation."""

from __future__ import annotations

import math

import pytest
import torch

from dynadapt.errors import DynadaptError
from dynadapt.labelfree.context import ContextHnetConfig, ContextHyperDynamics
from dynadapt.labelfree.identify import IdentifyConfig
from dynadapt.models.dynamics import DynamicsModel, ModelConfig


def _model(obs: int = 3, act: int = 1, hidden: tuple[int, ...] = (16, 16), head: str = "deterministic"):
    cfg = ModelConfig(ensemble_size=1, hidden=hidden, activation="relu", head=head)  # type: ignore[arg-type]
    model = DynamicsModel(obs, act, cfg, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    o, a = torch.randn(200, obs, generator=g), torch.randn(200, act, generator=g)
    model.observe(o, a, o + 0.1 * torch.randn(200, obs, generator=g))
    model.freeze_normalizers(0)
    return model


def _dyn(model: DynamicsModel, seed: int = 0, **kw: object) -> ContextHyperDynamics:
    return ContextHyperDynamics(model, ContextHnetConfig(**kw), torch.Generator().manual_seed(seed))  # type: ignore[arg-type]


def _window(
    model: DynamicsModel, n: int, seed: int, batch: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lead = () if batch is None else (batch,)
    o = torch.randn(*lead, n, model.obs_dim, generator=g)
    a = torch.randn(*lead, n, model.act_dim, generator=g)
    nxt = o + 0.3 * torch.sin(2 * o) + 0.2 * a
    return model.transitions({"obs": o, "act": a, "next_obs": nxt})


def test_default_chunked_hnet_is_smaller_than_its_pendulum_sized_target() -> None:
    dyn = _dyn(_model(3, 1, (64, 64)))
    assert dyn.hnet.target_num_params() == 4 * 64 + 64 + 64 * 64 + 64 + 64 * 3 + 3
    assert dyn.hnet.cfg.chunk_size > 0
    assert dyn.size_ratio() <= 1.0
    # the auto chunk size minimises the size: one chunk more or less is not smaller
    c = dyn.hnet.cfg.chunk_size
    for other in (c - 3, c + 3):
        assert _dyn(_model(3, 1, (64, 64)), chunk_size=other).hnet.num_params() >= dyn.hnet.num_params()
    assert _dyn(_model(3, 1, (64, 64)), chunk_size=0).size_ratio() > 10  # the full hnet is not compact


@pytest.mark.parametrize("head", ["deterministic", "gaussian"])
def test_generated_params_feed_predict_and_equal_a_plain_model(head: str) -> None:
    model = _model(head=head)
    dyn = _dyn(model)
    emb = torch.randn(3, dyn.cfg.emb_dim, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        gen = dyn.generate(emb)
    assert set(gen) == set(model.params)
    assert all(gen[k].shape == (3, *model.params[k].shape[1:]) for k in gen)
    g = torch.Generator().manual_seed(3)
    obs, act = torch.randn(3, 5, 3, generator=g), torch.randn(3, 5, 1, generator=g)
    mean, std = model.predict(gen, obs, act)
    for i in range(3):
        plain = _model(head=head)
        with torch.no_grad():
            for k, v in plain.params.items():
                v.copy_(gen[k][i : i + 1])
        m_i, s_i = plain.predict(plain.params, obs[i : i + 1], act[i : i + 1])
        assert torch.equal(m_i[0], mean[i])
        assert (s_i is None) == (std is None) == (head == "deterministic")
    # the same network evaluated by hand in float64
    x = model.features(obs, act).double()
    h = x
    for layer in range(3):
        h = h @ gen[f"layers.{layer}.weight"].double() + gen[f"layers.{layer}.bias"].double()[:, None]
        h = torch.relu(h) if layer < 2 else h
    delta = h[..., :3] * model.target_norm.std.double() + model.target_norm.mean.double()
    torch.testing.assert_close(mean.double(), obs.double() + delta, rtol=1e-5, atol=1e-5)


def test_refinement_lowers_the_window_loss_and_never_raises_it() -> None:
    model = _model()
    dyn = _dyn(model)
    x, y = _window(model, 16, seed=4, batch=4)
    emb = torch.randn(4, dyn.cfg.emb_dim, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        before = dyn.window_loss(dyn.generate(emb), x, y)
    refined, loss = dyn.refine(emb, x, y, steps=5)
    with torch.no_grad():
        after = dyn.window_loss(dyn.generate(refined), x, y)
    torch.testing.assert_close(after, loss)
    assert (after <= before).all()
    assert (after < before).all()
    assert not refined.requires_grad and not torch.equal(refined, emb)
    # no steps: the proposal itself
    same, loss0 = dyn.refine(emb, x, y, steps=0)
    assert torch.equal(same, emb)
    torch.testing.assert_close(loss0, before)
    # a huge step size is halved until steps help: still never worse than the proposal
    _, wild = dyn.refine(emb, x, y, steps=4, lr=1e6)
    assert (wild <= before).all()


def test_cached_weights_are_the_same_objects_until_invalidated() -> None:
    dyn = _dyn(_model())
    dyn.add(torch.zeros(dyn.cfg.emb_dim))
    dyn.add(torch.ones(dyn.cfg.emb_dim))
    w0, w1 = dyn.weights(0), dyn.weights(1)
    assert dyn.weights(0) is w0 and dyn.weights(1) is w1
    assert dyn.library_params() is dyn.library_params()
    assert dyn.generations == 1  # one batched pass for the whole library
    assert all(v.shape[0] == 1 and not v.requires_grad for v in w0.values())
    dyn.invalidate()
    fresh = dyn.weights(0)
    assert fresh is not w0 and dyn.generations == 2
    assert all(torch.equal(fresh[k], w0[k]) for k in w0)  # nothing changed: same values
    with torch.no_grad():
        dyn.hnet.theta["head.bias"].add_(0.1)
    assert dyn.weights(0) is fresh  # stale until invalidated (the learner invalidates after training)
    dyn.invalidate()
    assert not torch.equal(dyn.weights(0)["layers.0.bias"], fresh["layers.0.bias"])
    dyn.remove(0)
    assert dyn.num_situations == 1
    torch.testing.assert_close(dyn.embeddings()[0], torch.ones(dyn.cfg.emb_dim))
    with pytest.raises(DynadaptError, match="not in the library"):
        dyn.weights(1)
    with pytest.raises(DynadaptError, match="NaN"):
        dyn.add(torch.full((dyn.cfg.emb_dim,), math.nan))


@pytest.mark.parametrize("head", ["deterministic", "gaussian"])
def test_batched_scoring_equals_a_loop_and_the_formula(head: str) -> None:
    model = _model(head=head)
    dyn = _dyn(model)
    for k in range(5):
        dyn.add(torch.randn(dyn.cfg.emb_dim, generator=torch.Generator().manual_seed(10 + k)))
    x, y = _window(model, 12, seed=6)
    with torch.no_grad():
        nll, sq = dyn.nll(dyn.library_params(), x, y, var=0.05)
        for k in range(5):
            one, sq_one = dyn.nll(dyn.weights(k), x, y, var=0.05)
            torch.testing.assert_close(one[0], nll[k], rtol=1e-5, atol=1e-4)
            torch.testing.assert_close(sq_one[0], sq[k], rtol=1e-5, atol=1e-6)
        mean, logvar = model.forward_normalized(dyn.weights(2), x[None])
    err = (mean[0].double() - y.double()) ** 2
    if head == "deterministic":
        expected = 0.5 * (err / 0.05 + math.log(2 * math.pi * 0.05)).sum()
    else:
        assert logvar is not None
        lv = logvar[0].double()
        expected = 0.5 * (err * torch.exp(-lv) + lv + math.log(2 * math.pi)).sum()
    torch.testing.assert_close(nll[2].double(), expected, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(sq[2].double(), err.sum(), rtol=1e-5, atol=1e-6)
    for nu in (0.0, 3.0):  # per transition: the same likelihood, not summed over the window
        with torch.no_grad():
            rows = dyn.row_nll(dyn.library_params(), x, y, var=0.05, nu=nu)
            total, _ = dyn.nll(dyn.library_params(), x, y, var=0.05, nu=nu)
        assert rows.shape == (5, 12)
        torch.testing.assert_close(rows.double().sum(-1), total.double(), rtol=1e-5, atol=1e-4)
        if head == "deterministic" and nu == 0:
            per_row = 0.5 * (err / 0.05 + math.log(2 * math.pi * 0.05)).sum(-1)
            torch.testing.assert_close(rows[2].double(), per_row, rtol=1e-5, atol=1e-5)


def test_set_encoder_is_permutation_invariant_and_reads_the_data() -> None:
    model = _model()
    dyn = _dyn(model)
    x, y = _window(model, 10, seed=7)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        e = dyn.encode(x[None], y[None])
        e_perm = dyn.encode(x[perm][None], y[perm][None])
        e_other = dyn.encode(x[None], -y[None])
        two = dyn.encode(torch.stack([x, x]), torch.stack([y, -y]))
    assert e.shape == (1, dyn.cfg.emb_dim)
    torch.testing.assert_close(e, e_perm, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(e, e_other)
    torch.testing.assert_close(two, torch.cat([e, e_other]), rtol=1e-5, atol=1e-6)


def test_state_round_trip() -> None:
    model = _model(head="gaussian")
    dyn = _dyn(model, seed=0)
    dyn.add(torch.ones(dyn.cfg.emb_dim))
    other = _dyn(model, seed=9)
    other.load_state_dict(dyn.state_dict())
    assert other.num_situations == 1
    assert all(torch.equal(other.weights(0)[k], dyn.weights(0)[k]) for k in dyn.weights(0))
    assert all(torch.equal(other.encoder[k], dyn.encoder[k]) for k in dyn.encoder)


@pytest.mark.parametrize(
    "kw",
    [
        {"emb_dim": 0},
        {"chunk_size": -2},
        {"init": "hyperfan_in"},
        {"refine_lr": math.nan},
        {"refine_lr": 0.0},
        {"refine_steps": -1},
        {"labels": "maybe"},
        {"min_window": 1},
        {"min_window": 40},
        {"lr": 0.0},
        {"beta": -1.0},
        {"lookahead": "sgd"},
        {"score_var": math.inf},
        {"merge_tolerance": -0.5},
        {"capacity": 0},
        {"identify": IdentifyConfig(window=8), "min_window": 9},
    ],
)
def test_bad_config_values_raise(kw: dict[str, object]) -> None:
    with pytest.raises(DynadaptError):
        ContextHnetConfig(**kw)  # type: ignore[arg-type]


def test_an_ensemble_model_is_refused() -> None:
    model = DynamicsModel(3, 1, ModelConfig(ensemble_size=2, hidden=(8,)))
    with pytest.raises(DynadaptError, match="ensemble_size=1"):
        ContextHyperDynamics(model, ContextHnetConfig(), torch.Generator())


def test_student_t_scoring_is_the_formula_and_bounds_an_outlier() -> None:
    model = _model()
    dyn = _dyn(model)
    for k in range(2):
        dyn.add(torch.randn(dyn.cfg.emb_dim, generator=torch.Generator().manual_seed(20 + k)))
    x, y = _window(model, 8, seed=7)
    with torch.no_grad():
        nll, _ = dyn.nll(dyn.library_params(), x, y, var=0.05, nu=3.0)
        mean, _ = model.forward_normalized(dyn.weights(1), x[None])
    err = (mean[0].double() - y.double()) ** 2
    expected = 2.0 * torch.log1p(err / (3.0 * 0.05)).sum()  # (ν + 1) / 2 = 2
    torch.testing.assert_close(nll[1].double(), expected, rtol=1e-5, atol=1e-4)
    far = y.clone()
    far[0] += 100.0  # one transition no network predicts: its cost grows with log, not the square
    with torch.no_grad():
        gauss_far, _ = dyn.nll(dyn.library_params(), x, far, var=0.05)
        gauss, _ = dyn.nll(dyn.library_params(), x, y, var=0.05)
        t_far, _ = dyn.nll(dyn.library_params(), x, far, var=0.05, nu=3.0)
    assert float((t_far - nll).max()) < 100 < float((gauss_far - gauss).min())
