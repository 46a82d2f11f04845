"""Where a run's tensors live: the ``device`` option and the one place that resolves and applies it.

* :func:`resolve_device` turns ``auto | cpu | cuda | cuda:N`` into a :class:`torch.device` (``auto``: the GPU
  when there is one), or raises one :class:`~dynadapt.errors.DynadaptError` line.
* :func:`place` moves every tensor an object holds (its attributes, dicts, lists, modules, optimizers and
  the tensors closures capture) to a device *in place*: each tensor keeps its identity (optimizers and
  closures that hold it see the moved tensor) and tensors that shared storage still share it (the detached
  params a planner plans with stay views of the model's params). On the CPU it does nothing, so that CPU
  results are exactly those of a run that never heard of devices.
* :func:`held_tensors` lists what :func:`place` would move (the test that a run's tensors live on its device).

Environments step on the CPU: only observations (into the agent) and actions (out of it) cross, once per
step each way. Checkpoints hold CPU copies and are loaded with a ``map_location`` (:func:`to_device`), so a
run started on a GPU resumes on a CPU and the other way round.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import Tensor

from dynadapt.errors import DynadaptError

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"


def resolve_device(spec: str | torch.device) -> torch.device:
    """The device of ``spec`` (``auto``: ``cuda`` when a GPU is available, else ``cpu``).

    Raises :class:`DynadaptError` for an unknown string, or for a GPU asked for where none is available."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    if not isinstance(spec, str):
        raise DynadaptError(f"device must be {DEVICE_CHOICES}, not {spec!r}")
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    kind, _, index = spec.partition(":")
    if kind == "cpu" and not index:
        return torch.device("cpu")
    if kind != "cuda" or (index and not (index.isdigit() and index.isascii())):
        raise DynadaptError(f"unknown device {spec!r}; use {DEVICE_CHOICES}")
    if not torch.cuda.is_available():
        raise DynadaptError(f"device={spec}: no CUDA GPU is available here (use device=cpu or device=auto)")
    if index and int(index) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise DynadaptError(
            f"device={spec}: there are only {count} CUDA device(s) (cuda:0..cuda:{count - 1})"
        )
    return torch.device(spec)


def same_device(a: torch.device, b: torch.device) -> bool:
    """Whether ``a`` and ``b`` are the same device (``cuda`` meaning the current CUDA device)."""
    if a.type != b.type:
        return False
    if a.type != "cuda":
        return True
    current = torch.cuda.current_device()
    return (a.index if a.index is not None else current) == (b.index if b.index is not None else current)


def to_device(tensors: Mapping[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    """``tensors`` on ``device`` (the map_location of a checkpoint; on the CPU the same tensors)."""
    return {k: v.to(device) for k, v in tensors.items()}


def _children(obj: Any) -> Iterator[Any]:
    """The objects ``obj`` holds that may hold tensors."""
    if isinstance(obj, Mapping):
        yield from obj.values()
    elif isinstance(obj, list | tuple | set | frozenset):
        yield from obj
    elif isinstance(obj, torch.optim.Optimizer):
        for state in obj.state.values():  # "step" stays on the CPU, as torch's optimizers keep it
            yield from (v for k, v in state.items() if k != "step")
        yield obj.param_groups
    elif isinstance(obj, types.MethodType):
        yield obj.__self__
    elif isinstance(obj, types.FunctionType):
        for cell in obj.__closure__ or ():
            try:
                yield cell.cell_contents
            except ValueError:  # an empty cell
                continue
    elif isinstance(obj, torch.nn.Module) or _ours(obj):
        yield from vars(obj).values()


def _ours(obj: Any) -> bool:
    """Whether ``obj`` is an instance of a dynadapt class (not an env: envs stay on the CPU)."""
    module = type(obj).__module__
    return (
        module.startswith("dynadapt.") and not module.startswith("dynadapt.envs") and hasattr(obj, "__dict__")
    )


def held_tensors(obj: Any) -> Iterator[Tensor]:
    """Every tensor ``obj`` holds, directly or through what it holds (each once)."""
    seen: set[int] = set()
    stack = [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen or item is None or isinstance(item, str | int | float | bool | torch.Generator):
            continue
        seen.add(id(item))
        if isinstance(item, Tensor):
            yield item
        else:
            stack.extend(_children(item))


def place(obj: Any, device: torch.device) -> None:
    """Move every tensor ``obj`` holds to ``device`` in place (nothing to do on the CPU; see the module
    docstring)."""
    if device.type != "cpu":
        relocate([t for t in held_tensors(obj) if not same_device(t.device, device)], device)


def relocate(tensors: list[Tensor], device: torch.device) -> None:
    """Give each of ``tensors`` a copy of its storage on ``device``, in place (the tensor objects stay the
    same, each moved once); tensors that shared a storage share its copy."""
    copies: dict[tuple[str, int], torch.UntypedStorage] = {}
    for t in {id(t): t for t in tensors}.values():
        storage = t.untyped_storage()
        key = (str(t.device), storage.data_ptr())
        if key not in copies:
            same = same_device(t.device, device)
            copies[key] = storage.clone() if same else storage.to(device=device)
        moved = torch.empty(0, dtype=t.dtype, device=device)
        moved.set_(copies[key], t.storage_offset(), t.size(), t.stride())
        with torch.no_grad():
            t.data = moved
