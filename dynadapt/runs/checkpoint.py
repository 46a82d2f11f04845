"""One checkpointer for every run kind: named components, named random streams and the loop state in one
atomic safetensors + JSON file (``RUN_DIR/checkpoints/last.safetensors``).

A *component* is anything with ``state_dict() -> dict[str, Tensor]`` and ``load_state_dict(state)`` (the
model, a buffer, a continual strategy, SAC, a meta-learner, a policy); its tensors are stored under its
name. The random streams are those :class:`~dynadapt.runs.seeds.Seeds` handed out (torch generator states
as tensors, numpy bit-generator states in the JSON). The loop state is a JSON-safe dict (counters,
evaluation records). The header also records the run kind and how many metrics rows the checkpoint covers,
so that resuming truncates ``metrics.jsonl`` to exactly those rows.

A checkpoint of another kind, with a component missing, or whose tensors do not fit the run's components is
one :class:`~dynadapt.errors.DynadaptError` line (the partly restored runner is then discarded).
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from dynadapt.checks import short
from dynadapt.device import to_device
from dynadapt.errors import CorruptFileError, DynadaptError
from dynadapt.io import flatten, load_tensors, save_tensors, unflatten
from dynadapt.runs.seeds import Seeds

FORMAT = "dynadapt.RunCheckpoint"
VERSION = 2


class Stateful(Protocol):
    def state_dict(self) -> dict[str, Tensor]: ...

    def load_state_dict(self, state: dict[str, Tensor], /) -> None: ...


def save_checkpoint(
    path: str | os.PathLike[str],
    kind: str,
    components: Mapping[str, Stateful],
    seeds: Seeds,
    state: dict[str, Any],
    rows: int,
) -> None:
    """Atomically write the checkpoint of a run of ``kind`` covering ``rows`` metrics rows (CPU copies of
    the tensors: a checkpoint does not depend on the device it was written on)."""
    tensors: dict[str, Tensor] = {}
    for name, comp in components.items():
        tensors |= flatten(f"c.{name}", comp.state_dict())
    tensors |= flatten("rng", seeds.torch_states())
    meta = {
        "version": VERSION,
        "kind": kind,
        "rows": rows,
        "components": sorted(components),
        "numpy_rng": seeds.numpy_states(),
        "state": state,
    }
    save_tensors(path, tensors, FORMAT, meta)


def load_checkpoint(
    path: str | os.PathLike[str],
    kind: str,
    components: Mapping[str, Stateful],
    seeds: Seeds,
    device: torch.device | None = None,
) -> tuple[dict[str, Any], int]:
    """Restore ``components`` and ``seeds`` from ``path`` (the components' tensors mapped to ``device``, the
    run's; None: left on the CPU); returns ``(loop state, rows covered)``."""
    path = Path(path)
    tensors, meta = load_tensors(path, FORMAT)
    if meta.get("kind") != kind:
        raise DynadaptError(f"{path}: checkpoint of a {short(meta.get('kind'))} run, not of a {kind!r} run")
    fields = {"rows": int, "components": list, "numpy_rng": dict, "state": dict}
    for key, tp in fields.items():
        if not isinstance(meta.get(key), tp) or isinstance(meta.get(key), bool):
            raise CorruptFileError(f"{path}: checkpoint field {key!r} is not a JSON {_JSON_NAMES[tp]}")
    state, rows = meta["state"], meta["rows"]
    if rows < 0 or not all(isinstance(c, str) for c in meta["components"]):
        raise CorruptFileError(f"{path}: malformed checkpoint (rows {rows}, components {meta['components']})")
    try:
        missing = sorted(set(components) - set(meta["components"]))
        if missing:
            raise KeyError(f"no saved {', '.join(missing)}")
        for name, comp in components.items():
            saved = unflatten(f"c.{name}", tensors)
            comp.load_state_dict(saved if device is None else to_device(saved, device))
        seeds.restore(unflatten("rng", tensors), meta["numpy_rng"])
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as e:
        raise DynadaptError(f"{path}: checkpoint does not match this run ({e})") from None
    return state, rows


_JSON_NAMES = {int: "integer", float: "number", list: "list", dict: "object", str: "string", bool: "boolean"}


def _json_type(value: Any) -> type | None:
    """The JSON type of ``value`` (integers and floats are both numbers; None: null or not JSON)."""
    if isinstance(value, bool):
        return bool
    if isinstance(value, numbers.Real):
        return float
    if isinstance(value, list | tuple):
        return list
    return type(value) if isinstance(value, str | dict) else None


def check_loop_state(path: Path, state: dict[str, Any], current: dict[str, Any]) -> None:
    """Raise unless the saved loop ``state`` has every field of ``current`` (the runner's freshly built
    loop state) with a value of the same JSON type (a field that starts as null takes any)."""
    for name, value in current.items():
        if name not in state:
            raise DynadaptError(f"{path}: checkpoint does not match this run (no {name})")
        want = _json_type(value)
        if want is not None and _json_type(state[name]) is not want:
            raise CorruptFileError(
                f"{path}: loop state {name!r} is {short(state[name], 40)}, not a JSON {_JSON_NAMES[want]}"
            )


class TensorDict(dict[str, Tensor]):
    """Named tensors as a checkpoint component (e.g. an aggregated data set)."""

    def state_dict(self) -> dict[str, Tensor]:
        return dict(self)

    def load_state_dict(self, state: dict[str, Tensor], /) -> None:
        self.clear()
        self.update({k: v.clone() for k, v in state.items()})


class IndexedTensors(dict[int, dict[str, Tensor]]):
    """Tensor dicts by integer index (e.g. one held-out episode per task) as a checkpoint component."""

    def state_dict(self) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for i, tensors in self.items():
            out |= flatten(str(i), tensors)
        return out

    def load_state_dict(self, state: dict[str, Tensor], /) -> None:
        self.clear()
        for key, value in state.items():
            i, name = key.split(".", 1)
            self.setdefault(int(i), {})[name] = value.clone()
