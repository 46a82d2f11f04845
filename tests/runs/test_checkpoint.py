"""Named random streams and the one checkpointer every run kind uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dynadapt.data import ReplayBuffer
from dynadapt.errors import DynadaptError
from dynadapt.runs.checkpoint import IndexedTensors, TensorDict, load_checkpoint, save_checkpoint
from dynadapt.runs.seeds import Seeds


def test_streams_are_named_not_positional() -> None:
    a, b = Seeds(3), Seeds(3)
    a.torch("model"), a.numpy("act")  # other streams handed out first change nothing
    assert torch.equal(torch.rand(5, generator=a.torch("plan")), torch.rand(5, generator=b.torch("plan")))
    assert a.int("env") == b.int("env") != a.int("plan")
    assert Seeds(3).int("env") != Seeds(4).int("env")
    assert a.torch("plan") is a.torch("plan")  # one generator per name


def test_checkpoint_round_trip_restores_components_streams_and_state(tmp_path: Path) -> None:
    seeds = Seeds(0)
    gen, rng = seeds.torch("plan"), seeds.numpy("act")
    buf = ReplayBuffer(10, 2, 1)
    buf.add(np.ones(2), np.ones(1), np.zeros(2), 1.0, False, False)
    data = TensorDict(x=torch.arange(3.0))
    held = IndexedTensors({2: {"obs": torch.ones(2, 2)}})
    path = tmp_path / "last.safetensors"
    save_checkpoint(path, "mbrl", {"buffer": buf, "data": data, "held": held}, seeds, {"episode": 4}, rows=5)
    expected = torch.rand(3, generator=gen), rng.uniform(size=2)

    again = Seeds(0)
    gen2, rng2 = again.torch("plan"), again.numpy("act")
    buf2, data2, held2 = ReplayBuffer(10, 2, 1), TensorDict(), IndexedTensors()
    state, rows = load_checkpoint(path, "mbrl", {"buffer": buf2, "data": data2, "held": held2}, again)
    assert (state, rows) == ({"episode": 4}, 5)
    assert (
        len(buf2) == 1 and torch.equal(data2["x"], data["x"]) and torch.equal(held2[2]["obs"], held[2]["obs"])
    )
    assert torch.equal(torch.rand(3, generator=gen2), expected[0])
    assert np.array_equal(rng2.uniform(size=2), expected[1])


def test_a_checkpoint_of_another_kind_or_run_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "last.safetensors"
    save_checkpoint(path, "mbrl", {"data": TensorDict(x=torch.ones(2))}, Seeds(0), {}, rows=1)
    with pytest.raises(DynadaptError, match="checkpoint of a 'mbrl' run, not of a 'meta' run"):
        load_checkpoint(path, "meta", {"data": TensorDict()}, Seeds(0))
    with pytest.raises(DynadaptError, match=r"does not match this run.*no saved buffer"):
        load_checkpoint(path, "mbrl", {"buffer": ReplayBuffer(4, 2, 1)}, Seeds(0))
    seeds = Seeds(0)
    seeds.torch("plan")  # a stream the checkpoint does not have
    with pytest.raises(DynadaptError, match="does not match this run"):
        load_checkpoint(path, "mbrl", {"data": TensorDict()}, seeds)
