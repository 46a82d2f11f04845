"""The grid of a sweep: presets x override axes x seeds, from the command line or a TOML/JSON file.

A *method* is one preset with one combination of the varied overrides; a *trial* is a method run with
one seed. Seeds are replicates of a method (``dynadapt compare`` aggregates over them).

On the command line, an override key given once applies to every trial; a key given several times is an
axis of the grid (bash brace expansion writes it for you)::

    dynadapt sweep pets-pendulum pets-cartpole --seeds 0-2 episodes=5 planner.population={100,200}

A grid file says the same (TOML shown; JSON with the same keys works too)::

    presets = ["pets-pendulum", "pets-cartpole"]
    seeds = [0, 1, 2]                 # or "0-2"
    [set]                             # overrides for every trial
    episodes = 5
    "model.hidden" = [64, 64]         # a list value of a tuple field is one value
    [grid]                            # axes: every key lists its values
    "planner.population" = [100, 200]
    [methods.icem-pendulum]           # named methods: a preset with its own overrides (no axes applied)
    preset = "pets-pendulum"
    planner = "icem"

Every trial's config is built (preset + overrides, validated) before anything runs, so an unknown preset,
field or invalid value is one error line and nothing is written. Seeds are integers in ``[0, 2**63)``; a
sweep takes at most :data:`MAX_SEEDS` of them (``--seeds 0-300000`` is one error line, and parsing a seed
list takes linear time) and at most :data:`MAX_TRIALS` trials.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dynadapt.checks import check_seed, need_str, safe_name, short
from dynadapt.errors import DynadaptError
from dynadapt.io import read_data_file


@dataclass(frozen=True)
class Trial:
    """One run of a sweep: ``preset`` with ``overrides`` (in order) and ``seed``."""

    name: str
    """Directory name of the trial's run under the sweep directory (unique, filesystem-safe)."""
    method: str
    """The method label: the preset, then the varied overrides (``pets-pendulum planner.population=20``)."""
    preset: str
    overrides: tuple[tuple[str, str], ...]
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "method": self.method,
            "preset": self.preset,
            "overrides": [list(kv) for kv in self.overrides],
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trial:
        """The trial recorded in a manifest; its name must be a plain directory name (it is one under the
        sweep directory, which a re-run may clear), its seed a seed."""
        return cls(
            name=safe_name(d["name"], "trial name"),
            method=need_str(d["method"], "trial method"),
            preset=need_str(d["preset"], "trial preset"),
            overrides=tuple((need_str(k, "override key"), str(v)) for k, v in d["overrides"]),
            seed=check_seed(d["seed"], "trial seed"),
        )


@dataclass
class SweepSpec:
    """What to run: presets x axes x seeds (plus named methods), with overrides common to every trial."""

    presets: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0])
    common: list[tuple[str, str]] = field(default_factory=list)
    """Overrides applied to every trial (before a method's own)."""
    axes: dict[str, list[str]] = field(default_factory=dict)
    """Varied overrides: every combination of their values is one method per preset."""
    methods: dict[str, tuple[str, list[tuple[str, str]]]] = field(default_factory=dict)
    """Named methods: label -> (preset, overrides)."""

    def trials(self) -> list[Trial]:
        """Every trial, method-major then seed (the order they are started in)."""
        if not self.presets and not self.methods:
            raise DynadaptError("a sweep needs at least one preset (or a [methods] table in the grid file)")
        if not self.seeds:
            raise DynadaptError("a sweep needs at least one seed")
        keys = list(self.axes)
        count = (len(self.presets) * math.prod(len(v) for v in self.axes.values()) + len(self.methods)) * len(
            self.seeds
        )
        if count > MAX_TRIALS:
            raise DynadaptError(f"the grid has {count} trials, more than the {MAX_TRIALS} a sweep takes")
        methods: list[tuple[str, str, list[tuple[str, str]]]] = []
        for preset in self.presets:
            for values in itertools.product(*(self.axes[k] for k in keys)):
                varied = list(zip(keys, values))
                label = " ".join([preset, *(f"{k}={v}" for k, v in varied)])
                methods.append((label, preset, varied))
        for label, (preset, own) in self.methods.items():
            methods.append((label, preset, list(own)))
        out: list[Trial] = []
        names: set[str] = set()
        for label, preset, own in methods:
            for seed in self.seeds:
                name = trial_dir_name(label, seed)
                if name in names:
                    raise DynadaptError(f"the grid lists method {label!r} with seed {seed} twice")
                names.add(name)
                overrides = tuple((*self.common, *own))
                out.append(Trial(name, label, preset, overrides, seed))
        return out


def trial_dir_name(method: str, seed: int) -> str:
    """A short, filesystem-safe, deterministic directory name for ``method`` with ``seed``."""
    safe = re.sub(r"[^A-Za-z0-9._=+-]+|\.\.+", "_", method.replace(" ", "__")).strip("_").lstrip(".")
    if len(safe) > 80:
        digest = hashlib.sha1(method.encode()).hexdigest()[:10]
        safe = f"{safe[:60]}-{digest}"
    return f"{safe}__s{seed}"


MAX_TRIALS = 100_000
"""The most trials a sweep takes (presets x axes x seeds)."""
MAX_SEEDS = 10_000
"""The most seeds a sweep takes (``--seeds`` or a grid file): replicates, not a search space."""


def parse_seeds(text: str) -> list[int]:
    """``"0,1,5"``, ``"0-4"`` or a mix (``"0-2,7"``) -> a list of distinct seeds in order (linear time; at
    most :data:`MAX_SEEDS`, each in ``[0, 2**63)``)."""
    seeds: dict[int, None] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        m = re.fullmatch(r"(\d{1,19})(?:-(\d{1,19}))?", part)
        if m is None:
            raise DynadaptError(f"--seeds expects seeds (0 to 2**63-1) or ranges like 0-4, got {short(part)}")
        lo = check_seed(int(m.group(1)), "--seeds: a seed")
        hi = check_seed(int(m.group(2)), "--seeds: a seed") if m.group(2) is not None else lo
        if hi < lo:
            raise DynadaptError(f"--seeds range {part!r} is empty")
        if len(seeds) + hi - lo + 1 > MAX_SEEDS:
            raise DynadaptError(f"--seeds lists more than {MAX_SEEDS} seeds")
        seeds.update(dict.fromkeys(range(lo, hi + 1)))
    if not seeds:
        raise DynadaptError("--seeds lists no seed")
    return list(seeds)


def value_text(value: Any, where: str) -> str:
    """A grid-file value as the command-line text of an override (lists of a tuple field join with ",")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, int | float | str) for v in value):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    raise DynadaptError(f"{where}: cannot use {value!r} as an override value")


def split_overrides(pairs: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """Command-line overrides -> (common, axes): a key given more than once is an axis."""
    counts: dict[str, int] = {}
    for k, _ in pairs:
        counts[k] = counts.get(k, 0) + 1
    common = [(k, v) for k, v in pairs if counts[k] == 1]
    axes: dict[str, list[str]] = {}
    for k, v in pairs:
        if counts[k] > 1:
            values = axes.setdefault(k, [])
            if v in values:
                raise DynadaptError(f"override {k}={v} is given twice")
            values.append(v)
    return common, axes


def load_grid_file(path: Path) -> SweepSpec:
    """Read a TOML (``.toml``) or JSON grid file (see the module docstring)."""
    if not path.is_file():
        raise DynadaptError(f"{path}: no such grid file")
    data = read_data_file(path)
    if not isinstance(data, dict):
        raise DynadaptError(f"{path}: a grid file holds a table of settings")
    known = {"presets", "seeds", "set", "grid", "methods"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise DynadaptError(
            f"{path}: unknown grid-file key {unknown[0]!r}; known: {', '.join(sorted(known))}"
        )
    spec = SweepSpec()
    presets = data.get("presets", [])
    if isinstance(presets, str):
        presets = [presets]
    if not isinstance(presets, list) or not all(isinstance(p, str) for p in presets):
        raise DynadaptError(f"{path}: presets must be a list of preset names")
    spec.presets = list(presets)
    seeds = data.get("seeds", [0])
    if isinstance(seeds, str):
        spec.seeds = parse_seeds(seeds)
    elif isinstance(seeds, int) and not isinstance(seeds, bool):
        spec.seeds = [check_seed(seeds, f"{path}: seeds")]
    elif isinstance(seeds, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        spec.seeds = list(dict.fromkeys(check_seed(s, f"{path}: seeds") for s in seeds))
        if len(spec.seeds) > MAX_SEEDS:
            raise DynadaptError(f"{path}: seeds lists more than {MAX_SEEDS} seeds")
    else:
        raise DynadaptError(f'{path}: seeds must be a list of integers or a range like "0-4"')
    for section in ("set", "grid", "methods"):
        if not isinstance(data.get(section, {}), dict):
            raise DynadaptError(f"{path}: [{section}] must be a table")
    spec.common = [(k, value_text(v, f"{path}: set.{k}")) for k, v in data.get("set", {}).items()]
    for k, values in data.get("grid", {}).items():
        if not isinstance(values, list) or not values:
            raise DynadaptError(f"{path}: grid.{k} must list at least one value")
        texts = [value_text(v, f"{path}: grid.{k}") for v in values]
        if len(set(texts)) != len(texts):
            raise DynadaptError(f"{path}: grid.{k} lists a value twice")
        spec.axes[k] = texts
    for label, body in data.get("methods", {}).items():
        if not isinstance(body, dict) or not isinstance(body.get("preset"), str):
            raise DynadaptError(f'{path}: methods.{label} needs preset = "NAME"')
        own = [(k, value_text(v, f"{path}: methods.{label}.{k}")) for k, v in body.items() if k != "preset"]
        spec.methods[str(label)] = (body["preset"], own)
    return spec


def validate(trials: list[Trial]) -> None:
    """Build every trial's config (preset + overrides + seed); the first mistake raises DynadaptError."""
    from dynadapt.runs.config import apply_overrides
    from dynadapt.runs.presets import get_preset

    for trial in trials:
        preset = get_preset(trial.preset)
        try:
            apply_overrides(preset.make(), [*trial.overrides, ("seed", str(trial.seed))])
        except DynadaptError as e:
            raise DynadaptError(f"{e} (in method {trial.method!r})") from None
