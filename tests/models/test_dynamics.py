import functools
import math

import numpy as np
import pytest
import torch

from dynadapt.data import ReplayBuffer
from dynadapt.data.buffer import holdout_mask
from dynadapt.errors import CorruptFileError, DynadaptError
from dynadapt.models import DynamicsModel, ModelConfig, Normalizer
from dynadapt.nets import forward

EPS32 = torch.finfo(torch.float32).eps
EPS64 = torch.finfo(torch.float64).eps


def as_float64(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same parameter values in float64 (comparisons of two computation paths then hold to a few
    hundred float64 ulps on any CPU)."""
    return {k: v.detach().double() for k, v in params.items()}


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


def _softplus(z: float) -> float:
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def test_gaussian_loss_is_the_soft_bounded_nll_plus_the_bound_penalty_by_hand() -> None:
    """Per member: mean over rows and dims of (μ − y)² e^{−ℓ} + ℓ, ℓ the raw log-variance soft-bounded
    by the member's ℓmax, ℓmin (ℓ = ℓmax − softplus(ℓmax − ℓ̃), then ℓmin + softplus(ℓ − ℓmin)), plus
    0.01·(Σℓmax − Σℓmin) (PETS; reference §1.1), element by element in float64; the MSE head's loss is the
    mean squared error."""
    cfg = ModelConfig(ensemble_size=2, hidden=(5,), activation="tanh", head="gaussian")
    model = DynamicsModel(2, 1, cfg, generator=torch.Generator().manual_seed(0))
    p = as_float64(model.params)
    p["layers.1.weight"] = 8 * p["layers.1.weight"]  # raw log-variances beyond both bounds
    p["max_logvar"] = torch.tensor([[0.3, 0.5], [0.1, -0.2]], dtype=torch.float64)
    p["min_logvar"] = torch.tensor([[-1.0, -2.0], [-0.5, -1.5]], dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 6, 3, generator=g, dtype=torch.float64)
    y = torch.randn(2, 6, 2, generator=g, dtype=torch.float64)
    loss = model.loss(p, x, y)
    above = below = 0
    for e in range(2):
        w0, b0, w1, b1 = (p[f"layers.{i}.{k}"][e].tolist() for i in (0, 1) for k in ("weight", "bias"))
        hi, lo = p["max_logvar"][e].tolist(), p["min_logvar"][e].tolist()
        total = 0.0
        for n in range(6):
            xs = x[e, n].tolist()
            h = [math.tanh(sum(xs[i] * w0[i][j] for i in range(3)) + b0[j]) for j in range(5)]
            out = [sum(h[j] * w1[j][k] for j in range(5)) + b1[k] for k in range(4)]
            for d in range(2):
                mu, raw = out[d], out[2 + d]
                above, below = above + (raw > hi[d] + 1), below + (raw < lo[d] - 1)
                lv = hi[d] - _softplus(hi[d] - raw)
                lv = lo[d] + _softplus(lv - lo[d])
                total += (mu - float(y[e, n, d])) ** 2 * math.exp(-lv) + lv
        hand = total / 12 + 0.01 * (sum(hi) - sum(lo))
        assert float(loss[e]) == pytest.approx(hand, rel=1e3 * EPS64)
    assert above > 0 and below > 0  # both soft bounds are exercised
    mse_model = DynamicsModel(2, 1, ModelConfig(ensemble_size=2, hidden=(5,), head="deterministic"))
    q = as_float64(mse_model.params)
    mean = forward(mse_model.spec, q, x)
    torch.testing.assert_close(
        mse_model.loss(q, x, y), ((mean - y) ** 2).mean(dim=(1, 2)), rtol=1e3 * EPS64, atol=0.0
    )


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
    p = as_float64(model.params)
    obs, act = torch.randn(2, 7, 2, dtype=torch.float64), torch.randn(2, 7, 1, dtype=torch.float64)
    x = model.input_norm.normalize(torch.cat([obs.sin(), obs.cos(), act], -1))
    out = forward(model.spec, p, x)
    expected = obs + out[..., :2] * model.target_norm.std + model.target_norm.mean
    torch.testing.assert_close(model.predict(p, obs, act)[0], expected, rtol=1e3 * EPS64, atol=1e3 * EPS64)


def test_fixed_steps_and_determinism() -> None:
    buf = linear_system_buffer(300)
    a, b = small_model(seed=4), small_model(seed=4)
    ra, _rb = a.fit(buf, steps=25), b.fit(buf, steps=25)
    assert ra.steps == 25
    for k in a.params:
        assert torch.equal(a.params[k], b.params[k])


def _rows_seen(
    model: DynamicsModel, buf: ReplayBuffer, monkeypatch: pytest.MonkeyPatch
) -> list[torch.Tensor]:
    """Fit ``model`` on ``buf`` (no held-out data) and return, for every epoch, the training rows each
    member was trained on, in order: ``[E, n]`` indices into the buffer."""
    seen: list[torch.Tensor] = []
    ends: list[int] = []
    loss = model.loss

    def recording_loss(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        seen.append(x.detach().clone())
        return loss(params, x, y)

    monkeypatch.setattr(model, "loss", recording_loss)
    model.fit(buf, progress=lambda epoch, _: ends.append(len(seen)))
    x_all, _ = model.transitions(buf.all())
    out = []
    for start, end in zip([0, *ends[:-1]], ends):
        rows = torch.cat(seen[start:end], dim=1)  # [E, n, D]
        match = (rows[:, :, None, :] == x_all[None, None]).all(-1)  # [E, n, N]
        assert (match.sum(-1) == 1).all()  # every row is one buffer row
        out.append(match.to(torch.int64).argmax(-1))
    return out


def test_bootstrap_sample_is_drawn_once_per_fit_and_differs_between_members(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PETS draws each member's bootstrap sample once per fit and reshuffles it every epoch (pitfall M10):
    over a fit a member never sees a row outside its sample, and members' samples differ."""
    n, epochs = 120, 6
    buf = linear_system_buffer(n)
    cfg = functools.partial(
        ModelConfig, ensemble_size=3, hidden=(8,), batch_size=16, max_epochs=epochs, holdout_ratio=0.0
    )
    model = DynamicsModel(2, 1, cfg(bootstrap=True), generator=torch.Generator().manual_seed(0))
    fits = [_rows_seen(model, buf, monkeypatch) for _ in range(2)]
    for per_epoch in fits:
        assert len(per_epoch) == epochs
        sample = per_epoch[0].sort(dim=1).values  # [E, n], with repeats
        for idx in per_epoch[1:]:
            assert torch.equal(idx.sort(dim=1).values, sample)  # the same rows, as often, every epoch
            assert not torch.equal(idx, per_epoch[0])  # reshuffled
        for e in range(3):
            distinct = sample[e].unique().numel()
            assert 0.5 * n < distinct < 0.8 * n  # a bootstrap sample: ~1 − 1/e of the rows
            seen = torch.cat([idx[e] for idx in per_epoch]).unique()
            assert torch.equal(seen, sample[e].unique())  # nothing outside the sample over the whole fit
        assert not torch.equal(sample[0], sample[1]) and not torch.equal(sample[1], sample[2])
    assert not torch.equal(fits[0][0].sort(dim=1).values, fits[1][0].sort(dim=1).values)  # new fit, new draw
    # without bootstrap every member sees every training row exactly once per epoch
    plain = DynamicsModel(2, 1, cfg(), generator=torch.Generator().manual_seed(0))
    for idx in _rows_seen(plain, buf, monkeypatch):
        assert torch.equal(idx.sort(dim=1).values, torch.arange(n).expand(3, n))


def test_early_stopping_restores_each_members_best_weights_not_the_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Member 0's weights are destroyed after epoch 2, every member's after epoch 4 with training frozen
    (lr 0), so the last epochs are far worse and the members' best epochs differ: the fit must end with
    each member's parameters of its own best epoch (the last one that improved its held-out MSE by more
    than 1 %), not the last ones, nor those of the epoch where the ensemble as a whole was best."""
    buf = linear_system_buffer(300)
    model = small_model(patience=2)
    data = buf.all()
    snapshots: list[dict[str, torch.Tensor]] = []
    val: list[torch.Tensor] = []

    def held_out_mse() -> torch.Tensor:
        x, y = model.transitions(data)
        held = holdout_mask(data["id"], model.cfg.holdout_ratio)
        e = model.cfg.ensemble_size
        with torch.no_grad():
            return model.mse(model.params, x[held].expand(e, -1, -1), y[held].expand(e, -1, -1))

    def progress(epoch: int, _: float) -> None:
        snapshots.append({k: v.detach().clone() for k, v in model.params.items()})
        val.append(held_out_mse())
        if epoch in (2, 4):
            members = slice(0, 1) if epoch == 2 else slice(None)
            with torch.no_grad():
                for k, v in model.params.items():
                    if k.startswith("layers."):
                        noise = torch.randn(v.shape, generator=torch.Generator().manual_seed(epoch))
                        v[members] += noise[members]
        if epoch == 4:
            for group in model.optimizer.param_groups:
                group["lr"] = 0.0

    initial = {k: v.detach().clone() for k, v in model.params.items()}
    model.update_normalizers(buf)  # the fit's statistics (the buffer does not change)
    best = held_out_mse()
    result = model.fit(buf, progress=progress)
    assert result.epochs == 6  # 4 improving epochs, then patience 2 without improvement
    assert (val[-1] > 10 * torch.stack(val).min(0).values).all()  # the last epoch is far worse than the best
    best_epochs = []
    for e in range(model.cfg.ensemble_size):
        best_params, best_e, best_epoch = {k: v[e] for k, v in initial.items()}, float(best[e]), 0
        for epoch, (snap, v) in enumerate(zip(snapshots, val), start=1):
            if (best_e - float(v[e])) / best_e > 0.01:
                best_params, best_e, best_epoch = {k: t[e] for k, t in snap.items()}, float(v[e]), epoch
        best_epochs.append(best_epoch)
        assert best_params["layers.0.weight"].ne(snapshots[-1]["layers.0.weight"][e]).any()
        for k, v in best_params.items():
            assert torch.equal(model.params[k][e], v), (e, k)
        # the same float32 computation again (MKL may sum in another order): a few ulps of a mean of 120 terms
        assert result.val_loss_members[e] == pytest.approx(best_e, rel=16 * EPS32)
    assert best_epochs == [2, 4, 4]
    assert result.val_loss == pytest.approx(np.mean(result.val_loss_members), rel=4 * EPS32)


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
    p = as_float64(model.params)
    obs0, actions = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 6, 1, dtype=torch.float64)
    traj = model.rollout(obs0, actions, p)
    assert traj.shape == (3, 4, 6, 2)
    obs = obs0.expand(3, 4, 2)
    for h in range(6):
        obs, _ = model.predict(p, obs, actions[:, h].expand(3, 4, 1))
        torch.testing.assert_close(traj[:, :, h], obs, rtol=1e3 * EPS64, atol=1e3 * EPS64)


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
    eo, ea = obs.expand(3, -1, -1).double(), act.expand(3, -1, -1).double()
    p = as_float64(model.params)
    x1 = inp1.normalize(torch.cat([eo, ea], -1))
    assert torch.equal(model.features(eo, ea, task=1), x1)
    expected = eo + forward(model.spec, p, x1) * tgt1.std + tgt1.mean
    mean1 = model.predict(p, eo, ea, task=1)[0]
    torch.testing.assert_close(mean1, expected, rtol=1e3 * EPS64, atol=1e3 * EPS64)
    assert torch.equal(model.task_predict(1)(p, eo, ea)[0], mean1)
    assert not torch.allclose(model.predict(p, eo, ea)[0], mean1)
    traj = model.rollout(obs.double(), act[:, None].double(), p, task=1)
    assert torch.equal(traj[:, :, 0], mean1)
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
