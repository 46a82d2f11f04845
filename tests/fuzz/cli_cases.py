"""Bad command lines, by input class: each is a command of ``dynadapt`` (every one of them) with what a
hostile but fair user could give it, and the set-up of the files it is given.

A case's ``argv`` may name ``{w}`` (its own copy of the world, see :mod:`tests.fuzz.world`) and ``{ro}``
(a read-only directory holding a copy of the resumable run). Every case must end with exit status 2, one
line ``dynadapt: error: ...`` on stderr, no traceback, and every file that was there unchanged (a case
with ``fsize`` runs under a file-size limit, a full disk: it may leave new files of its own, never a
changed one).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tests.fuzz import world as W

Setup = Callable[[Path], None]


@dataclass
class Case:
    cls: str
    """The input class (see :data:`CLASSES`)."""
    name: str
    argv: list[str]
    setup: Setup | None = None
    fsize: int | None = None
    """Run under this file-size limit (bytes): a full disk."""
    memory: int | None = None
    """Run under this data-size limit (bytes): a machine of this much memory."""
    needs: set[str] = field(default_factory=set)
    """What the machine must allow: "dev" (a character device: root), "ro" (a read-only directory)."""


CLASSES = {
    "arguments": "malformed command lines: missing, unknown or extra arguments and options",
    "numbers": "NaN, infinity, negative, out-of-range and thousand-digit numbers, seeds >= 2**63",
    "resources": "configs and files asking for more memory than the machine has; seed and grid caps",
    "paths": "--out at a file, under a file, at a FIFO, device, symlink, directory or read-only place",
    "names": "trial names in a manifest that are paths (../.., absolute, hidden, separators)",
    "nesting": "JSON/TOML nested thousands deep: grid, sequence, config, summary, manifest, header",
    "types": "files of valid JSON with values of the wrong type (config, summary, manifest, grid, sequence)",
    "truncated": "truncated, empty, binary and syntactically invalid files",
    "content": "files that parse, with values of the right types, that say something invalid: unknown keys, "
    "families, parameters or situations, a setting given twice, a situation that changes the reward",
    "safetensors": "crafted checkpoints: header, sizes, dtypes, checksum, metadata types and ranges",
    "full-disk": "writes that fail with EFBIG under a file-size limit (a full disk)",
}


def _write(rel: str, text: str | bytes) -> Setup:
    def setup(w: Path) -> None:
        p = w / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text)

    return setup


def _json(rel: str, change: Callable[[Any], Any]) -> Setup:
    return lambda w: W.edit_json(w / rel, change)


def _header(change: Callable[[dict[str, Any]], Any]) -> Setup:
    return lambda w: W.edit_header(w / W.CHECKPOINT, change)


def _resave(change: Callable[[dict[str, Any], dict[str, Any]], Any]) -> Setup:
    return lambda w: W.resave(w / W.CHECKPOINT, change)


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda d: {**d, key: value}


def _trial(**fields: Any) -> Setup:
    def setup(w: Path) -> None:
        W.edit_json(w / "sweep" / "manifest.json", lambda m: {**m, "trials": [{**m["trials"][0], **fields}]})

    return setup


def _state(key: str, value: Any) -> Callable[[dict[str, Any], dict[str, Any]], Any]:
    return lambda t, m: (t, {**m, "state": {**m["state"], key: value}})


def _truncate(rel: str, keep: float = 0.5) -> Setup:
    def setup(w: Path) -> None:
        p = w / rel
        data = p.read_bytes()
        p.write_bytes(data[: int(len(data) * keep)])

    return setup


def _rewrite(**how: Any) -> Setup:
    """Rewrite the resumable run's checkpoint (see :func:`tests.fuzz.world.rewrite`)."""
    return lambda w: W.rewrite(w / W.CHECKPOINT, **how)


def _swap(rel: str, make: Callable[[Path], Any]) -> Setup:
    """Replace the file or directory ``rel`` by what ``make(path)`` makes there (a link, a FIFO, ...)."""

    def setup(w: Path) -> None:
        p = w / rel
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()
        make(p)

    return setup


def _all(*setups: Setup) -> Setup:
    def setup(w: Path) -> None:
        for s in setups:
            s(w)

    return setup


HUGE = "9" * 5000
RUN = ["run", W.PRESET, "--quiet", *W.TINY]
OUT = ["--out", "{w}/new"]


def cases() -> list[Case]:
    """Every bad command line (about 150)."""
    out: list[Case] = []

    def add(cls: str, name: str, argv: list[str], setup: Setup | None = None, **kw: Any) -> None:
        if cls == "resources":  # a machine of 4 GiB, whatever this one has
            kw.setdefault("memory", 4 * 2**30)
        out.append(Case(cls, name, argv, setup, **kw))

    # arguments ----------------------------------------------------------------------------------------
    add("arguments", "run without a preset", ["run"])
    add("arguments", "run --seed not a number", [*RUN, "--seed", "abc", *OUT])
    add("arguments", "run with a bare word", [*RUN, "nonsense", *OUT])
    add("arguments", "run --option without its value", [*RUN, *OUT, "--model.lr"])
    add("arguments", "unknown command", ["frobnicate"])
    add("arguments", "resume without a directory", ["resume"])
    add("arguments", "render without arguments", ["render"])
    add("arguments", "sweep without --out", ["sweep", W.PRESET])
    add("arguments", "compare without directories", ["compare"])
    add("arguments", "envs with an unknown family", ["envs", "atlantis"])
    add("arguments", "presets with extra words", ["presets", "extra", "--x"])
    add("arguments", "render with a bare word", ["render", "pendulum", "--out", "{w}/x.png", "notkv"])
    add("arguments", "render --frames 0", ["render", "pendulum", "--out", "{w}/x.png", "--frames", "0"])
    add("arguments", "sweep --backend unknown", ["sweep", W.PRESET, "--out", "{w}/s", "--backend", "nope"])
    add("arguments", "sweep --workers 0", ["sweep", W.PRESET, "--out", "{w}/s", "--workers", "0"])
    add("arguments", "run an unknown preset", ["run", "no-such-preset"])
    add("arguments", "run an unknown planner", [*RUN, "planner=nope", *OUT])
    add("arguments", "run an unknown field", [*RUN, "model.hiden=3", *OUT])
    add("arguments", "plot a missing directory", ["plot", "{w}/nope"])
    add("arguments", "report a missing directory", ["report", "{w}/nope"])
    add("arguments", "compare a plain directory", ["compare", "{w}/adir"])
    add("arguments", "sweep --out alone on a new directory", ["sweep", "--out", "{w}/s"])

    # numbers ------------------------------------------------------------------------------------------
    for value in ("-1", "9223372036854775808", HUGE):
        add("numbers", f"run --seed {value[:20]}", [*RUN, "--seed", value, *OUT])
    for value in ("inf", "nan", "-inf", "1e400"):
        add("numbers", f"model.lr={value}", [*RUN, f"model.lr={value}", *OUT])
    add("numbers", "mppi gamma=inf", [*RUN, "planner=mppi", "planner.gamma=inf", *OUT])
    add("numbers", "cem alpha=nan", [*RUN, "planner.alpha=nan", *OUT])
    for value in ("1e400", "nan", "-1", HUGE):
        add("numbers", f"physical parameter {value[:10]}", [*RUN, f"task.env_params.mass={value}", *OUT])
    add("numbers", "threads=-1", [*RUN, "threads=-1", *OUT])
    add("numbers", "episodes=1.5", [*RUN, "episodes=1.5", *OUT])
    add("numbers", "episodes with 5000 digits", [*RUN, f"episodes={HUGE}", *OUT])
    add("numbers", "model.hidden=-5", [*RUN, "model.hidden=-5", *OUT])
    add("numbers", "buffer_capacity=0", [*RUN, "buffer_capacity=0", *OUT])
    for seed in ("-1", "99999999999999999999"):
        add("numbers", f"render --seed {seed}", ["render", "pendulum", "--out", "{w}/x.png", "--seed", seed])
    add("numbers", "render mass=inf", ["render", "pendulum", "--out", "{w}/x.png", "mass=inf"])
    add(
        "numbers",
        "render --frames 10**24",
        ["render", "pendulum", "--out", "{w}/x.png", "--frames", "9" * 24],
    )
    for seeds in ("-1", "5-2", "9223372036854775808", "1,,x", "0-9223372036854775808"):
        add("numbers", f"sweep --seeds {seeds}", ["sweep", W.PRESET, "--out", "{w}/s", "--seeds", seeds])
    add("numbers", "sweep --threads -1", ["sweep", W.PRESET, "--out", "{w}/s", "--threads", "-1"])

    # resources ----------------------------------------------------------------------------------------
    add("resources", "buffer of 10**13 transitions", [*RUN, "buffer_capacity=10000000000000", *OUT])
    add("resources", "network of 10**10 weights", [*RUN, "model.hidden=100000,100000", *OUT])
    add("resources", "ensemble of 10**8 members", [*RUN, "model.ensemble_size=100000000", *OUT])
    add("resources", "planner population of 10**9", [*RUN, "planner.population=1000000000", *OUT])
    add(
        "resources",
        "MBPO pool of 10**12",
        ["run", "mbpo-pendulum", "mbpo.rollout_batch_size=100000000000", *OUT],
    )
    big = json.dumps({"tasks": [{"env": "pendulum", "params": {"mass": 1.0 + i % 7}} for i in range(7000)]})
    add(
        "resources",
        "sequence of 7000 tasks",
        ["run", "hypercrl-pendulum", "--out", "{w}/new", "task.sequence={w}/big.json", "task.tasks=0"],
        _write("big.json", big),
    )
    add("resources", "--seeds 0-300000", ["sweep", W.PRESET, "--out", "{w}/s", "--seeds", "0-300000"])
    add(
        "resources",
        "--seeds of 20000 commas",
        ["sweep", W.PRESET, "--out", "{w}/s", "--seeds", ",".join(map(str, range(15000)))],
    )
    axes = "\n".join(
        f'"planner.population_{i}" = [{", ".join(str(10 + j) for j in range(10))}]' for i in range(20)
    )
    add(
        "resources",
        "grid of 10**20 trials",
        ["sweep", "--grid", "{w}/huge.toml", "--out", "{w}/s"],
        _write("huge.toml", f'presets = ["{W.PRESET}"]\n[grid]\n{axes}\n'),
    )
    add(
        "resources",
        "grid file of 65 MB",
        ["sweep", "--grid", "{w}/fat.json", "--out", "{w}/s"],
        _write("fat.json", '{"presets": ["' + "x" * (65 * 2**20) + '"]}'),
    )

    # paths --------------------------------------------------------------------------------------------
    for target, why in (
        ("file.txt", "an existing file"),
        ("file.txt/sub", "under a file"),
        ("run", "a run"),
        ("adir", "a non-empty directory"),
        ("link", "a symlink"),
        ("fifo", "a FIFO"),
    ):
        add("paths", f"run --out {why}", [*RUN, "--out", f"{{w}}/{target}"], W.special_files)
    for target, why in (
        ("fifo", "a FIFO"),
        ("dev", "a character device"),
        ("adir", "a directory"),
        ("link", "a symlink"),
        ("file.txt/x.png", "under a file"),
    ):
        for command in (["render", "pendulum"], ["report", "{w}/sweep"]):
            needs = {"dev"} if target == "dev" else set()
            argv = [*command, "--out", f"{{w}}/{target}"]
            add("paths", f"{command[0]} --out {why}", argv, W.special_files, needs=needs)
    add("paths", "compare --out a file", ["compare", "{w}/run", "--out", "{w}/file.txt"])
    add("paths", "compare --out a FIFO", ["compare", "{w}/run", "--out", "{w}/fifo"], W.special_files)
    add(
        "paths",
        "compare writing over a FIFO",
        ["compare", "{w}/run", "--out", "{w}/c"],
        _all(_write("c/keep.txt", "x"), lambda w: os.mkfifo(w / "c" / "compare.md")),
    )
    add("paths", "sweep --out a file", ["sweep", W.PRESET, "--out", "{w}/file.txt"])
    add("paths", "sweep --out a non-sweep directory", ["sweep", W.PRESET, "--out", "{w}/adir"])
    add("paths", "resume a file", ["resume", "{w}/file.txt"])
    add("paths", "resume a plain directory", ["resume", "{w}/adir"])
    add("paths", "plot a plain directory", ["plot", "{w}/outside"])
    for command, rel, make, what in (
        ("resume", "part/checkpoints", lambda p: p.symlink_to(p.parents[1] / "outside"), "a symlink"),
        ("plot", "run/plots", lambda p: p.symlink_to(p.parents[1] / "adir"), "a symlink"),
        (
            "resume",
            "part/metrics.jsonl",
            lambda p: p.symlink_to(p.parents[1] / "outside" / "keep.txt"),
            "a symlink",
        ),
        ("resume", "part/config.json", os.mkfifo, "a FIFO"),
        ("resume", W.CHECKPOINT, Path.mkdir, "a directory"),
    ):
        run_dir = rel.split("/")[0]
        add("paths", f"{command}: {rel} is {what}", [command, f"{{w}}/{run_dir}"], _swap(rel, make))
    for argv in (
        ["run", *RUN[1:], "--out", "{ro}/new"],
        ["render", "pendulum", "--out", "{ro}/x.png"],
        ["compare", "{w}/run", "--out", "{ro}/c"],
        ["report", "{w}/sweep", "--out", "{ro}/r.html"],
        ["sweep", W.PRESET, "--out", "{ro}/s", *W.TINY],
        ["resume", "{ro}/part"],
        ["plot", "{ro}/part"],
    ):
        add("paths", f"{argv[0]} on a read-only file system", argv, needs={"ro"})

    # names --------------------------------------------------------------------------------------------
    for name in ("../../outside", "../outside", ".hidden", "a/b", "..", "", "x\\y", 7, None):
        add("names", f"trial named {name!r}: sweep", ["sweep", "--out", "{w}/sweep"], _trial(name=name))
    add(
        "names",
        "trial named by an absolute path: sweep",
        ["sweep", "--out", "{w}/sweep"],
        lambda w: _trial(name=str(w.parent / "outside"))(w),
    )
    for command in (["compare", "{w}/sweep"], ["report", "{w}/sweep"]):
        add("names", f"trial named '../../outside': {command[0]}", command, _trial(name="../../outside"))
    add(
        "names",
        "a trial name twice",
        ["sweep", "--out", "{w}/sweep"],
        _json("sweep/manifest.json", lambda m: {**m, "trials": m["trials"] * 2}),
    )

    # nesting ------------------------------------------------------------------------------------------
    deep = W.deep_json()
    add("nesting", "grid JSON", ["sweep", "--grid", "{w}/g.json", "--out", "{w}/s"], _write("g.json", deep))
    add(
        "nesting",
        "grid TOML",
        ["sweep", "--grid", "{w}/g.toml", "--out", "{w}/s"],
        _write("g.toml", W.deep_toml()),
    )
    for name, text in (("q.json", deep), ("q.toml", W.deep_toml())):
        add(
            "nesting",
            f"sequence {name}",
            ["run", "hypercrl-pendulum", "--out", "{w}/new", f"task.sequence={{w}}/{name}"],
            _write(name, text),
        )
    add("nesting", "config.json: resume", ["resume", "{w}/part"], _write("part/config.json", deep))
    add("nesting", "config.json: compare", ["compare", "{w}/run"], _write("run/config.json", deep))
    add("nesting", "summary.json: compare", ["compare", "{w}/run"], _write("run/summary.json", deep))
    add("nesting", "manifest.json: report", ["report", "{w}/sweep"], _write("sweep/manifest.json", deep))
    add(
        "nesting",
        "manifest.json: sweep",
        ["sweep", "--out", "{w}/sweep"],
        _write("sweep/manifest.json", deep),
    )
    add("nesting", "override value", ["run", "grbal-pendulum", "--out", "{w}/new", f"task.test_tasks={deep}"])
    add("nesting", "env_params value", [*RUN, f"task.env_params.mass={deep}", *OUT])
    add("nesting", "checkpoint header", ["resume", "{w}/part"], _rewrite(header=deep))
    add(
        "nesting",
        "dynadapt JSON",
        ["resume", "{w}/part"],
        _rewrite(header={"__metadata__": {"dynadapt": deep}}),
    )
    add("nesting", "metrics.jsonl line: plot", ["plot", "{w}/run"], _write("run/metrics.jsonl", deep + "\n"))

    # types --------------------------------------------------------------------------------------------
    for value in ([], 5, "x", None):
        add(
            "types",
            f"config.json is {value!r}: resume",
            ["resume", "{w}/part"],
            _write("part/config.json", json.dumps(value)),
        )
    for key, value in (
        ("kind", 5),
        ("kind", "nope"),
        ("seed", "x"),
        ("seed", -1),
        ("seed", 1e300),
        ("model", 5),
        ("model", {"hidden": "abc"}),
        ("planner", []),
        ("episodes", True),
        ("preset", ["x"]),
        ("model", {"lr": None}),
        ("task", {"env": 3}),
    ):
        add(
            "types",
            f"config.json {key}={value!r}: resume",
            ["resume", "{w}/part"],
            _json("part/config.json", _set(key, value)),
        )
    for key, value in (("seed", "x"), ("task", 5), ("kind", "nope")):
        add(
            "types",
            f"config.json {key}={value!r}: plot",
            ["plot", "{w}/run"],
            _json("run/config.json", _set(key, value)),
        )
    add(
        "types",
        "config.json seed='x': compare",
        ["compare", "{w}/run"],
        _json("run/config.json", _set("seed", "x")),
    )
    for value in ([], {"kind": 3}, 5):
        add(
            "types",
            f"summary.json is {value!r}: compare",
            ["compare", "{w}/run"],
            _write("run/summary.json", json.dumps(value)),
        )
    for value in ([], {"kind": 3}, {"kind": "nope"}):
        add(
            "types",
            f"summary.json is {value!r}: resume",
            ["resume", "{w}/run"],
            _write("run/summary.json", json.dumps(value)),
        )
    for trials in (5, [5], [{"name": "x"}]):
        add(
            "types",
            f"manifest trials={trials!r}",
            ["sweep", "--out", "{w}/sweep"],
            _json("sweep/manifest.json", _set("trials", trials)),
        )
    for fields in (
        {"seed": "x"},
        {"seed": -3},
        {"overrides": [["a"]]},
        {"overrides": 5},
        {"status": "odd"},
        {"preset": 5},
    ):
        add("types", f"manifest trial {fields}", ["compare", "{w}/sweep"], _trial(**fields))
    for grid in ({"presets": 5}, {"set": [["a"]]}, {"axes": {"k": 5}}, {"seeds": "0-2"}, []):
        add(
            "types",
            f"manifest grid {grid!r}",
            ["report", "{w}/sweep"],
            _json("sweep/manifest.json", _set("grid", grid)),
        )
    for text in (
        "presets = 5",
        "seeds = [-1]",
        "seeds = [1.5]",
        'seeds = "a"',
        "set = 5",
        "[grid]\nx = 5",
        "[methods.m]\npreset = 5",
        "bogus = 1",
    ):
        add(
            "types",
            f"grid file {text!r}",
            ["sweep", "--grid", "{w}/g.toml", "--out", "{w}/s"],
            _write("g.toml", text),
        )
    for data in (
        5,
        {"tasks": 5},
        [5],
        [["pendulum", 5]],
        [{"env": 5}],
        [{"env": "pendulum", "params": [1]}],
        [{"env": "pendulum", "params": {"mass": "heavy"}}],
        [],
    ):
        add(
            "types",
            f"sequence {json.dumps(data)}",
            ["run", "hypercrl-pendulum", "--out", "{w}/new", "task.sequence={w}/q.json"],
            _write("q.json", json.dumps(data)),
        )

    # truncated ----------------------------------------------------------------------------------------
    for rel, argv in (
        ("part/config.json", ["resume", "{w}/part"]),
        ("run/config.json", ["plot", "{w}/run"]),
        ("run/summary.json", ["compare", "{w}/run"]),
        ("run/summary.json", ["resume", "{w}/run"]),
        ("sweep/manifest.json", ["sweep", "--out", "{w}/sweep"]),
        ("sweep/manifest.json", ["report", "{w}/sweep"]),
        (W.CHECKPOINT, ["resume", "{w}/part"]),
        ("grid.toml", ["sweep", "--grid", "{w}/grid.toml", "--out", "{w}/s"]),
    ):
        add("truncated", f"{rel} cut in half: {argv[0]}", argv, _truncate(rel))
        add("truncated", f"{rel} empty: {argv[0]}", argv, _truncate(rel, 0.0))
    add(
        "truncated",
        "config.json not UTF-8",
        ["resume", "{w}/part"],
        _write("part/config.json", b"\xff\xfe{}"),
    )
    add(
        "truncated",
        "checkpoint of 5 bytes",
        ["resume", "{w}/part"],
        _write(W.CHECKPOINT, b"\x01\x02\x03\x04\x05"),
    )

    # safetensors --------------------------------------------------------------------------------------
    s = "safetensors"
    add(s, "a flipped data byte (checksum)", ["resume", "{w}/part"], lambda w: W.flip_byte(w / W.CHECKPOINT))
    add(s, "header length 2**60", ["resume", "{w}/part"], _rewrite(length=2**60))
    add(s, "header length past the file", ["resume", "{w}/part"], _rewrite(length=10**6))
    add(
        s,
        "header is not JSON",
        ["resume", "{w}/part"],
        _write(W.CHECKPOINT, b"\x10" + b"\0" * 7 + b"{{{{{{{{x" * 2),
    )
    add(s, "header is a list", ["resume", "{w}/part"], _rewrite(header=[1, 2]))
    add(s, "metadata is a list", ["resume", "{w}/part"], _rewrite(header={"__metadata__": [1]}))
    add(
        s,
        "dynadapt JSON is not JSON",
        ["resume", "{w}/part"],
        _rewrite(header={"__metadata__": {"dynadapt": "{x"}}),
    )
    for value in ([1], 5, "s", None):
        add(
            s,
            f"dynadapt JSON is {value!r}",
            ["resume", "{w}/part"],
            _rewrite(header={"__metadata__": {"dynadapt": json.dumps(value)}}),
        )
    add(s, "format of a buffer", ["resume", "{w}/part"], _header(_set("format", "dynadapt.ReplayBuffer")))
    add(s, "rows=-2 (checksum not updated)", ["resume", "{w}/part"], _header(_set("rows", -2)))
    for key, value in (
        ("rows", -2),
        ("rows", 0),
        ("rows", 1000),
        ("rows", "2"),
        ("rows", 1.5),
        ("rows", True),
        ("rows", 10**30),
        ("components", "model"),
        ("components", [1]),
        ("numpy_rng", []),
        ("numpy_rng", {"act": 5}),
        ("state", []),
        ("kind", "meta"),
        ("kind", [1]),
    ):
        add(
            s,
            f"{key}={value!r} (valid checksum)",
            ["resume", "{w}/part"],
            _resave(lambda t, m, k=key, v=value: (t, {**m, k: v})),
        )
    for key, value in (("episode", "x"), ("episode", None), ("evals", 5), ("wall", [])):
        add(
            s,
            f"loop state {key}={value!r} (valid checksum)",
            ["resume", "{w}/part"],
            _resave(_state(key, value)),
        )
    add(
        s,
        "a component's tensor missing (valid checksum)",
        ["resume", "{w}/part"],
        _resave(lambda t, m: ({k: v for k, v in t.items() if not k.startswith("c.model.")}, m)),
    )
    add(
        s,
        "a tensor of another shape (valid checksum)",
        ["resume", "{w}/part"],
        _resave(
            lambda t, m: ({k: (torch.zeros(3) if k.startswith("c.model.") else v) for k, v in t.items()}, m)
        ),
    )
    add(
        s,
        "buffer counters claiming 10**12 rows (valid checksum)",
        ["resume", "{w}/part"],
        _resave(lambda t, m: ({**t, "c.buffer._counters": torch.tensor([10**12, 10**12, 3, 1])}, m)),
    )
    for entry, why in (
        ({"dtype": "Q99"}, "unknown dtype"),
        ({"shape": [-1]}, "negative shape"),
        ({"shape": [10**9]}, "shape larger than its bytes"),
        ({"data_offsets": [0, 10**12]}, "offsets past the file"),
        ({"data_offsets": "x"}, "offsets not a list"),
        ({"shape": "x"}, "shape not a list"),
    ):
        add(s, f"tensor entry: {why}", ["resume", "{w}/part"], _rewrite(entry=entry))

    # the video command ---------------------------------------------------------------------------------
    add("arguments", "video of a missing directory", ["video", "{w}/nope"])
    add("arguments", "video --size abc", ["video", "{w}/run", "--size", "abc"])
    add("numbers", "video --episodes -1", ["video", "{w}/run", "--episodes", "-1"])
    add("numbers", "video --task 99", ["video", "{w}/run", "--task", "99"])
    add("paths", "video --checkpoint a text file", ["video", "{w}/run", "--checkpoint", "{w}/file.txt"])
    add("paths", "video --out a file", ["video", "{w}/run", "--out", "{w}/file.txt"])
    add("paths", "video of a plain directory", ["video", "{w}/adir"])
    add(
        "safetensors",
        "video of a flipped checkpoint",
        ["video", "{w}/part"],
        lambda w: W.flip_byte(w / W.CHECKPOINT),
    )

    # full disk ----------------------------------------------------------------------------------------
    disk = "full-disk"
    add(disk, "run", [*RUN, *OUT], fsize=512)
    add(disk, "resume", ["resume", "{w}/part"], fsize=512)
    add(disk, "plot", ["plot", "{w}/run"], fsize=2048)
    add(disk, "render", ["render", "pendulum", "--out", "{w}/x.png"], fsize=1024)
    add(disk, "compare", ["compare", "{w}/run", "--out", "{w}/c"], fsize=1024)
    add(disk, "report", ["report", "{w}/sweep", "--out", "{w}/r.html"], fsize=4096)
    add(disk, "sweep", ["sweep", W.PRESET, *W.TINY, "--out", "{w}/s"], fsize=256)
    return out + stream_cases()


# ------------------------------------------------------------------------------ label-free: streams
STREAM_RUN = ["run", "hnet-stream-pendulum", "--quiet", "--out", "{w}/new"]
"""A label-free run; every case below must fail before its directory exists."""
STREAM_TINY = [
    "stream=pendulum:tiny", "warmup_steps=50", "train_every=50", "model.hidden=8", "planner.population=16",
    "planner.elites=4", "planner.iterations=1", "mpc.horizon=4", "eval.episode_steps=20", "eval.window=8",
    "eval.horizon=3", "hnet.train_steps=5",
]  # fmt: skip
"""Tiny settings of a label-free run (seconds): a case that overrides one of them comes after them."""


def stream_toml(
    schedule: str = '"A:100 B:100"',
    situations: str = "A = {}\nB = { mass = 2.0 }",
    family: str = '"pendulum"',
    extra: str = "",
    tail: str = "",
) -> str:
    """A stream file in TOML: valid as it is; each argument replaces one part of it with what a case needs."""
    return f"family = {family}\nschedule = {schedule}\n{extra}\n[situations]\n{situations}\n{tail}"


def stream_json(**replace: Any) -> str:
    """A valid stream file in JSON with the keys ``replace`` gives replaced (a value of None: key removed)."""
    data: dict[str, Any] = {
        "family": "pendulum",
        "situations": {"A": {}, "B": {"mass": 2.0}},
        "schedule": [{"situation": "A", "steps": 100}, {"situation": "B", "steps": 100}],
    }
    data.update(replace)
    return json.dumps({k: v for k, v in data.items() if v is not None})


def stream_cases() -> list[Case]:
    """Bad stream files (given to ``dynadapt streams FILE`` and to a label-free run as ``stream=FILE``), bad
    stream names, and bad settings of a label-free run (about 150)."""
    out: list[Case] = []

    def add(cls: str, name: str, argv: list[str], setup: Setup | None = None, **kw: Any) -> None:
        if cls == "resources":  # a machine of 4 GiB, whatever this one has
            kw.setdefault("memory", 4 * 2**30)
        out.append(Case(cls, name, argv, setup, **kw))

    def bad_file(cls: str, name: str, filename: str, content: str | bytes, run: bool = True) -> None:
        setup = _write(filename, content)
        add(cls, f"streams FILE: {name}", ["streams", f"{{w}}/{filename}"], setup)
        if run:
            add(cls, f"run stream=FILE: {name}", [*STREAM_RUN, f"stream={{w}}/{filename}"], setup)

    # truncated, empty, binary, unparsable --------------------------------------------------------------
    valid = stream_toml(tail="[held_out]\nH1 = { mass = 1.5 }\n")
    bad_file(
        "truncated", "a stream file cut in the middle of a string", "s.toml", valid[: valid.index("B:100")]
    )
    bad_file("truncated", "an empty TOML stream file", "s.toml", "")
    bad_file("truncated", "an empty JSON stream file", "s.json", "")
    bad_file("truncated", "a JSON stream file cut in half", "s.json", stream_json()[:60])
    bad_file("truncated", "a binary stream file", "s.toml", bytes(range(256)) * 16)
    bad_file("truncated", "a binary JSON stream file", "s.json", b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    bad_file("truncated", "NUL bytes in a stream file", "s.toml", b'family = "pendulum"\x00\x00\n')
    bad_file(
        "truncated", "a TOML syntax error", "s.toml", stream_toml(situations="A = {\nB = { mass = 2.0 }")
    )
    bad_file("truncated", "a JSON syntax error", "s.json", stream_json()[:-1] + ",}")

    # content -------------------------------------------------------------------------------------------
    bad_file("content", "an unknown key", "s.toml", stream_toml(extra='colour = "red"'))
    bad_file("content", "an unknown family", "s.toml", stream_toml(family='"atlantis"'))
    bad_file(
        "content", "an unknown parameter", "s.toml", stream_toml(situations="A = {}\nB = { colour = 1 }")
    )
    bad_file(
        "content", "an unknown situation in the schedule", "s.toml", stream_toml(schedule='"A:100 Z:100"')
    )
    bad_file(
        "content",
        "an unknown situation in a schedule table",
        "s.json",
        stream_json(schedule=[{"situation": "A", "steps": 10}, {"situation": "Z", "steps": 10}]),
    )
    bad_file(
        "content",
        "an unknown key in a schedule table",
        "s.json",
        stream_json(schedule=[{"situation": "A", "steps": 10, "speed": 2}]),
    )
    bad_file(
        "content",
        "two situations with the same parameters",
        "s.toml",
        stream_toml(situations="A = {}\nB = { mass = 1.0 }"),
    )
    bad_file(
        "content",
        "a held-out setting equal to a situation",
        "s.toml",
        stream_toml(tail="[held_out]\nH1 = { mass = 2.0 }\n"),
    )
    bad_file(
        "content",
        "a situation that changes the reward (cart-pole pole length)",
        "s.toml",
        stream_toml(family='"cartpole"', situations="A = {}\nB = { pole_length = 1.0 }"),
    )
    bad_file(
        "content",
        "a held-out setting that changes the reward (door pull bar)",
        "s.toml",
        stream_toml(
            family='"door"',
            situations='A = { handle = "round" }\nB = { handle = "lever" }',
            tail='[held_out]\nH1 = { handle = "pull" }\n',
        ),
    )
    bad_file("content", "an empty schedule", "s.toml", stream_toml(schedule='""'))
    bad_file("content", "a schedule token without a colon", "s.toml", stream_toml(schedule='"A100 B:100"'))
    bad_file("content", "a situation named ../x", "s.toml", stream_toml(situations='"../x" = {}'))
    bad_file("content", "no situations", "s.json", stream_json(situations=None))
    bad_file("content", "an empty situations table", "s.json", stream_json(situations={}))
    bad_file(
        "content",
        "an unknown crippled joint",
        "s.toml",
        stream_toml(
            family='"half_cheetah_cripple"',
            situations='A = { crippled_joint = "none" }\nB = { crippled_joint = "tail" }',
        ),
    )

    # numbers -------------------------------------------------------------------------------------------
    bad_file("numbers", "negative steps", "s.toml", stream_toml(schedule='"A:100 B:-5"'))
    bad_file(
        "numbers",
        "negative steps in a schedule table",
        "s.toml",
        stream_toml(schedule='[{ situation = "A", steps = -5 }]'),
    )
    bad_file("numbers", "zero steps", "s.toml", stream_toml(schedule='"A:0 B:100"'))
    bad_file("numbers", "fractional steps", "s.toml", stream_toml(schedule='"A:1.5"'))
    bad_file(
        "numbers",
        "steps of 5000 digits (JSON)",
        "s.json",
        stream_json(schedule=[{"situation": "A", "steps": 1}]).replace('"steps": 1', f'"steps": {HUGE}'),
    )
    for value in ("nan", "inf", "-inf", "-1.0", "0.0"):
        bad_file(
            "numbers",
            f"a parameter {value} (TOML)",
            "s.toml",
            stream_toml(situations=f"A = {{ mass = {value} }}"),
        )
    bad_file(
        "numbers", "a parameter NaN (JSON)", "s.json", stream_json().replace('"mass": 2.0', '"mass": NaN')
    )
    bad_file(
        "numbers", "a parameter 1e400 (JSON)", "s.json", stream_json().replace('"mass": 2.0', '"mass": 1e400')
    )
    bad_file("numbers", "episode_steps = 0", "s.toml", stream_toml(extra="episode_steps = 0"))
    bad_file("numbers", "episode_steps = -200", "s.toml", stream_toml(extra="episode_steps = -200"))
    bad_file("numbers", "episode_steps = 2.5", "s.toml", stream_toml(extra="episode_steps = 2.5"))

    # types ---------------------------------------------------------------------------------------------
    bad_file("types", "schedule = 5", "s.toml", stream_toml(schedule="5"))
    bad_file("types", "situations is a list", "s.json", stream_json(situations=[{}, {"mass": 2.0}]))
    bad_file(
        "types", "a situation's parameters are a string", "s.toml", stream_toml(situations='A = "heavy"')
    )
    bad_file("types", "steps a string", "s.json", stream_json(schedule=[{"situation": "A", "steps": "100"}]))
    bad_file("types", "steps true", "s.json", stream_json(schedule=[{"situation": "A", "steps": True}]))
    bad_file(
        "types",
        "a situation named by a number",
        "s.json",
        stream_json(schedule=[{"situation": 5, "steps": 1}]),
    )
    bad_file("types", "family = 5", "s.toml", stream_toml(family="5"))
    bad_file("types", "name = 5", "s.toml", stream_toml(extra="name = 5"))
    bad_file("types", "name is empty", "s.toml", stream_toml(extra='name = ""'))
    bad_file("types", "the file is a JSON list", "s.json", json.dumps([stream_json()]))
    bad_file("types", "a schedule entry is a number", "s.json", stream_json(schedule=[5]))
    bad_file("types", "held_out = 5", "s.toml", stream_toml(extra="held_out = 5"))
    bad_file("types", "a parameter is a list", "s.toml", stream_toml(situations="A = { mass = [1.0] }"))

    # resources -----------------------------------------------------------------------------------------
    bad_file(
        "resources",
        "2 x 10**7 steps in two segments",
        "s.toml",
        stream_toml(schedule='"A:9999999 B:9999999"'),
    )
    bad_file("resources", "one segment of 10**12 steps", "s.toml", stream_toml(schedule='"A:999999999999"'))
    many = " ".join(f"{'AB'[i % 2]}:100" for i in range(200_000))
    bad_file("resources", "200,000 segments, 2 x 10**7 steps", "s.toml", stream_toml(schedule=f'"{many}"'))
    bad_file("resources", "a stream file of 65 MB", "s.json", stream_json(name="x" * (65 * 2**20)), run=False)

    # nesting -------------------------------------------------------------------------------------------
    deep = W.deep_json()
    bad_file("nesting", "a stream file nested 5000 deep (JSON)", "s.json", deep)
    bad_file("nesting", "a stream file nested 3000 deep (TOML)", "s.toml", W.deep_toml())
    bad_file(
        "nesting",
        "a parameter nested 5000 deep",
        "s.json",
        stream_json(situations={"A": {"mass": 0}}).replace("0}", deep + "}"),
    )

    # paths ---------------------------------------------------------------------------------------------
    def fifo_link(w: Path) -> None:
        os.mkfifo(w / "p")
        (w / "l.toml").symlink_to(w / "p")

    places: tuple[tuple[str, str, Setup | None], ...] = (
        ("adir", "a directory", None),
        ("d.toml", "a directory named .toml", lambda w: (w / "d.toml").mkdir()),
        ("p.json", "a FIFO named .json", lambda w: os.mkfifo(w / "p.json")),
        ("nope.toml", "a missing file", None),
        ("file.txt", "a text file", None),
        ("l.toml", "a symlink to a FIFO", fifo_link),
    )
    for target, why, setup in places:
        add("paths", f"streams {why}", ["streams", f"{{w}}/{target}"], setup)
        add("paths", f"run stream= {why}", [*STREAM_RUN, f"stream={{w}}/{target}"], setup)

    # arguments -----------------------------------------------------------------------------------------
    add("arguments", "streams with two words", ["streams", "pendulum:tiny", "cartpole:tiny"])
    add("arguments", "streams with an unknown option", ["streams", "--family", "pendulum"])
    for name in ("atlantis:x", "pendulum", "pendulum:hypercrl", "pendulum:nope", ":", "pendulum:tiny:x"):
        add("arguments", f"streams {name!r}", ["streams", name])
    for value in ("nope", "", "pendulum:hypercrl", "PENDULUM:TINY", "x" * 5000):
        add("arguments", f"run stream={value[:20]!r}", [*STREAM_RUN, f"stream={value}"])
    for value in ("nope", "", "HNET", "5"):
        add("arguments", f"run method={value!r}", [*STREAM_RUN, *STREAM_TINY, f"method={value}"])
    add("arguments", "run a misspelt label-free preset", ["run", "hnet-stream-pendulm", *STREAM_RUN[2:]])
    add("arguments", "run a misspelt label-free field", [*STREAM_RUN, "hnet.identify.persistance=3"])

    # numbers of a run (eval.window=18: one past eval.episode_steps - eval.horizon of STREAM_TINY) -------
    for override in (
        "eval.window=1000", "eval.window=18", "eval.window=0", "eval.horizon=-1", "eval.episode_steps=1",
        "warmup_steps=0", "warmup_steps=-1", "train_every=0", "hnet.identify.window=1",
        "hnet.identify.alpha=0", "hnet.identify.alpha=nan", "hnet.identify.sticky=-1",
        "hnet.identify.persistence=0", "hnet.identify.temperature=inf", "hnet.identify.new_margin=-1",
        "hnet.identify.cusum_rate=1", "hnet.identify.max_situations=-1", "hnet.min_window=100",
        "hnet.lr=nan", "hnet.beta=-1", "hnet.emb_dim=0", "cadm.partial_context=2", "tmcl.heads=0",
        "grbal.capacity=1", "model.ensemble_size=5", f"hnet.identify.window={HUGE}",
    ):  # fmt: skip
        method = override.split(".")[0] if override.split(".")[0] in ("cadm", "tmcl", "grbal") else "hnet"
        add("numbers", f"run {override[:40]}", [*STREAM_RUN, *STREAM_TINY, f"method={method}", override])
    add(
        "types", "run hnet.identify.detector=fast", [*STREAM_RUN, *STREAM_TINY, "hnet.identify.detector=fast"]
    )
    add("types", "run hnet.hidden=abc", [*STREAM_RUN, *STREAM_TINY, "hnet.hidden=abc"])

    # resources of a run --------------------------------------------------------------------------------
    for override in (
        "hnet.hidden=1000000,1000000",
        "hnet.emb_dim=1000000000",
        "warmup_steps=10000000000000",
        "method=cadm cadm.capacity=10000000000000",
        "method=tmcl tmcl.capacity=10000000000000",
        "method=grbal grbal.capacity=10000000000000",
    ):  # (hnet.capacity: a known gap, tests/fuzz/test_labelfree_fuzz.py)
        add("resources", f"run {override}", [*STREAM_RUN, *STREAM_TINY, *override.split()])
    return out
