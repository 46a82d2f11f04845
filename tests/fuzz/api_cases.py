"""Bad calls of the public API, by input class: each must raise a :class:`~dynadapt.errors.DynadaptError`
(and change no file). Wrong types and shapes, non-finite numbers, resources beyond the machine, and crafted
files: safetensors tensor files (buffers, models, checkpoints), sequence, grid and run files."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch

from dynadapt.data import ReplayBuffer
from dynadapt.envs import Task, get_family, load_sequence, named_sequence, render_frames, resolve_family
from dynadapt.envs.sequences import tasks_from_data
from dynadapt.envs.streams import (
    Segment,
    Stream,
    StreamEnv,
    get_stream,
    load_stream,
    save_stream,
    stream_from_data,
)
from dynadapt.io import load_tensors
from dynadapt.labelfree import (
    CaDMConfig,
    ContextHnetConfig,
    Cusum,
    GrBALStreamConfig,
    Identifier,
    IdentifyConfig,
    TMCLConfig,
    detection_delays,
    false_switches,
    identification_summary,
    library_ratio,
    nmi,
    recall_rate,
)
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
    return out + labelfree_cases(w)


def _unchecked(cfg: Any, **fields: Any) -> Any:
    """A copy of the config dataclass ``cfg`` with ``fields`` set without running its checks (what a caller
    who mutates a config after building it gets)."""
    import copy

    new = copy.copy(cfg)
    for k, v in fields.items():
        object.__setattr__(new, k, v)
    return new


STREAM_DATA: dict[str, Any] = {
    "family": "pendulum",
    "situations": {"A": {}, "B": {"mass": 2.0}},
    "schedule": "A:100 B:100",
}
"""A valid stream as file content: each ``stream_from_data`` case below changes one thing of it."""


def make_stream(**fields: Any) -> Stream:
    """A valid two-situation pendulum :class:`Stream` with ``fields`` replaced."""
    kw: dict[str, Any] = {
        "name": "s",
        "family": "pendulum",
        "situations": ({}, {"mass": 2.0}),
        "names": ("A", "B"),
        "schedule": (Segment(0, 10), Segment(1, 10)),
        "episode_steps": 10,
    }
    return Stream(**{**kw, **fields})


def labelfree_cases(w: Path) -> list[ApiCase]:
    """Bad calls of what issue 16 added: situation streams, the label-free learners' configs, the identifier
    and the identification metrics, and label-free runs started from Python (about 190)."""
    out: list[ApiCase] = []

    def add(cls: str, name: str, call: Callable[[], Any]) -> None:
        out.append(ApiCase(cls, name, call))

    # streams: names, files, data ----------------------------------------------------------------------
    wrong: tuple[Any, ...] = (5, None, 1.5, b"pendulum:tiny", ["pendulum:tiny"], {"stream": "pendulum:tiny"})
    for bad in wrong:
        add("types", f"get_stream({bad!r})", partial(get_stream, bad))
    for name in ("atlantis:x", "pendulum", "pendulum:nope", "pendulum:hypercrl", "", ":"):
        add("arguments", f"get_stream({name!r})", partial(get_stream, name))
    for what, rel in (("a directory", "adir"), ("a FIFO", "fifo"), ("a missing .toml", "nope.toml"),
                      ("a text file", "file.txt")):  # fmt: skip
        add("paths", f"get_stream({what})", partial(get_stream, w / rel))
    add("nesting", "get_stream(deep JSON)", partial(get_stream, w / "deep.json"))
    add("nesting", "get_stream(deep TOML)", partial(get_stream, w / "deep.toml"))
    add("types", "load_stream(5)", partial(load_stream, 5))  # type: ignore[arg-type]
    add("paths", "load_stream(a .yaml path)", partial(load_stream, w / "s.yaml"))
    tiny = get_stream("pendulum:tiny")
    add("paths", "save_stream(to .yaml)", partial(save_stream, tiny, w / "crafted-s.yaml"))
    changes: dict[str, Any] = {
        "a list": None,
        "unknown key": {"colour": "red"},
        "no schedule": {"schedule": None},
        "unknown situation": {"schedule": "A:100 Z:100"},
        "negative steps": {"schedule": [{"situation": "A", "steps": -5}]},
        "steps 1.0": {"schedule": [{"situation": "A", "steps": 1.0}]},
        "steps 10**400": {"schedule": [{"situation": "A", "steps": 10**400}]},
        "steps True": {"schedule": [{"situation": "A", "steps": True}]},
        "NaN parameter": {"situations": {"A": {}, "B": {"mass": math.nan}}},
        "inf parameter": {"situations": {"A": {"mass": math.inf}}},
        "parameter 10**400": {"situations": {"A": {"mass": 10**400}}},
        "reward-changing situation": {
            "family": "cartpole",
            "situations": {"A": {}, "B": {"pole_length": 1.0}},
        },
        "same parameters twice": {"situations": {"A": {}, "B": {"mass": 1.0}}},
        "held-out equals a situation": {"held_out": {"H": {"mass": 2.0}}},
        "2 x 10**7 steps": {"schedule": "A:9999999 B:9999999"},
        "episode_steps 0": {"episode_steps": 0},
        "family 5": {"family": 5},
        "situations a list": {"situations": [{}, {"mass": 2.0}]},
        "schedule 5": {"schedule": 5},
        "name ''": {"name": ""},
    }
    for name, change in changes.items():
        data: Any = [STREAM_DATA]
        if change is not None:
            data = {k: v for k, v in {**STREAM_DATA, **change}.items() if v is not None}
        cls = "numbers" if any(k in name for k in ("steps", "NaN", "inf", "10**")) else "types"
        add(cls, f"stream_from_data({name})", partial(stream_from_data, data))
    segments: tuple[tuple[Any, Any], ...] = ((-1, 5), (0, 0), (0, -3), ("a", 5), (0, 1.5), (True, 5))
    for args in segments:
        add("types", f"Segment{args}", partial(Segment, *args))
    streams: dict[str, dict[str, Any]] = {
        "family atlantis": {"family": "atlantis"},
        "schedule of ints": {"schedule": (5,)},
        "a segment past the situations": {"schedule": (Segment(2, 10),)},
        "names of another length": {"names": ("A",)},
        "names repeated": {"names": ("A", "A")},
        "situations a dict": {"situations": {"A": {}}},
        "episode_steps 0": {"episode_steps": 0},
        "empty schedule": {"schedule": ()},
        "a reward-changing situation": {"family": "cartpole", "situations": ({}, {"pole_length": 1.0})},
    }
    for name, fields in streams.items():
        add("types", f"Stream({name})", partial(make_stream, **fields))
    add("types", "StreamEnv(5)", partial(StreamEnv, 5))  # type: ignore[arg-type]

    def step_before_reset() -> Any:
        env = StreamEnv(tiny)
        try:
            return env.step(env.action_space.sample())
        finally:
            env.close()

    add("arguments", "StreamEnv.step before reset", step_before_reset)
    steps: tuple[Any, ...] = (-1, 500, 1.5, "a", 10**30)
    for t in steps:
        add("numbers", f"stream.label_at({t!r})", partial(tiny.label_at, t))

    # configs of the learners --------------------------------------------------------------------------
    configs: list[tuple[Callable[..., Any], dict[str, Any]]] = []
    kw: dict[str, Any]
    for kw in (
        {"window": 1}, {"window": 0}, {"alpha": 0.0}, {"alpha": -1.0}, {"alpha": math.nan},
        {"sticky": -1.0}, {"sticky": math.inf}, {"persistence": 0}, {"merge_distance": -1.0},
        {"temperature": 0.0}, {"temperature": math.inf}, {"new_margin": -0.5}, {"max_situations": -1},
        {"detector": "fast"}, {"cusum_drift": -1.0}, {"cusum_drift": math.nan}, {"cusum_threshold": 0.0},
        {"cusum_warmup": 1}, {"cusum_rate": 1.0}, {"cusum_rate": -0.1},
    ):  # fmt: skip
        configs.append((IdentifyConfig, kw))
    for kw in (
        {"labels": "maybe"}, {"emb_dim": 0}, {"hidden": (0,)}, {"hidden": (-8, 8)}, {"init": "zero"},
        {"chunk_size": -2}, {"chunk_emb_dim": 0}, {"encoder_hidden": (0,)}, {"encoder_features": 0},
        {"refine_steps": -1}, {"refine_lr": 0.0}, {"refine_lr": math.nan}, {"min_window": 1},
        {"min_window": 33}, {"candidate_every": 0}, {"mature_sessions": 0}, {"capacity": 0},
        {"train_steps": 0}, {"batch_size": 0}, {"lr": 0.0}, {"lr": math.nan}, {"emb_lr": -1.0},
        {"enc_lr": math.inf}, {"beta": -0.1}, {"beta": math.inf}, {"reg_tasks": -1}, {"lookahead": "sgd"},
        {"grad_clip": -1.0}, {"enc_segments": 0}, {"enc_pull": -1.0}, {"score_var": -1.0},
        {"min_score_var": 0.0}, {"merge_tolerance": -1.0}, {"merge_rows": 0},
        {"identify": IdentifyConfig(window=3), "min_window": 4},
    ):  # fmt: skip
        configs.append((ContextHnetConfig, kw))
    for kw in (
        {"history": 0}, {"future": 0}, {"context_dim": 0}, {"encoder_hidden": (0,)},
        {"backward_weight": -1.0}, {"partial_context": 2.0}, {"partial_context": math.nan}, {"lr": 0.0},
        {"lr": math.nan}, {"batch_size": 0}, {"steps_per_session": 0}, {"capacity": 5},
        {"grad_clip": -1.0}, {"grad_clip": math.inf},
    ):  # fmt: skip
        configs.append((CaDMConfig, kw))
    for kw in ({"heads": 0}, {"relax": -1.0}, {"relax": math.nan}, {"select_window": 0}, {"segment": 0}):
        configs.append((TMCLConfig, kw))
    for kw in ({"steps_per_session": 0}, {"capacity": 1}):
        configs.append((GrBALStreamConfig, kw))
    for make, kw in configs:
        text = ", ".join(f"{k}={v!r}" for k, v in kw.items())
        add("numbers", f"{getattr(make, '__name__', make)}({text[:60]})", partial(make, **kw))
    parsed: tuple[tuple[type, Any], ...] = (
        (IdentifyConfig, {"window": "32"}),
        (IdentifyConfig, {"alpha": None}),
        (IdentifyConfig, {"persistence": 1.5}),
        (IdentifyConfig, {"detector": 5}),
        (IdentifyConfig, 5),
        (ContextHnetConfig, {"emb_dim": "a"}),
        (ContextHnetConfig, {"hidden": "abc"}),
        (ContextHnetConfig, {"identify": 5}),
        (ContextHnetConfig, {"identify": {"window": 1}}),
        (ContextHnetConfig, {"labels": True}),
        (CaDMConfig, {"history": "a"}),
        (CaDMConfig, {"backward": 5}),
        (CaDMConfig, {"nope": 1}),
    )
    for cls_, raw in parsed:
        add("types", f"from_dict({cls_.__name__}, {raw!r})", partial(from_dict, cls_, raw))

    # the identifier -----------------------------------------------------------------------------------
    def identifier() -> Identifier:
        ident = Identifier(IdentifyConfig())
        ident.step([0.0])  # the first decision: situation 0
        return ident

    def step(nll: Any, n: int | None = None) -> Any:
        return identifier().step(nll, n)

    nan, inf = math.nan, math.inf
    scores: dict[str, Any] = {
        "NaN": [nan, 0.0],
        "NaN tensor": torch.tensor([0.0, nan]),
        "-inf": [0.0, -inf],
        "all +inf": [inf, inf],
        "K + 2 values": [0.0, 0.0, 0.0],
        "one value": [0.0],
        "none at all": [],
    }
    for name, nll in scores.items():
        add("numbers", f"Identifier.step({name})", partial(step, nll))
    add("numbers", "Identifier.step(n=0)", partial(step, [0.0, 0.0], 0))
    add("numbers", "Identifier.step(n=-3)", partial(step, [0.0, 0.0], -3))
    add("arguments", "Identifier.step(None) when it needs scores", partial(step, None))
    add("numbers", "Identifier.observe_error(NaN)", lambda: identifier().observe_error(nan))
    add("arguments", "Identifier.merge(0, 0)", lambda: identifier().merge(0, 0))
    add("arguments", "Identifier.merge(0, 5)", lambda: identifier().merge(0, 5))
    good = identifier().state()
    states: tuple[dict[str, Any], ...] = (
        {},
        {"version": 99},
        {**good, "counts": [-1]},
        {**good, "current": 7},
        {**good, "cusum": {**good["cusum"], "var": -1.0}},
    )
    for state in states:
        add("types", f"Identifier.load_state({str(state)[:40]})", partial(identifier().load_state, state))
    cusums: tuple[dict[str, Any], ...] = ({"drift": nan}, {"threshold": 0.0}, {"warmup": 1}, {"rate": 1.0})
    for kw in cusums:
        add("numbers", f"Cusum({kw})", partial(Cusum, **kw))
    add("numbers", "Cusum.update(NaN)", lambda: Cusum().update(nan))

    # identification metrics ---------------------------------------------------------------------------
    t4, i4 = [0, 0, 1, 1], [0, 0, 1, 1]
    two_d: Any = [[0, 1]]
    fractional: Any = [0.5, 1.0]
    with_nan: Any = [nan, 1.0]
    metrics: dict[str, Callable[[], Any]] = {
        "nmi(2-D)": partial(nmi, two_d, two_d),
        "nmi(lengths differ)": partial(nmi, [0, 1, 1], [0, 1]),
        "nmi(label -2)": partial(nmi, [-2, 1], [0, 1]),
        "nmi(fractional labels)": partial(nmi, fractional, [0, 1]),
        "nmi(NaN labels)": partial(nmi, with_nan, [0, 1]),
        "recall_rate(2-D)": partial(recall_rate, two_d, two_d),
        "detection_delays(unsorted switches)": partial(detection_delays, t4, i4, [3, 1]),
        "detection_delays(switch past the end)": partial(detection_delays, t4, i4, [9]),
        "detection_delays(negative switch)": partial(detection_delays, t4, i4, [-1]),
        "false_switches(tolerance -1)": partial(false_switches, t4, i4, [2], -1),
        "library_ratio(n_true 0)": partial(library_ratio, i4, 0),
        "identification_summary(tolerance -1)": partial(identification_summary, t4, i4, [2], tolerance=-1),
    }
    for name, call in metrics.items():
        add("types", name, call)

    # label-free runs from Python ----------------------------------------------------------------------
    preset = get_preset("hnet-stream-pendulum")
    cfg = preset.make()
    runs: dict[str, Any] = {
        "stream 'nope'": _unchecked(cfg, stream="nope"),
        "stream a missing file": _unchecked(cfg, stream=str(w / "nope.toml")),
        "method 'nope'": _unchecked(cfg, method="nope"),
        "eval.window 1000": _unchecked(cfg, eval=_unchecked(cfg.eval, window=1000)),
        "ensemble of 5": _unchecked(cfg, model=_unchecked(cfg.model, ensemble_size=5)),
        "identify.alpha NaN": _unchecked(
            cfg, hnet=_unchecked(cfg.hnet, identify=_unchecked(cfg.hnet.identify, alpha=nan))
        ),
        "hnet.lr inf": _unchecked(cfg, hnet=_unchecked(cfg.hnet, lr=inf)),
    }
    for name, bad in runs.items():
        add(
            "numbers",
            f"launch.start(hnet-stream-pendulum, {name})",
            partial(launch.start, preset, bad, w / "lf"),
        )
    return out
