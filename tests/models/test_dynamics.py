import math

import numpy as np
import pytest
import torch

from dynadapt.data import ReplayBuffer
from dynadapt.errors import CorruptFileError, DynadaptError
from dynadapt.models import DynamicsModel, ModelConfig, Normalizer
from dynadapt.nets import forward


def linear_system_buffer(n: int = 600, seed: int = 0) -> ReplayBuffer:
    """next = A obs + B act + noise: a system a small model learns in a few epochs."""
    rng = np.random.default_rng(seed)
    a_mat = np.array([[0.9, 0.1], [-0.2, 0.95]])
    b_mat = np.array([[0.0], [0.5]])
    buf = ReplayBuffer(n, 2, 1)
    obs = rng.normal(size=2)
    for t in range(n):
        act = rng.uniform(-1, 1, size=1)
        nxt = a_mat @ obs + b_mat @ act + rng.normal(scale=0.01, size=2)
        buf.add(obs, act, nxt, 0.0, False, False, episode=t // 100, t=t % 100)
        obs = nxt if t % 100 else rng.normal(size=2)
    return buf


def small_model(head: str = "gaussian", seed: int = 0, **kw) -> DynamicsModel:
    cfg = ModelConfig(ensemble_size=3, hidden=(32, 32), head=head, max_epochs=60, lr=3e-3, **kw)  # type: ignore[arg-type]
    return DynamicsModel(2, 1, cfg, generator=torch.Generator().manual_seed(seed))


def test_normalizer_merges_batches_exactly() -> None:
    x = torch.randn(1000, 4, dtype=torch.float64) * torch.tensor([1.0, 10.0, 0.1, 3.0]) + 5
    n = Normalizer(4)
    for chunk in x.split(137):
        n.update(chunk)
    torch.testing.assert_close(n.mean, x.mean(0).float())
    torch.testing.assert_close(n.std, x.std(0, unbiased=False).float())
    frozen = n.copy()
    frozen.freeze()
    frozen.update(torch.zeros(10, 4))
    torch.testing.assert_close(frozen.mean, n.mean)
    const = Normalizer(2)
    const.update(torch.ones(5, 2))
    assert torch.equal(const.std, torch.ones(2))  # a constant dimension is not divided by ~0


@pytest.mark.parametrize("head", ["gaussian", "deterministic"])
def test_fit_learns_and_predicts_next_observation(head: str) -> None:
    buf = linear_system_buffer()
    model = small_model(head)
    before = model.predict(model.params, *_batch(buf))[0]
    result = model.fit(buf)
    obs, act, nxt = _batch(buf, full=True)
    mean, std = model.predict(model.params, obs, act)
    err_before = (before - nxt).pow(2).mean()
    err_after = (mean - nxt).pow(2).mean()
    assert err_after < 0.05 * err_before
    assert result.val_loss < 0.05 and math.isfinite(result.train_loss)
    assert (std is None) == (head == "deterministic")
    if std is not None:
        assert (std > 0).all()


def _batch(buf: ReplayBuffer, full: bool = False):
    d = buf.all()
    e = 3
    return (
        d["obs"].unsqueeze(0).expand(e, -1, -1),
        d["act"].unsqueeze(0).expand(e, -1, -1),
        *([d["next_obs"].unsqueeze(0).expand(e, -1, -1)] if full else []),
    )


def test_logvar_bounds_are_trained() -> None:
    """Pitfall H1: the bounds must receive gradients and move."""
    model = small_model("gaussian")
    hi0, lo0 = model.params["max_logvar"].clone(), model.params["min_logvar"].clone()
    model.fit(linear_system_buffer())
    assert not torch.allclose(model.params["max_logvar"], hi0)
    assert not torch.allclose(model.params["min_logvar"], lo0)


def test_logvar_is_soft_bounded() -> None:
    model = small_model("gaussian")
    x = torch.randn(3, 50, 3) * 100
    _, logvar = model.forward_normalized(model.params, x)
    assert logvar is not None
    assert (logvar <= model.params["max_logvar"].unsqueeze(1) + 1e-3).all()
    assert (logvar >= model.params["min_logvar"].unsqueeze(1) - 1e-3).all()


def test_predict_uses_preprocessing_and_normalisation() -> None:
    cfg = ModelConfig(ensemble_size=2, hidden=(8,))
    model = DynamicsModel(
        2,
        1,
        cfg,
        obs_preproc=lambda o: torch.cat([o.sin(), o.cos()], -1),
        feature_dim=4,
        generator=torch.Generator().manual_seed(0),
    )
    assert model.spec.in_dim == 5
    model.fit(linear_system_buffer(200))
    obs, act = torch.randn(2, 7, 2), torch.randn(2, 7, 1)
    x = model.input_norm.normalize(torch.cat([obs.sin(), obs.cos(), act], -1))
    out = forward(model.spec, model.params, x)
    expected = obs + out[..., :2] * model.target_norm.std + model.target_norm.mean
    torch.testing.assert_close(model.predict(model.params, obs, act)[0], expected)


def test_fixed_steps_and_determinism() -> None:
    buf = linear_system_buffer(300)
    a, b = small_model(seed=4), small_model(seed=4)
    ra, _rb = a.fit(buf, steps=25), b.fit(buf, steps=25)
    assert ra.steps == 25
    for k in a.params:
        assert torch.equal(a.params[k], b.params[k])


def test_early_stopping_restores_best_members() -> None:
    buf = linear_system_buffer(300)
    model = small_model(patience=2)
    result = model.fit(buf)
    assert result.epochs <= model.cfg.max_epochs
    assert result.val_loss == pytest.approx(np.mean(result.val_loss_members))


def test_save_load_round_trip(tmp_path) -> None:
    buf = linear_system_buffer(300)
    model = small_model()
    model.fit(buf, steps=30)
    model.save(tmp_path / "m.safetensors")
    loaded = DynamicsModel.load(tmp_path / "m.safetensors")
    obs, act = torch.randn(3, 5, 2), torch.randn(3, 5, 1)
    torch.testing.assert_close(
        loaded.predict(loaded.params, obs, act)[0], model.predict(model.params, obs, act)[0]
    )
    # training continues identically (optimiser state and counters restored)
    loaded.generator.set_state(model.generator.get_state())
    model.fit(buf, steps=5)
    loaded.fit(buf, steps=5)
    for k in model.params:
        torch.testing.assert_close(model.params[k], loaded.params[k])


def test_load_rejects_corrupted_and_foreign_files(tmp_path) -> None:
    model = small_model()
    path = tmp_path / "m.safetensors"
    model.save(path)
    data = path.read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError):
        DynamicsModel.load(tmp_path / "trunc.safetensors")
    buf = ReplayBuffer(3, 2, 1)
    buf.save(tmp_path / "buf.safetensors")
    with pytest.raises(CorruptFileError, match=r"expected a 'dynadapt\.DynamicsModel'"):
        DynamicsModel.load(tmp_path / "buf.safetensors")


def test_invalid_config_is_a_clear_error() -> None:
    with pytest.raises(DynadaptError, match="ensemble_size"):
        ModelConfig(ensemble_size=0)
    with pytest.raises(DynadaptError, match="empty buffer"):
        small_model().fit(ReplayBuffer(3, 2, 1))
    with pytest.raises(DynadaptError, match="expects"):
        small_model().fit(linear_system_buffer_of_dims(3, 1))
    model = small_model()
    with pytest.raises(DynadaptError, match=r"predict expects obs\[\.\.\., 2\]"):
        model.predict(model.params, torch.zeros(3, 4, 5), torch.zeros(3, 4, 1))


def linear_system_buffer_of_dims(obs_dim: int, act_dim: int) -> ReplayBuffer:
    buf = ReplayBuffer(4, obs_dim, act_dim)
    buf.add(np.zeros(obs_dim), np.zeros(act_dim), np.ones(obs_dim), 0.0, False, False)
    return buf


def test_multi_step_rollout_chains_one_step_predictions() -> None:
    model = small_model("deterministic")
    model.fit(linear_system_buffer(300), steps=20)
    obs0, actions = torch.randn(4, 2), torch.randn(4, 6, 1)
    traj = model.rollout(obs0, actions)
    assert traj.shape == (3, 4, 6, 2)
    obs = obs0.expand(3, 4, 2)
    for h in range(6):
        obs, _ = model.predict(model.params, obs, actions[:, h].expand(3, 4, 1))
        torch.testing.assert_close(traj[:, :, h], obs.detach())
