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


# ------------------------------------------------------------------------------ per-task normalisers
def _obs_act(n: int = 50, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=g), torch.randn(n, 1, generator=g)


def test_per_task_normalizers_are_independent_and_selected_by_id() -> None:
    model = small_model("deterministic")
    assert model.num_tasks == 1 and model.normalizers(0) == (model.input_norm, model.target_norm)
    obs, act = _obs_act()
    model.observe(obs, act, obs + 1.0, task=0)
    model.observe(3 * obs + 5, act, 3 * obs + 3, task=1)  # the next task id adds a fresh pair
    assert model.num_tasks == 2
    with pytest.raises(DynadaptError, match="task 3"):
        model.normalizers(3)
    (inp0, tgt0), (inp1, tgt1) = model.normalizers(0), model.normalizers(1)
    assert inp0.count == inp1.count == 50 and inp0 is model.input_norm and tgt0 is model.target_norm
    torch.testing.assert_close(tgt0.mean, torch.ones(2))
    torch.testing.assert_close(tgt1.mean, torch.full((2,), -2.0))
    assert not torch.allclose(inp0.mean, inp1.mean)
    # features, predict, task_predict and rollout use the statistics of the task asked for
    eo, ea = obs.expand(3, -1, -1), act.expand(3, -1, -1)
    x1 = inp1.normalize(torch.cat([eo, ea], -1))
    assert torch.equal(model.features(eo, ea, task=1), x1)
    expected = eo + forward(model.spec, model.params, x1) * tgt1.std + tgt1.mean
    mean1 = model.predict(model.params, eo, ea, task=1)[0]
    torch.testing.assert_close(mean1, expected)
    assert torch.equal(model.task_predict(1)(model.params, eo, ea)[0], mean1)
    assert not torch.allclose(model.predict(model.params, eo, ea)[0], mean1)
    traj = model.rollout(obs, act[:, None], task=1)
    assert torch.equal(traj[:, :, 0], mean1.detach())
    # freezing one task's statistics leaves the other's growing; input_norm / target_norm are read-only
    model.freeze_normalizers(1)
    model.observe(obs, act, obs, task=1)
    model.observe(obs, act, obs, task=0)
    assert inp1.count == tgt1.count == 50 and inp0.count == tgt0.count == 100
    with pytest.raises(AttributeError):
        model.input_norm = Normalizer(3)  # type: ignore[misc]


def test_transitions_is_the_hand_computation() -> None:
    cfg = ModelConfig(ensemble_size=2, hidden=(8,))
    model = DynamicsModel(2, 1, cfg, obs_preproc=lambda o: torch.cat([o.sin(), o.cos()], -1), feature_dim=4)
    buf = linear_system_buffer(200)
    model.fit(buf, steps=2)  # task 0's statistics from the buffer
    data = buf.all()
    model.observe(2 * data["obs"], data["act"], data["next_obs"], task=1)
    for task in (0, 1):
        inp, tgt = model.normalizers(task)
        x, y = model.transitions(data, task=task)
        obs = data["obs"]
        assert torch.equal(x, inp.normalize(torch.cat([obs.sin(), obs.cos(), data["act"]], dim=-1)))
        assert torch.equal(y, tgt.normalize(data["next_obs"] - obs))
        assert torch.equal(x, model.features(obs, data["act"], task))


def test_state_dict_round_trip_with_three_tasks(tmp_path) -> None:
    model = small_model()
    obs, act = _obs_act()
    for t in range(3):
        model.observe((t + 1) * obs, act, (t + 1) * obs + t, task=t)
    model.freeze_normalizers(1)
    state = model.state_dict()
    assert {
        "input_norm.mean64",
        "target_norm.m2",
        "task1.input_norm.count",
        "task2.target_norm.frozen",
    } <= set(state)
    assert not any(k.startswith("task0.") for k in state)
    for other in (small_model(seed=1), _loaded(model, tmp_path)):
        if other.num_tasks == 1:
            other.load_state_dict(state)
        assert other.num_tasks == 3
        for t in range(3):
            for a, b in zip(model.normalizers(t), other.normalizers(t)):
                assert a.count == b.count and a.frozen == b.frozen
                assert torch.equal(a.mean, b.mean) and torch.equal(a.std, b.std)
    # a state of fewer tasks replaces the model's tasks
    single = small_model(seed=2)
    model.load_state_dict(single.state_dict())
    assert model.num_tasks == 1


def _loaded(model: DynamicsModel, tmp_path) -> DynamicsModel:
    model.save(tmp_path / "m.safetensors")
    return DynamicsModel.load(tmp_path / "m.safetensors")


def test_old_format_state_dict_still_loads(tmp_path) -> None:
    """A model file from before per-task normalisers (task 0's under ``input_norm.*``/``target_norm.*``)."""
    from dynadapt.io import flatten, save_tensors
    from dynadapt.models.dynamics import FORMAT

    model = small_model()
    buf = linear_system_buffer(300)
    model.fit(buf, steps=5)
    old = flatten("params", {k: v.detach() for k, v in model.params.items()})
    old |= flatten("input_norm", model.input_norm.state_dict())
    old |= flatten("target_norm", model.target_norm.state_dict())
    old |= {"elites": torch.tensor(model.elites), "fitted_up_to": torch.tensor([model.fitted_up_to])}
    save_tensors(tmp_path / "old.safetensors", old, FORMAT, model.meta())
    loaded = DynamicsModel.load(tmp_path / "old.safetensors")
    assert loaded.num_tasks == 1 and loaded.input_norm.count == model.input_norm.count == 300
    obs, act = torch.randn(3, 5, 2), torch.randn(3, 5, 1)
    assert torch.equal(loaded.predict(loaded.params, obs, act)[0], model.predict(model.params, obs, act)[0])
