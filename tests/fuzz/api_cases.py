"""Bad calls of the public API, by input class: each must raise a :class:`~dynadapt.errors.DynadaptError`
(and change no file). Wrong types and shapes, non-finite numbers, resources beyond the machine, and crafted
files: safetensors tensor files (buffers, models, checkpoints), sequence, grid and run files."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dynadapt.data import ReplayBuffer
from dynadapt.envs import Task, get_family, load_sequence, named_sequence, render_frames, resolve_family
from dynadapt.envs.sequences import tasks_from_data
from dynadapt.io import load_tensors
from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.nets.mlp import MLPSpec, init_params
from dynadapt.planning import CEMConfig, MPPIConfig, build_planner, planner_config
from dynadapt.runs import launch
from dynadapt.runs.config import apply_overrides, from_dict, parse_override_args
from dynadapt.runs.presets import get_preset
from dynadapt.sweep.compare import compare
from dynadapt.sweep.grid import load_grid_file, parse_seeds
from dynadapt.sweep.report import write_report
from tests.fuzz import world as W


@dataclass
class ApiCase:
    cls: str
    name: str
    call: Callable[[], Any]


def _buffer(w: Path) -> Path:
    buf = ReplayBuffer(10, 3, 1)
    for i in range(4):
        buf.add([0.1 * i, 0.2, 0.3], [0.5], [0.2, 0.2, 0.3], -1.0, False, False, t=i)
    buf.save(w / "buffer.safetensors")
    return w / "buffer.safetensors"


def _model(w: Path) -> Path:
    model = DynamicsModel(3, 1, ModelConfig(hidden=(8,), ensemble_size=2), family="pendulum")
    model.save(w / "model.safetensors")
    return w / "model.safetensors"


def setup_world(w: Path) -> None:
    """The API world: the run files of :func:`tests.fuzz.world.base_world` plus a buffer and a model file."""
    _buffer(w)
    _model(w)
    W.special_files(w)
    (w / "deep.json").write_text(W.deep_json())
    (w / "deep.toml").write_text(W.deep_toml())


def cases(w: Path) -> list[ApiCase]:
    """Every bad call against the world ``w`` (built by :func:`setup_world`)."""
    out: list[ApiCase] = []

    def add(cls: str, name: str, call: Callable[[], Any]) -> None:
        out.append(ApiCase(cls, name, call))

    # task families and sequences --------------------------------------------------------------------
    for bad in (123, None, ["pendulum"], 1.5, b"pendulum", "atlantis"):
        add("types", f"get_family({bad!r})", lambda b=bad: get_family(b))
        add("types", f"resolve_family({bad!r})", lambda b=bad: resolve_family(b))
    for bad in (5, None, 1.5, ["pendulum:hypercrl"], "nope:nothing"):
        add("types", f"load_sequence({bad!r})", lambda b=bad: load_sequence(b))
    add("types", "named_sequence(5)", lambda: named_sequence(5))  # type: ignore[arg-type]
    add("nesting", "load_sequence(deep JSON)", lambda: load_sequence(w / "deep.json"))
    add("nesting", "load_sequence(deep TOML)", lambda: load_sequence(w / "deep.toml"))
    add("paths", "load_sequence(a FIFO named .json)", lambda: load_sequence(w / "fifo"))
    for params in (
        [1, 2],
        "mass=2",
        {"mass": math.inf},
        {"mass": math.nan},
        {"mass": "heavy"},
        {"mass": 10**400},
        {1: 2},
        {"mass": None},
        {"mass": [1.0]},
    ):
        add(
            "types" if not isinstance(params, dict) else "numbers",
            f"Task.create(pendulum, {params!r:.40})",
            lambda p=params: Task.create("pendulum", p),
        )
    add("types", "Task.create(5)", lambda: Task.create(5))  # type: ignore[arg-type]
    for data in (5, {"tasks": 5}, [5], [["pendulum", 5]], [{"env": 5}], [], {"tasks": [], "x": 1}):
        add("types", f"tasks_from_data({data!r})", lambda d=data: tasks_from_data(d))
    fam = get_family("pendulum")
    add("types", "family.validate(5)", lambda: fam.validate(5))  # type: ignore[arg-type]
    add("numbers", "family.make(mass=inf)", lambda: fam.make(mass=math.inf))
    add("numbers", "family.reward_fn_for(length=-1)", lambda: fam.reward_fn_for(length=-1.0))

    # rendering --------------------------------------------------------------------------------------
    for kw in (
        {"frames": 0},
        {"frames": "6"},
        {"frames": 10**9},
        {"seed": -1},
        {"seed": 2**64},
        {"seed": 1.5},
        {"width": 10**9},
        {"steps": -3},
    ):
        add("numbers", f"render_frames(pendulum, {kw})", lambda k=kw: render_frames("pendulum", **k))
    add("types", "render_frames(pendulum, params=[1])", lambda: render_frames("pendulum", [1]))  # type: ignore[arg-type]

    # replay buffer ----------------------------------------------------------------------------------
    for args in (
        ("10", 3, 1),
        (0, 3, 1),
        (10, -1, 1),
        (10, 3, 1.5),
        (True, 3, 1),
        (10, 3, "a"),
        (None, 3, 1),
    ):
        add("types", f"ReplayBuffer{args}", lambda a=args: ReplayBuffer(*a))
    add("resources", "ReplayBuffer(10**13, 3, 1)", lambda: ReplayBuffer(10**13, 3, 1))
    buf = ReplayBuffer(10, 3, 1)
    good = ([0.0, 0.0, 0.0], [0.0], [0.0, 0.0, 0.0])
    for name, (obs, act, nxt, rew) in {
        "obs of 2": ([0.0, 0.0], *good[1:], 0.0),
        "act of 3": (good[0], [0.0, 0.0, 0.0], good[2], 0.0),
        "obs NaN": ([math.nan, 0.0, 0.0], *good[1:], 0.0),
        "act inf": (good[0], [math.inf], good[2], 0.0),
        "reward NaN": (*good, math.nan),
        "reward inf": (*good, -math.inf),
        "reward text": (*good, "x"),
        "obs text": ("abc", *good[1:], 0.0),
        "reward list": (*good, [1.0, 2.0]),
    }.items():
        add(
            "numbers" if "NaN" in name or "inf" in name else "types",
            f"buffer.add({name})",
            lambda o=obs, a=act, n=nxt, r=rew: buf.add(o, a, n, r, False, False),
        )
    add("types", "buffer.sample(-1)", lambda: buf.sample(-1))
    add("types", "buffer.sample('a')", lambda: buf.sample("a"))  # type: ignore[arg-type]
    add("types", "buffer.sample_segments(4, 0)", lambda: buf.sample_segments(4, 0))
    add("types", "buffer.sample_segments('a', 2)", lambda: buf.sample_segments("a", 2))  # type: ignore[arg-type]
    add("arguments", "buffer.sample() of an empty buffer", lambda: buf.sample(4))

    # tensor files -------------------------------------------------------------------------------------
    bfile, mfile = w / "buffer.safetensors", w / "model.safetensors"

    def crafted(name: str, path: Path, change: Callable[[Path], None], load: Callable[[Path], Any]) -> None:
        target = w / f"crafted-{len(out)}.safetensors"

        def call() -> Any:
            target.write_bytes(path.read_bytes())
            change(target)
            return load(target)

        add("safetensors", name, call)

    for what, path, load in (("buffer", bfile, ReplayBuffer.load), ("model", mfile, DynamicsModel.load)):
        crafted(f"{what}: flipped byte", path, W.flip_byte, load)
        crafted(f"{what}: truncated", path, lambda p: p.write_bytes(p.read_bytes()[:200]), load)
        crafted(f"{what}: 3 bytes", path, lambda p: p.write_bytes(b"abc"), load)
        crafted(f"{what}: header length 2**62", path, lambda p: W.rewrite(p, length=2**62), load)
        crafted(f"{what}: header a list", path, lambda p: W.rewrite(p, header=[1]), load)
        crafted(
            f"{what}: dynadapt JSON a list",
            path,
            lambda p: W.rewrite(p, header={"__metadata__": {"dynadapt": "[1]"}}),
            load,
        )
        crafted(f"{what}: deep header", path, lambda p: W.rewrite(p, header=W.deep_json()), load)
        crafted(
            f"{what}: format edited", path, lambda p: W.edit_header(p, lambda m: {**m, "format": "x"}), load
        )
        crafted(f"{what}: unknown dtype", path, lambda p: W.rewrite(p, entry={"dtype": "Q9"}), load)
        crafted(f"{what}: shape past its bytes", path, lambda p: W.rewrite(p, entry={"shape": [10**8]}), load)
    for counters, why in (
        ([10**7, 3, 3, 1], "capacity far beyond its rows"),
        ([10, 2, 3, 1], "fewer added than rows"),
        ([10**14, 10**14, 3, 1], "10**14 transitions"),
        ([10, 4, 3, 9], "other act_dim"),
        ([0, 0, 3, 1], "capacity 0"),
    ):
        crafted(
            f"buffer (valid checksum): {why}",
            bfile,
            lambda p, c=counters: W.resave(p, lambda t, m: ({**t, "_counters": torch.tensor(c)}, m)),
            ReplayBuffer.load,
        )
    crafted(
        "buffer (valid checksum): counters float",
        bfile,
        lambda p: W.resave(p, lambda t, m: ({**t, "_counters": torch.zeros(4)}, m)),
        ReplayBuffer.load,
    )
    for key, value in (
        ("config", 5),
        ("config", {"hidden": [10**6, 10**6]}),
        ("config", {"lr": math.inf}),
        ("obs_dim", "3"),
        ("obs_dim", -1),
        ("family", "atlantis"),
        ("feature_dim", "x"),
    ):
        crafted(
            f"model (valid checksum): {key}={value!r:.30}",
            mfile,
            lambda p, k=key, v=value: W.resave(p, lambda t, m: (t, {**m, k: v})),
            DynamicsModel.load,
        )
    add("paths", "load_tensors(a directory)", lambda: load_tensors(w / "adir", "dynadapt.ReplayBuffer"))
    add("paths", "load_tensors(a FIFO)", lambda: load_tensors(w / "fifo", "dynadapt.ReplayBuffer"))
    add("paths", "ReplayBuffer.load(missing)", lambda: ReplayBuffer.load(w / "nope.safetensors"))

    # dynamics model -----------------------------------------------------------------------------------
    cfg = ModelConfig(hidden=(8,), ensemble_size=2)
    model = DynamicsModel(3, 1, cfg)
    p = model.params
    e3 = torch.zeros(2, 5, 3)
    for name, (obs, act) in {
        "float64 obs": (e3.double(), torch.zeros(2, 5, 1)),
        "act of 2": (e3, torch.zeros(2, 5, 2)),
        "obs of 4": (torch.zeros(2, 5, 4), torch.zeros(2, 5, 1)),
        "3 members": (torch.zeros(3, 5, 3), torch.zeros(3, 5, 1)),
        "obs 2-D": (torch.zeros(5, 3), torch.zeros(5, 1)),
        "rows differ": (e3, torch.zeros(2, 4, 1)),
        "obs a list": ([[0.0] * 3] * 5, torch.zeros(2, 5, 1)),
        "act None": (e3, None),
    }.items():
        add("types", f"predict({name})", lambda o=obs, a=act: model.predict(p, o, a))
    add("types", "predict(params={})", lambda: model.predict({}, e3, torch.zeros(2, 5, 1)))
    add("types", "predict(task=-1)", lambda: model.predict(p, e3, torch.zeros(2, 5, 1), task=-1))
    add("types", "predict(task='a')", lambda: model.predict(p, e3, torch.zeros(2, 5, 1), task="a"))  # type: ignore[arg-type]
    add("types", "DynamicsModel('3', 1, cfg)", lambda: DynamicsModel("3", 1, cfg))  # type: ignore[arg-type]
    add("types", "DynamicsModel(3, 1, None)", lambda: DynamicsModel(3, 1, None))  # type: ignore[arg-type]
    add(
        "numbers",
        "DynamicsModel(lr=inf)",
        lambda: DynamicsModel(3, 1, _unchecked(ModelConfig(), lr=math.inf)),
    )
    add(
        "resources",
        "DynamicsModel(hidden=(10**6, 10**6))",
        lambda: DynamicsModel(3, 1, ModelConfig(hidden=(10**6, 10**6))),
    )
    add(
        "resources",
        "init_params(10**5 x 10**5, E=100)",
        lambda: init_params(MLPSpec(10, 10, (10**5, 10**5)), ensemble_size=100),
    )
    add("types", "MLPSpec(hidden=(1.5,))", lambda: MLPSpec(3, 1, (1.5,)))  # type: ignore[arg-type]
    add("types", "MLPSpec(in_dim=0)", lambda: MLPSpec(0, 1))

    # planners ---------------------------------------------------------------------------------------
    g = torch.Generator().manual_seed(0)
    lo, hi = torch.tensor([-1.0]), torch.tensor([1.0])
    cem = CEMConfig(population=8, elites=2, iterations=1)
    for name, args in {
        "cfg None": (None, lo, hi, 5, g),
        "cfg a dict": ({"name": "cem"}, lo, hi, 5, g),
        "low text": (cem, "a", hi, 5, g),
        "low > high": (cem, hi, lo, 5, g),
        "low NaN": (cem, torch.tensor([math.nan]), hi, 5, g),
        "horizon 0": (cem, lo, hi, 0, g),
        "horizon '5'": (cem, lo, hi, "5", g),
        "horizon True": (cem, lo, hi, True, g),
        "generator None": (cem, lo, hi, 5, None),
        "bounds 2-D": (cem, torch.zeros(1, 1), torch.ones(1, 1), 5, g),
    }.items():
        add("types", f"build_planner({name})", lambda a=args: build_planner(*a))
    add(
        "numbers",
        "build_planner(alpha=nan)",
        lambda: build_planner(_unchecked(cem, alpha=math.nan), lo, hi, 5, g),
    )
    add(
        "numbers",
        "build_planner(mppi gamma=inf)",
        lambda: build_planner(_unchecked(MPPIConfig(), gamma=math.inf), lo, hi, 5, g),
    )
    planner = build_planner(cem, lo, hi, 5, g)

    def objective(a: torch.Tensor) -> torch.Tensor:
        return -(a**2).sum(dim=(1, 2))

    for name, warm in {
        "NaN": torch.full((5, 1), math.nan),
        "inf": torch.full((5, 1), math.inf),
        "shape": torch.zeros(4, 1),
        "text": "abc",
        "list of lists": [[1.0, 2.0]],
    }.items():
        add(
            "numbers" if name in ("NaN", "inf") else "types",
            f"plan(warm_start {name})",
            lambda ws=warm: planner.plan(objective, ws),
        )
    add("types", "plan(objective of the wrong shape)", lambda: planner.plan(lambda a: a.sum()))
    for args in (("nope",), (5,), ("cem",)):
        kw = {"bogus": 1} if args == ("cem",) else {}
        add("types", f"planner_config{args} {kw}", lambda a=args, k=kw: planner_config(*a, **k))
    add("numbers", "planner_config(cem, alpha=inf)", lambda: planner_config("cem", alpha=math.inf))
    add("types", "planner_config(cem, population='x')", lambda: planner_config("cem", population="x"))

    # configs, runs, sweeps ----------------------------------------------------------------------------
    preset = get_preset(W.PRESET)
    pcfg = preset.make()
    for over in (
        [("seed", "-1")],
        [("seed", str(2**63))],
        [("model.lr", "inf")],
        [("episodes", "1.5")],
        [("task.env_params.mass", "1e400")],
        [("nope", "1")],
        [("task.test_tasks", W.deep_json())],
    ):
        add(
            "numbers",
            f"apply_overrides({over[0][0]}={over[0][1][:12]})",
            lambda o=over: apply_overrides(pcfg, o),
        )
    add("arguments", "parse_override_args(['x'])", lambda: parse_override_args(["x"]))
    for data in (
        5,
        {"lr": "x"},
        {"lr": math.nan},
        {"hidden": "abc"},
        {"hidden": [1.5]},
        {"bootstrap": 1},
        {"activation": "swish"},
        {"nope": 1},
    ):
        add("types", f"from_dict(ModelConfig, {data!r})", lambda d=data: from_dict(ModelConfig, d))
    add(
        "numbers",
        "launch.start(config with seed=-1)",
        lambda: launch.start(preset, _unchecked(pcfg, seed=-1), w / "r1"),
    )
    add(
        "numbers",
        "launch.start(config with lr=inf)",
        lambda: launch.start(preset, _unchecked(pcfg, model=_unchecked(pcfg.model, lr=math.inf)), w / "r2"),
    )
    add("paths", "launch.start(out a file)", lambda: launch.start(preset, pcfg, w / "file.txt"))
    add("paths", "launch.resume(a file)", lambda: launch.resume(w / "file.txt"))
    add("paths", "launch.resume(missing)", lambda: launch.resume(w / "nope"))
    add("paths", "launch.plot(plain directory)", lambda: launch.plot(w / "adir"))
    for text in ("a", "-1", "0-100000", "3-1", "", "9" * 30):
        add("numbers", f"parse_seeds({text[:12]!r})", lambda t=text: parse_seeds(t))
    add("nesting", "load_grid_file(deep)", lambda: load_grid_file(w / "deep.toml"))
    add("paths", "load_grid_file(missing)", lambda: load_grid_file(w / "nope.toml"))
    add("paths", "compare([a file])", lambda: compare([w / "file.txt"]))
    add("paths", "write_report(out=a FIFO)", lambda: write_report([w / "sweep"], w / "fifo"))
    add("paths", "write_report(out=a directory)", lambda: write_report([w / "sweep"], w / "adir"))
    return out


def _unchecked(cfg: Any, **fields: Any) -> Any:
    """A copy of the config dataclass ``cfg`` with ``fields`` set without running its checks (what a caller
    who mutates a config after building it gets)."""
    import copy

    new = copy.copy(cfg)
    for k, v in fields.items():
        object.__setattr__(new, k, v)
    return new
