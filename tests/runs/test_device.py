"""The device option: validation, every kind's tensors on its device, device-independent checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dynadapt.cli import main
from dynadapt.device import held_tensors, relocate, resolve_device, same_device
from dynadapt.errors import DynadaptError
from dynadapt.io import load_tensors
from dynadapt.runs.checkpoint import FORMAT
from dynadapt.runs.kinds import get_kind
from dynadapt.runs.rundir import RunDir
from dynadapt.runs.seeds import Seeds
from tests.runs.tiny import TINY, tiny

DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
"""The devices there are here (the test below runs on a GPU wherever one is lent)."""


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "cuda:-1", "cpu:0", "", "CUDA", "cuda:١"])
def test_an_unknown_device_is_one_error(spec: str) -> None:
    with pytest.raises(DynadaptError, match="unknown device"):
        resolve_device(spec)


def test_auto_and_cpu_resolve() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is available here")
def test_cuda_where_there_is_none_is_one_cli_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(DynadaptError, match="no CUDA GPU"):
        resolve_device("cuda:0")
    assert main(["run", "pets-pendulum", "--out", str(tmp_path / "run"), "--quiet", "device=cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no CUDA GPU" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_relocate_keeps_identity_and_shared_storage() -> None:
    w = torch.randn(3, 4, requires_grad=True)
    view = w.detach()[1]  # what a planner holds: a view of the model's params
    opt = torch.optim.Adam([w], lr=0.1)
    w.sum().backward()
    opt.step()
    before = w.untyped_storage().data_ptr()
    relocate([w, view, *held_tensors(opt)], torch.device("cpu"))  # a copy of every storage
    assert w.untyped_storage().data_ptr() != before
    assert view.untyped_storage().data_ptr() == w.untyped_storage().data_ptr()
    assert opt.param_groups[0]["params"][0] is w
    opt.step()
    assert torch.equal(view, w.detach()[1])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", sorted(TINY))
def test_every_tensor_of_a_run_lives_on_its_device(kind: str, device: str, tmp_path: Path) -> None:
    preset, cfg = tiny(kind, f"device={device}")
    runner = get_kind(preset.kind).runner(cfg, RunDir(tmp_path / "run"), preset=preset.name, progress=False)
    runner.step()
    want = torch.device(device)
    wrong = [tuple(t.shape) for t in held_tensors(runner) if not same_device(t.device, want)]
    assert not wrong, f"{len(wrong)} tensors not on {device}: {wrong[:5]}"

    # the checkpoint holds CPU tensors, and a run on the CPU resumes from it (map_location)
    path = tmp_path / "last.safetensors"
    runner.save_checkpoint(path)
    saved, _ = load_tensors(path, FORMAT)
    assert all(t.device.type == "cpu" for t in saved.values())
    _, on_cpu = tiny(kind, "device=cpu")
    other = get_kind(preset.kind).runner(
        on_cpu, RunDir(tmp_path / "other"), preset=preset.name, progress=False
    )
    other.restore(path)
    assert all(t.device.type == "cpu" for t in held_tensors(other))
    for name, comp in runner.components().items():
        theirs = other.components()[name].state_dict()
        for key, value in comp.state_dict().items():
            assert torch.equal(value.cpu(), theirs[key].cpu()), f"{name}.{key}"


def test_a_stream_saved_on_another_device_reseeds_deterministically() -> None:
    a, b = Seeds(5), Seeds(5)
    for seeds in (a, b):
        seeds.torch("plan")
    foreign = {"plan": torch.arange(16, dtype=torch.uint8)}  # a CUDA generator's state: seed and offset
    a.restore(foreign, {})
    b.restore(foreign, {})
    assert torch.equal(torch.rand(4, generator=a.torch("plan")), torch.rand(4, generator=b.torch("plan")))
