"""Tasks and task sequences: named ones from the families, user-defined ones from JSON/TOML files.

A :class:`Task` is one family with its (validated, complete) physical parameters; a sequence is a list of
tasks. Named sequences are addressed as ``"<family>:<sequence>"`` (e.g. ``"cartpole:hypercrl10"``); a
family's meta-learning splits as ``"<family>:split:<split>"`` (e.g. ``"ant_cripple:split:test"``).

A sequence file lists tasks; each task names a family or a registered env id and its parameters::

    # tasks.toml
    [[tasks]]
    env = "cartpole"                          # or "dynadapt/CartpoleSwingup-v0"
    params = { pole_length = 0.6 }

    [[tasks]]
    env = "dynadapt/CartpoleSwingup-v0"
    params = { pole_length = 1.0, pole_mass = 0.8 }

    [[tasks]]
    sequence = "pendulum:hypercrl"            # splice a named sequence

The JSON form is the same object (``{"tasks": [...]}``) or just the list; a task may also be written as a
two-element list ``["cartpole", {"pole_length": 0.8}]``. Every problem (missing file, syntax error, unknown
key, family or parameter, invalid value) raises :class:`~dynadapt.errors.DynadaptError` with the file and
the task's position.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

from dynadapt.checks import need_str, short
from dynadapt.envs.family import RewardFn, TaskFamily, TerminationFn
from dynadapt.envs.registry import family_names, get_family, resolve_family
from dynadapt.errors import DynadaptError, UnknownNameError, WrongTypeError
from dynadapt.io import read_data_file


@dataclass(frozen=True)
class Task:
    """One task: a family name and its full parameter dict (defaults filled in, validated).

    Build it with :meth:`Task.create`, which validates; equality and hashing use the family and the
    parameter values.
    """

    family: str
    params: Mapping[str, Any]

    @classmethod
    def create(cls, family_or_env_id: str, params: Mapping[str, Any] | None = None) -> Task:
        """Validate ``params`` against the family (given by name or env id) and fill in the defaults."""
        family = resolve_family(family_or_env_id)
        return cls(family.name, family.validate(params or {}))

    def __hash__(self) -> int:
        return hash((self.family, tuple(sorted((k, repr(v)) for k, v in self.params.items()))))

    @property
    def task_family(self) -> TaskFamily:
        return get_family(self.family)

    @property
    def env_id(self) -> str:
        return self.task_family.env_id

    def make(self, render_mode: str | None = None) -> gym.Env:
        """``gymnasium.make(env_id, **params)``."""
        return self.task_family.make(render_mode=render_mode, **self.params)

    def reward_fn(self) -> RewardFn:
        """The batched reward function of this task (``TaskFamily.reward_fn_for``)."""
        return self.task_family.reward_fn_for(**self.params)

    def termination_fn(self) -> TerminationFn:
        """The batched termination function of this task."""
        return self.task_family.termination_fn_for(**self.params)

    @property
    def label(self) -> str:
        """Short text naming the task, e.g. ``"cartpole(pole_length=0.8)"``, ``"cartpole(defaults)"``,
        ``"door(handle=round, direction=-1)"`` (see :func:`dynadapt.envs.describe.task_text`)."""
        from dynadapt.envs.describe import task_text

        return f"{self.family}{task_text(self.task_family, self.params)}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"env": env_id, "params": {...}}`` (the format :func:`load_sequence` reads)."""
        return {"env": self.env_id, "params": dict(self.params)}


def sequence_names() -> list[str]:
    """Every named sequence and split as ``"<family>:<name>"`` / ``"<family>:split:<name>"``, sorted."""
    names = []
    for name in family_names():
        family = get_family(name)
        names += [f"{name}:{seq}" for seq in family.sequences]
        names += [f"{name}:split:{split}" for split in family.splits]
    return sorted(names)


def named_sequence(name: str) -> list[Task]:
    """The tasks of a named sequence ``"<family>:<sequence>"`` or split ``"<family>:split:<split>"``."""
    parts = need_str(name, "task sequence name").split(":")
    if len(parts) == 2 and parts[0] in family_names():
        family = get_family(parts[0])
        if parts[1] in family.sequences:
            return [Task(family.name, family.validate(p)) for p in family.sequences[parts[1]]]
    if len(parts) == 3 and parts[1] == "split" and parts[0] in family_names():
        family = get_family(parts[0])
        if parts[2] in family.splits:
            return [Task(family.name, family.validate(p)) for p in family.splits[parts[2]]]
    raise UnknownNameError("task sequence", name, sequence_names())


def load_sequence(path_or_name: str | Path) -> list[Task]:
    """Tasks of a named sequence (see :func:`sequence_names`) or of a ``.json``/``.toml`` sequence file
    (bounded in size and nesting, see :func:`dynadapt.io.read_data_file`)."""
    if not isinstance(path_or_name, str | os.PathLike):
        raise WrongTypeError(f"a task sequence is a name or a file path, got {short(path_or_name)}")
    text = str(path_or_name)
    path = Path(path_or_name)
    looks_like_file = path.suffix.lower() in (".json", ".toml") or path.exists()
    if not looks_like_file:
        return named_sequence(text)
    if not path.is_file():
        raise DynadaptError(f"task sequence file {text!r} not found")
    try:
        data = read_data_file(path)
    except OSError as exc:
        raise DynadaptError(f"cannot read task sequence file {text!r}: {exc.strerror}") from None
    return tasks_from_data(data, source=text)


def tasks_from_data(data: Any, source: str = "task sequence") -> list[Task]:
    """Tasks from already-parsed data (the content of a sequence file, or a config's list of tasks)."""
    if isinstance(data, Mapping):
        unknown = set(data) - {"tasks"}
        if unknown:
            raise DynadaptError(f"{source}: unknown top-level key(s) {sorted(unknown)}; expected 'tasks'")
        if "tasks" not in data:
            raise DynadaptError(f"{source}: no 'tasks' list")
        data = data["tasks"]
    if not isinstance(data, Sequence) or isinstance(data, str):
        raise DynadaptError(f"{source}: 'tasks' must be a list, got {type(data).__name__}")
    tasks: list[Task] = []
    for i, entry in enumerate(data, start=1):
        where = f"{source}: task {i}"
        try:
            tasks += _parse_entry(entry)
        except DynadaptError as exc:
            raise _in_context(exc, where) from None
    if not tasks:
        raise DynadaptError(f"{source}: the sequence has no tasks")
    return tasks


def _in_context(exc: DynadaptError, where: str) -> DynadaptError:
    """The same kind of error (e.g. :class:`UnknownNameError`) with ``where`` prepended to its message."""
    new = type(exc).__new__(type(exc))
    Exception.__init__(new, f"{where}: {exc}")
    return new


def _parse_entry(entry: Any) -> list[Task]:
    if isinstance(entry, Sequence) and not isinstance(entry, str):
        if len(entry) != 2 or not isinstance(entry[0], str) or not isinstance(entry[1], Mapping):
            raise DynadaptError("a task list entry must be [env_or_family, {params}]")
        return [Task.create(entry[0], entry[1])]
    if not isinstance(entry, Mapping):
        raise DynadaptError(f"expected a table/object with 'env' and 'params', got {entry!r}")
    keys = set(entry)
    if "sequence" in keys:
        if keys != {"sequence"}:
            raise DynadaptError("an entry with 'sequence' takes no other keys")
        return named_sequence(str(entry["sequence"]))
    unknown = keys - {"env", "family", "params"}
    if unknown:
        raise DynadaptError(f"unknown key(s) {sorted(unknown)}; expected 'env' (or 'family') and 'params'")
    if ("env" in keys) == ("family" in keys):
        raise DynadaptError("give exactly one of 'env' or 'family'")
    name = entry.get("env", entry.get("family"))
    if not isinstance(name, str):
        raise DynadaptError(f"'env' must be a string, got {name!r}")
    params = entry.get("params", {})
    if not isinstance(params, Mapping):
        raise DynadaptError(f"'params' must be a table/object, got {params!r}")
    return [Task.create(name, params)]
