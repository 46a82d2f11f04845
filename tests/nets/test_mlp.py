import pytest
import torch

from dynadapt.errors import DynadaptError, UnknownNameError
from dynadapt.nets import MLPSpec, ensemble_forward_vmap, forward, init_params, stack, unstack

F64 = torch.float64
# two evaluation orders of the same float64 sums over ~16 terms of size ~1: a few hundred ulps at most
TOL64 = 1e3 * torch.finfo(F64).eps


@pytest.mark.parametrize("activation", ["relu", "silu", "elu", "tanh"])
def test_functional_forward_equals_torch_module(activation: str) -> None:
    spec = MLPSpec(5, 3, (16, 8), activation)
    params = init_params(spec, torch.Generator().manual_seed(0), dtype=F64)
    acts = {"relu": torch.nn.ReLU, "silu": torch.nn.SiLU, "elu": torch.nn.ELU, "tanh": torch.nn.Tanh}
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(zip(spec.sizes[:-1], spec.sizes[1:])):
        lin = torch.nn.Linear(a, b, dtype=F64)
        with torch.no_grad():
            lin.weight.copy_(params[f"layers.{i}.weight"].T)
            lin.bias.copy_(params[f"layers.{i}.bias"])
        layers.append(lin)
        if i < spec.num_layers - 1:
            layers.append(acts[activation]())
    module = torch.nn.Sequential(*layers)
    x = torch.randn(7, 4, 5, generator=torch.Generator().manual_seed(1), dtype=F64)
    torch.testing.assert_close(forward(spec, params, x), module(x), rtol=TOL64, atol=TOL64)


def test_ensemble_forward_equals_vmap_and_loop() -> None:
    spec = MLPSpec(4, 6, (32, 32), "silu")
    params = init_params(spec, torch.Generator().manual_seed(1), ensemble_size=5, dtype=F64)
    x = torch.randn(5, 11, 4, generator=torch.Generator().manual_seed(2), dtype=F64)
    batched = forward(spec, params, x)
    vmapped = ensemble_forward_vmap(spec, params, x)
    looped = torch.stack([forward(spec, p, x[i]) for i, p in enumerate(unstack(params))])
    torch.testing.assert_close(batched, looped, rtol=TOL64, atol=TOL64)
    torch.testing.assert_close(vmapped, looped, rtol=TOL64, atol=TOL64)
    # members are independent draws
    assert not torch.allclose(params["layers.0.weight"][0], params["layers.0.weight"][1])
    assert torch.equal(stack(unstack(params))["layers.1.bias"], params["layers.1.bias"])


def test_forward_is_differentiable_and_in_place_only_without_grad() -> None:
    spec = MLPSpec(3, 2, (8,), "silu")
    params = {
        k: v.requires_grad_(True) for k, v in init_params(spec, torch.Generator().manual_seed(2)).items()
    }
    out = forward(spec, params, torch.randn(4, 3)).sum()
    out.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in params.values())


def test_init_matches_pytorch_default_bounds_and_is_seeded() -> None:
    spec = MLPSpec(100, 10, (50,))
    a = init_params(spec, torch.Generator().manual_seed(3))
    b = init_params(spec, torch.Generator().manual_seed(3))
    assert torch.equal(a["layers.0.weight"], b["layers.0.weight"])
    assert a["layers.0.weight"].abs().max() <= 0.1
    assert a["layers.1.weight"].abs().max() <= 1 / 50**0.5
    assert spec.num_params() == 100 * 50 + 50 + 50 * 10 + 10
    assert spec.flops_per_row() == 2 * (100 * 50 + 50 * 10)


def test_invalid_specs_raise() -> None:
    with pytest.raises(UnknownNameError, match="activation"):
        MLPSpec(3, 2, (8,), "swishy")
    with pytest.raises(DynadaptError):
        MLPSpec(3, 0, (8,))
