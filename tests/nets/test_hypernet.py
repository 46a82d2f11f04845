"""Hypernetwork: generated params == module forward, batching, initialisation variances, embeddings, cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from dynadapt.errors import DynadaptError
from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.nets.hypernet import HyperNetConfig, HyperNetwork, TargetTensor, base_init, mlp_targets
from dynadapt.nets.mlp import MLPSpec, forward


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# two evaluation orders of the same float64 sums (a hypernetwork, then the generated network): a few
# hundred float64 ulps of values ~1 at most
EPS64 = torch.finfo(torch.float64).eps
TOL64 = 1e3 * EPS64


@pytest.fixture
def float64() -> Iterator[None]:
    """Hypernetworks (θ, embeddings) and inputs built in float64, the default dtype."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("chunk", [0, 7])
def test_generated_params_equal_module_loaded_with_them(chunk: int, float64: None) -> None:
    spec = MLPSpec(5, 3, (8, 6), "relu")
    hnet = HyperNetwork(
        mlp_targets(spec), HyperNetConfig(hidden=(4,), chunk_size=chunk, init="xavier"), generator=_gen()
    )
    for _ in range(3):
        hnet.add_task()
    params = hnet.generate([2])
    assert params["layers.0.weight"].dtype == torch.float64
    module = torch.nn.Sequential(
        torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3)
    )
    with torch.no_grad():
        for i, layer in enumerate([module[0], module[2], module[4]]):
            assert isinstance(layer, torch.nn.Linear)
            layer.weight.copy_(params[f"layers.{i}.weight"][0].T)
            layer.bias.copy_(params[f"layers.{i}.bias"][0])
    x = torch.randn(11, 5, generator=_gen(1))
    single = {k: v[0] for k, v in params.items()}
    torch.testing.assert_close(forward(spec, single, x), module(x), rtol=TOL64, atol=TOL64)
    # the stacked E = 1 layout the dynamics model uses
    torch.testing.assert_close(forward(spec, params, x[None])[0], module(x), rtol=TOL64, atol=TOL64)


def test_batched_over_tasks_equals_one_by_one_and_vmap(float64: None) -> None:
    spec = MLPSpec(4, 2, (5,), "relu")
    hnet = HyperNetwork(mlp_targets(spec, logvar_dim=2), HyperNetConfig(hidden=(6, 6)), generator=_gen())
    for _ in range(4):
        hnet.add_task()
    batch = hnet.generate([0, 1, 2, 3])
    emb = hnet.embedding_matrix([0, 1, 2, 3])
    vm = torch.func.vmap(lambda e: hnet.forward(e[None]))(emb)
    for t in range(4):
        one = hnet.generate([t])
        for k in batch:
            torch.testing.assert_close(batch[k][t], one[k][0], rtol=TOL64, atol=TOL64)
            torch.testing.assert_close(vm[k][t, 0], one[k][0], rtol=TOL64, atol=TOL64)
    assert batch["max_logvar"].shape == (4, 2)


def test_hnet_params_drive_dynamics_model_predict_and_loss() -> None:
    model = DynamicsModel(3, 1, ModelConfig(ensemble_size=1, hidden=(8,), activation="relu"))
    hnet = HyperNetwork(mlp_targets(model.spec, logvar_dim=3), HyperNetConfig(hidden=(4,)), generator=_gen())
    hnet.add_task()
    params = hnet.generate([0])
    assert set(params) == set(model.params)
    obs, act = torch.randn(1, 5, 3), torch.randn(1, 5, 1)
    mean, std = model.predict(params, obs, act)
    assert mean.shape == (1, 5, 3) and std is not None
    loss = model.loss(params, torch.randn(1, 5, 4), torch.randn(1, 5, 3)).sum()
    loss.backward()
    assert all(p.grad is not None for p in hnet.theta.values())
    assert hnet.embeddings[0].grad is not None


def _layer_targets(d_j: int, d_i: int) -> dict[str, TargetTensor]:
    return {
        "w": TargetTensor((d_j, d_i), "weight", d_j, d_i),
        "b": TargetTensor((d_i,), "bias", d_j, d_i),
    }


def _sample_var(hnet: HyperNetwork, n_tasks: int = 64) -> tuple[float, float]:
    for _ in range(n_tasks):
        hnet.add_task()
    with torch.no_grad():
        out = hnet.generate(list(range(n_tasks)))
    return float((out["w"] ** 2).mean()), float((out["b"] ** 2).mean())


def test_hyperfan_in_variance_within_10_percent_and_naive_is_not() -> None:
    d_j, d_i = 256, 128
    cfg = HyperNetConfig(hidden=(64,), init="hyperfan_in")
    var_w, var_b = _sample_var(HyperNetwork(_layer_targets(d_j, d_i), cfg, generator=_gen()))
    assert var_w == pytest.approx(2.0 / (2 * d_j), rel=0.10)  # c_act / (2 d_j), ReLU target
    assert var_b == pytest.approx(2.0 / 2, rel=0.10)
    naive = HyperNetwork(
        _layer_targets(d_j, d_i), HyperNetConfig(hidden=(64,), init="naive"), generator=_gen()
    )
    var_w_naive, _ = _sample_var(naive)
    assert abs(var_w_naive / (2.0 / (2 * d_j)) - 1) > 0.5
    assert abs(var_w_naive / (2.0 / d_j) - 1) > 0.5  # nor the He variance of a plain layer


def test_hyperfan_out_variance_and_clipped_bias() -> None:
    d_j, d_i = 64, 256
    cfg = HyperNetConfig(hidden=(64,), init="hyperfan_out", emb_dim=16)
    hnet = HyperNetwork(_layer_targets(d_j, d_i), cfg, target_activation="tanh", generator=_gen(3))
    var_w, var_b = _sample_var(hnet)
    assert var_w == pytest.approx(1.0 / d_i, rel=0.10)  # c_act = 1 (tanh)
    assert var_b == pytest.approx(1.0 - d_j / d_i, rel=0.10)
    # d_j >= d_i: the bias variance is clipped at 0 (hypnettorch divides by zero here)
    wide = HyperNetwork(_layer_targets(256, 64), cfg, generator=_gen())
    assert torch.count_nonzero(wide.theta["head.b.weight"]) == 0


def test_bias_hyperinit_equals_base_init_for_every_embedding() -> None:
    spec = MLPSpec(6, 4, (32, 32), "relu")
    targets = mlp_targets(spec, logvar_dim=4)
    base = base_init(targets, _gen(7))
    hnet = HyperNetwork(targets, HyperNetConfig(init="bias_hyperinit"), generator=_gen(), base=base)
    for _ in range(5):
        hnet.add_task()
    out = hnet.generate(list(range(5)))
    for k, v in out.items():
        for t in range(5):
            torch.testing.assert_close(v[t], base[k], rtol=0, atol=0)
    # without an explicit base the heads still carry a standard init: std of U(±1/√d_j)
    auto = HyperNetwork(targets, HyperNetConfig(init="bias_hyperinit"), generator=_gen())
    auto.add_task()
    w = auto.generate([0])["layers.1.weight"]
    assert float(w.detach().std()) == pytest.approx((1 / 32) ** 0.5 / 3**0.5, rel=0.1)


def test_weight_hyperinit_one_hot_gives_standard_init() -> None:
    targets = _layer_targets(128, 64)
    hnet = HyperNetwork(
        targets, HyperNetConfig(hidden=(), emb_dim=8, init="weight_hyperinit"), generator=_gen()
    )
    hnet.add_task()
    with torch.no_grad():
        hnet.embeddings[0].copy_(torch.nn.functional.one_hot(torch.tensor(3), 8).float())
    w = hnet.generate([0])["w"].detach()
    assert float(w.abs().max()) <= 1 / 128**0.5
    assert float(w.var()) == pytest.approx(1 / (3 * 128), rel=0.1)


def test_embeddings_grow_and_freeze_unless_plastic() -> None:
    targets = _layer_targets(3, 2)
    hnet = HyperNetwork(targets, HyperNetConfig(hidden=(4,)), generator=_gen())
    assert hnet.add_task() == 0 and hnet.add_task() == 1
    assert not hnet.embeddings[0].requires_grad and hnet.embeddings[1].requires_grad
    assert hnet.trainable_embeddings() == [hnet.embeddings[1]]
    plastic = HyperNetwork(targets, HyperNetConfig(hidden=(4,), plastic=True), generator=_gen())
    plastic.add_task()
    plastic.add_task()
    assert len(plastic.trainable_embeddings()) == 2
    with pytest.raises(DynadaptError):
        hnet.generate([2])
    # embedding statistics: N(0, 1)
    big = HyperNetwork(targets, HyperNetConfig(hidden=(4,), emb_dim=4000), generator=_gen())
    big.add_task()
    assert float(big.embeddings[0].detach().std()) == pytest.approx(1.0, rel=0.05)


def test_weights_cache_until_invalidated(float64: None) -> None:
    hnet = HyperNetwork(_layer_targets(3, 2), HyperNetConfig(hidden=(4,)), generator=_gen())
    hnet.add_task()
    w1 = hnet.weights(0)
    assert hnet.weights(0) is w1 and not w1["w"].requires_grad
    with torch.no_grad():
        hnet.theta["head.w.bias"].add_(1.0)
    assert hnet.weights(0) is w1  # stale until invalidated, by contract
    hnet.invalidate_cache()
    torch.testing.assert_close(hnet.weights(0)["w"], w1["w"] + 1.0, rtol=TOL64, atol=TOL64)


def test_state_dict_round_trip_and_sizes() -> None:
    spec = MLPSpec(6, 4, (256, 256), "relu")
    targets = mlp_targets(spec)
    full = HyperNetwork(targets, HyperNetConfig(hidden=(8,)), generator=_gen())
    chunked = HyperNetwork(
        targets,
        HyperNetConfig(hidden=(5, 5), chunk_size=12000, chunk_emb_dim=40, init="xavier"),
        generator=_gen(),
    )
    assert full.size_ratio() > 8 and chunked.size_ratio() < 1.1
    for h in (full, chunked):
        h.add_task()
        h.add_task()
        other = HyperNetwork(targets, h.cfg, generator=_gen(5))
        other.load_state_dict(h.state_dict())
        for k, v in h.generate([0, 1]).items():
            torch.testing.assert_close(other.generate([0, 1])[k], v)
    with pytest.raises(DynadaptError):
        HyperNetConfig(chunk_size=10, init="hyperfan_in")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_heads_at_lr_over_step_gain_take_adam_steps_of_lr_on_the_generated_weights(
    seed: int, float64: None
) -> None:
    """``HyperNetwork.step_gain``: with the trunk and the embedding fixed, Adam on the heads at lr
    ``η / (1 + ‖h(e)‖₁)`` moves the generated weights exactly as Adam at lr ``η`` on those weights themselves
    (a plain network started from them), step for step, whatever the heads' values (Xavier here: H ≠ 0).
    ε = 1e-30 removes the only term that differs (ε / |h_k| against ε); what remains is float64 rounding."""
    spec = MLPSpec(4, 3, (16,), "tanh")
    cfg = HyperNetConfig(hidden=(8,), emb_dim=5, init="xavier")
    hnet = HyperNetwork(mlp_targets(spec), cfg, target_activation="tanh", generator=_gen(seed))
    hnet.add_task()
    with torch.no_grad():
        h = hnet._trunk(hnet.theta, hnet.embeddings[0][None])
    gain = hnet.step_gain(0)
    assert gain == 1 + float(h.abs().sum()) and gain > 1.5  # h ≠ 0: the heads do read the trunk
    eta, steps = 1e-2, 30
    heads = [v for k, v in hnet.theta.items() if k.startswith("head.")]
    opt_heads = torch.optim.Adam(heads, lr=eta / gain, eps=1e-30)
    plain = {k: v[0].detach().clone().requires_grad_(True) for k, v in hnet.generate([0]).items()}
    opt_plain = torch.optim.Adam(list(plain.values()), lr=eta, eps=1e-30)
    start = {k: v.detach().clone() for k, v in plain.items()}
    g = _gen(10)
    x = torch.randn(64, 4, generator=g)
    y = torch.sin(2 * x[:, :3])
    for _ in range(steps):
        idx = torch.randint(0, 64, (16,), generator=g)
        generated = {k: v[0] for k, v in hnet.generate([0]).items()}
        for opt, params in ((opt_heads, generated), (opt_plain, plain)):
            opt.zero_grad()
            ((forward(spec, params, x[idx]) - y[idx]) ** 2).mean().backward()
            opt.step()
    with torch.no_grad():
        generated = {k: v[0] for k, v in hnet.generate([0]).items()}
    moved = max(float((plain[k].detach() - start[k]).abs().max()) for k in plain)
    assert moved > 10 * eta  # the weights did travel
    # per step: a sum of d_k + 1 head terms of size ≤ (η / gain)·|h_k| (|Adam step| ≤ ~1), each a few
    # roundings, and the weight update (one rounding of |W|); accumulated over the steps
    w_max = max(float(v.abs().max()) for v in generated.values())
    atol = steps * ((hnet.d_k + 16) * eta + w_max) * EPS64
    for k in plain:
        torch.testing.assert_close(generated[k], plain[k].detach(), rtol=0, atol=atol)
