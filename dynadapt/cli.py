"""The ``dynadapt`` command line.

Every error a user can cause (unknown preset or env, invalid value, a directory that is not a run, a
corrupted checkpoint) is printed as one line, ``dynadapt: error: ...``, with exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from dynadapt.errors import DynadaptError

EXAMPLES = """\
examples:
  dynadapt presets
  dynadapt run pets-pendulum --out runs/pend --seed 1
  dynadapt run pets-cartpole planner.population=500 model.hidden=200,200
  dynadapt run pets-pendulum --help          (every override of the preset, documented)
  dynadapt resume runs/pend
  dynadapt plot runs/pend
  dynadapt envs                              (task families, parameters, named sequences)
  dynadapt streams                           (situation streams of label-free runs, one line each)
  dynadapt streams pendulum:recurring-mid    (one stream, or a .toml/.json stream file, segment by segment)
  dynadapt run hnet-stream-pendulum stream=my_stream.toml
  dynadapt render cartpole --out cp.png pole_length=1.0
  dynadapt video runs/pend --episodes 2 --gif   (evaluation episodes as MP4 (+ GIF) in runs/pend/videos)
  dynadapt sweep pets-pendulum pets-cartpole --seeds 0-2 --out sweeps/s1 planner.population={100,200}
  dynadapt sweep --grid grid.toml --out sweeps/s2 --backend ray
  dynadapt compare sweeps/s1                 (mean, std, 95% CI per method over seeds; table + plots)
  dynadapt report sweeps/s1                  (one self-contained HTML page, with the runs' videos)
  dynadapt report runs/a runs/b --out ab.html
"""


RUN_PARSER: list[argparse.ArgumentParser] = []
"""The ``run`` sub-command's parser (its --help is printed above a preset's overrides)."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are :class:`DynadaptError` lines like every other error."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("dynadapt").strip()
        raise DynadaptError(f"{command}: {message}" if command else message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="dynadapt",
        description="Model-based RL with dynamics models that keep adapting.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("presets", help="list the named experiment presets", description="List the named presets.")

    run = sub.add_parser(
        "run",
        help="run a preset (with overrides) in a new run directory",
        description=(
            "Run a named preset. Any config field can be overridden as key=value or --key value, "
            "e.g. seed=3, model.hidden=200,200, planner=icem, planner.population=300. "
            "`dynadapt run PRESET --help` lists every field of that preset with its documentation."
        ),
        add_help=False,
        allow_abbrev=False,
    )
    RUN_PARSER[:] = [run]
    run.add_argument("preset", nargs="?", help="preset name (see `dynadapt presets`)")
    run.add_argument("--out", help="run directory to create (default: runs/<preset>-s<seed>-<time>)")
    run.add_argument("--seed", type=int, help="random seed (same seed, same results)")
    run.add_argument("--quiet", action="store_true", help="no progress bars or per-episode lines")
    run.add_argument("-h", "--help", action="store_true", help="show this help, or the preset's overrides")

    res = sub.add_parser(
        "resume",
        help="continue an interrupted run from its last checkpoint",
        description="Continue a run from its last checkpoint (after a crash or kill -9); same results.",
    )
    res.add_argument("run_dir", help="the run directory")
    res.add_argument("--quiet", action="store_true", help="no progress bars or per-episode lines")

    plot = sub.add_parser("plot", help="(re)generate a run's plots", description="Regenerate RUN_DIR/plots.")
    plot.add_argument("run_dir", help="the run directory")

    envs = sub.add_parser(
        "envs",
        help="list task families, their parameters and named sequences",
        description=(
            "List the task families (or describe one): parameters, ranges, named task sequences. The "
            "situation streams of label-free runs are listed by `dynadapt streams`."
        ),
    )
    envs.add_argument("family", nargs="?", help="a family name or env id to describe in detail")

    streams = sub.add_parser(
        "streams",
        help="list the situation streams of label-free runs (or describe one)",
        description=(
            "List the named situation streams (run kind labelfree: the physical parameters change along "
            "one long run, situations recur, the agent is not told) one line each, or describe one named "
            "stream or .toml/.json stream file segment by segment: where each switch falls, the "
            "parameters of every situation and the held-out settings."
        ),
    )
    streams.add_argument(
        "stream", nargs="?", help="a stream name (e.g. pendulum:recurring-mid) or a .toml/.json stream file"
    )

    render = sub.add_parser(
        "render",
        help="render an env headless to a PNG image strip",
        description="Render frames of an env (random actions, or the family's scripted policy) headless.",
    )
    render.add_argument("env", help="family name or env id, e.g. cartpole or dynadapt/CartpoleSwingup-v0")
    render.add_argument("--out", required=True, help="output PNG file")
    render.add_argument("--frames", type=int, default=6, help="frames in the strip (default 6)")
    render.add_argument("--seed", type=int, default=0, help="reset seed (default 0)")
    render.add_argument("params", nargs="*", help="task parameters as key=value, e.g. pole_length=1.0")
    _add_video_parser(sub)
    _add_sweep_parsers(sub)
    return p


def _add_video_parser(sub: Any) -> None:
    video = sub.add_parser(
        "video",
        help="film evaluation episodes of a run (finished or running) to MP4 / GIF",
        description=(
            "Restore a checkpoint of the run (default: its last) and film evaluation episodes of each "
            "task headless, with the task, step and return printed on the frames; a mid-episode change of "
            "the task is marked, and a continual run's earlier tasks are shown beside the agent right after "
            "learning them. Writes OUT/<checkpoint>_task<i>.mp4 (and .gif with --gif)."
        ),
    )
    video.add_argument("run_dir", help="the run directory")
    video.add_argument("--checkpoint", help="checkpoint file, or name in RUN_DIR/checkpoints (default last)")
    video.add_argument("--task", type=int, action="append", help="film only task i (repeatable; default all)")
    video.add_argument("--episodes", type=int, default=1, help="evaluation episodes per task (default 1)")
    video.add_argument("--out", help="output directory (default RUN_DIR/videos)")
    video.add_argument("--gif", action="store_true", help="also write GIFs (e.g. for a README)")
    video.add_argument("--size", default="320x240", help="WIDTHxHEIGHT of the filmed scene (default 320x240)")


def _add_sweep_parsers(sub: Any) -> None:
    sweep = sub.add_parser(
        "sweep",
        help="run presets x overrides x seeds, one run directory per trial",
        usage="dynadapt sweep [PRESET ...] [KEY=VALUE ...] --out DIR [--grid FILE] [--seeds S] [options]",
        description=(
            "Run a grid of trials: every preset with every combination of the varied overrides (a key "
            "given more than once, e.g. planner.population={100,200}) and every seed; overrides given once "
            "apply to all. The grid can also come from a TOML/JSON file (--grid). Re-running the same "
            "command (or `dynadapt sweep --out DIR`) skips finished trials and resumes interrupted ones."
        ),
        allow_abbrev=False,
    )
    sweep.add_argument("--out", required=True, help="the sweep directory (created, or continued)")
    sweep.add_argument("--grid", help="a TOML or JSON grid file (presets, seeds, set, grid, methods)")
    sweep.add_argument("--seeds", help="seeds, e.g. 0,1,2 or 0-4 (default 0; at most 10000, below 2**63)")
    sweep.add_argument("--backend", default="local", help="local (default: worker processes) or ray")
    sweep.add_argument("--workers", type=int, help="trials at once (default: the cores, or Ray's CPUs)")
    sweep.add_argument("--threads", type=int, help="torch threads per trial (default 1)")
    sweep.add_argument("--address", help="ray backend: address of an existing Ray cluster (default: local)")
    sweep.add_argument("--quiet", action="store_true", help="no progress display")

    comp = sub.add_parser(
        "compare",
        help="aggregate runs over seeds per method: table and plots",
        description=(
            "Aggregate summary.json over seeds per method (preset + varied overrides): mean, standard "
            "deviation and 95% t-interval of every numeric figure; a Markdown table on the console and "
            "in OUT/compare.md (with OUT/compare.json), and plots with the seed spread in OUT/plots/."
        ),
    )
    comp.add_argument("dirs", nargs="+", metavar="DIR", help="sweep directories or run directories")
    comp.add_argument("--out", help="output directory (default: DIR/compare for one DIR)")

    rep = sub.add_parser(
        "report",
        help="write a self-contained HTML report of sweeps or runs",
        description=(
            "One HTML page (plots and the runs' evaluation videos embedded, tables, resolved configs) that "
            "opens offline."
        ),
    )
    rep.add_argument("dirs", nargs="+", metavar="DIR", help="sweep directories or run directories")
    rep.add_argument("--out", help="the HTML file (default: DIR/report.html for one DIR)")


def _cmd_sweep(args: argparse.Namespace, rest: list[str]) -> int:
    from dynadapt.runs.config import parse_override_args
    from dynadapt.sweep.grid import SweepSpec, load_grid_file, parse_seeds, split_overrides
    from dynadapt.sweep.run import run_sweep

    # Presets are bare words; overrides are key=value, --key=value or --key value (anywhere in the line).
    presets: list[str] = []
    words: list[str] = []
    i = 0
    while i < len(rest):
        word = rest[i]
        if word.startswith("--") and "=" not in word and i + 1 < len(rest):
            words += [word, rest[i + 1]]
            i += 2
            continue
        (words if word.startswith("--") or "=" in word else presets).append(word)
        i += 1
    overrides = parse_override_args(words)
    common, axes = split_overrides(overrides)
    spec: SweepSpec | None = None
    if args.grid:
        spec = load_grid_file(Path(args.grid))
        spec.presets += [p for p in presets if p not in spec.presets]
        spec.common += common
        spec.axes.update(axes)
    elif presets or overrides or args.seeds:
        spec = SweepSpec(presets=presets, common=common, axes=axes)
    if spec is not None and args.seeds:
        spec.seeds = parse_seeds(args.seeds)
    manifest = run_sweep(
        Path(args.out),
        spec,
        backend=args.backend,
        workers=args.workers,
        threads=args.threads,
        address=args.address,
        progress=not args.quiet,
        fork=True,  # this process has run no torch computation: forked workers inherit its imports
    )
    counts = manifest.counts()
    total = len(manifest.trials)
    print(f"sweep {args.out}: {counts['done']} of {total} trials done, {counts['failed']} failed")
    for t in manifest.trials:
        entry = manifest.entries[t.name]
        if entry["status"] == "failed":
            print(f"  failed: {t.name}: {entry['error']}")
    if counts["failed"]:
        print(
            "re-run the same command to retry the failed trials; "
            f"`dynadapt compare {args.out}` compares the finished ones"
        )
        return 1
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from dynadapt.sweep.compare import compare

    result = compare([Path(d) for d in args.dirs], Path(args.out) if args.out else None)
    print(result.markdown)
    print(f"written: {result.out / 'compare.md'}, {result.out / 'compare.json'}")
    for path in result.plots:
        print(path)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from dynadapt.sweep.report import write_report

    print(write_report([Path(d) for d in args.dirs], Path(args.out) if args.out else None))
    return 0


def _cmd_video(args: argparse.Namespace) -> int:
    from dynadapt.runs.launch import restore
    from dynadapt.runs.videos import record

    size = args.size.lower().split("x")
    if len(size) != 2 or not all(x.isdigit() and 16 <= int(x) <= 4096 for x in size):
        raise DynadaptError(f"--size looks like 320x240 (16 to 4096 pixels each), got {args.size!r}")
    run_dir = Path(args.run_dir)
    checkpoint = None
    if args.checkpoint:
        checkpoint = Path(args.checkpoint)
        if not checkpoint.is_file():  # a name: last, task0, task0.safetensors
            checkpoint = run_dir / "checkpoints" / Path(args.checkpoint).with_suffix(".safetensors").name
    runner = restore(run_dir, checkpoint)
    stem = (checkpoint or runner.rundir.checkpoint_path).stem
    out = Path(args.out) if args.out else run_dir / "videos"
    formats = ("mp4", "gif") if args.gif else ("mp4",)
    for path in record(runner, out, stem, args.task, args.episodes, (int(size[0]), int(size[1])), formats):
        print(path)
    return 0


def _cmd_envs(args: argparse.Namespace) -> int:
    from dynadapt.envs import describe_families, describe_family

    print(describe_family(args.family) if args.family else describe_families())
    return 0


def _cmd_streams(args: argparse.Namespace) -> int:
    from dynadapt.envs.streams import get_stream

    print(get_stream(args.stream).describe() if args.stream is not None else _streams_table())
    return 0


def _streams_table() -> str:
    """One row per named stream: family, situations (+ held-out settings), steps, episodes, switches (of
    them in the middle of an episode) and the order in which the situations play."""
    from dynadapt.envs.streams import get_stream, stream_names

    rows = [("stream", "family", "situations", "steps", "episodes", "switches (mid-episode)", "order")]
    for name in stream_names():
        s = get_stream(name)
        switches = s.switch_steps()
        mid = sum(1 for t in switches if t % s.episode_steps)
        episodes = -(-s.total_steps // s.episode_steps)
        rows.append(
            (
                name,
                s.family,
                f"{len(s.situations)} + {len(s.held_out)} held out",
                str(s.total_steps),
                f"{episodes} x {s.episode_steps}",
                f"{len(switches)} ({mid})",
                " ".join(s.names[seg.situation] for seg in s.schedule),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(
        "`dynadapt streams NAME_OR_FILE` describes one; a .toml/.json stream file works wherever a name "
        "does (stream=FILE)."
    )
    return "\n".join(lines)


def _cmd_render(args: argparse.Namespace) -> int:
    from dynadapt.envs import render_strip

    params: dict[str, Any] = {}
    for item in args.params:
        if "=" not in item:
            raise DynadaptError(f"task parameters look like key=value, got {item!r}")
        key, value = item.split("=", 1)
        params[key] = value
    if args.frames < 1:
        raise DynadaptError("--frames must be at least 1")
    print(render_strip(args.env, params, args.out, frames=args.frames, seed=args.seed))
    return 0


def _cmd_presets() -> int:
    from dynadapt.runs.presets import PRESETS

    width = max(len(n) for n in PRESETS)
    for name, p in PRESETS.items():
        print(f"{name:<{width}}  [{p.kind}] {p.description}")
    return 0


def _cmd_run(args: argparse.Namespace, rest: list[str], parser: argparse.ArgumentParser) -> int:
    from dynadapt.runs import launch
    from dynadapt.runs.config import apply_overrides, help_text, parse_override_args
    from dynadapt.runs.presets import get_preset

    if args.preset is None:
        if args.help:
            _print_run_help(parser)
            return 0
        raise DynadaptError("run needs a preset name; see `dynadapt presets`")
    preset = get_preset(args.preset)
    overrides = parse_override_args(rest)
    if args.seed is not None:
        overrides.append(("seed", str(args.seed)))
    cfg = apply_overrides(preset.make(), overrides)
    if args.help:
        _print_run_help(parser)
        print(f"\noverrides of preset {preset.name!r} ({preset.description}), current values:")
        print(help_text(cfg))
        return 0
    out = args.out or f"runs/{preset.name}-s{cfg.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    summary = launch.start(preset, cfg, Path(out), progress=not args.quiet)
    _print_summary(summary, out)
    return 0


def _print_run_help(parser: argparse.ArgumentParser) -> None:
    RUN_PARSER[0].print_help()


def _print_summary(summary: dict[str, Any], out: str | os.PathLike[str]) -> None:
    from dynadapt.runs.kinds import get_kind

    keys = get_kind(summary["kind"]).headline
    shown = ", ".join(
        f"{k}={summary[k]:.4g}" if isinstance(summary[k], float) else f"{k}={summary[k]}"
        for k in keys
        if k in summary
    )
    print(f"done: {out} ({shown})")


def _cmd_resume(args: argparse.Namespace) -> int:
    from dynadapt.runs import launch

    summary = launch.resume(Path(args.run_dir), progress=not args.quiet)
    _print_summary(summary, args.run_dir)
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from dynadapt.runs import launch

    for path in launch.plot(Path(args.run_dir)):
        print(path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args, rest = parser.parse_known_args(argv)
        if args.version:
            from dynadapt import __version__

            print(__version__)
            return 0
        if args.command is None:
            parser.print_help()
            return 0
        if args.command == "render":
            args.params = [*args.params, *rest]
            rest = []
        if args.command not in ("run", "sweep") and rest:
            raise DynadaptError(f"unrecognised arguments: {' '.join(rest)}")
        if args.command == "presets":
            return _cmd_presets()
        if args.command == "run":
            return _cmd_run(args, rest, parser)
        if args.command == "resume":
            return _cmd_resume(args)
        if args.command == "plot":
            return _cmd_plot(args)
        if args.command == "envs":
            return _cmd_envs(args)
        if args.command == "streams":
            return _cmd_streams(args)
        if args.command == "render":
            return _cmd_render(args)
        if args.command == "sweep":
            return _cmd_sweep(args, rest)
        if args.command == "compare":
            return _cmd_compare(args)
        if args.command == "report":
            return _cmd_report(args)
        if args.command == "video":
            return _cmd_video(args)
        raise DynadaptError(f"unknown command {args.command!r}")
    except DynadaptError as e:
        return _fail(str(e))
    except OSError as e:  # a full disk, a read-only or missing directory, no permission: nothing is lost
        return _fail(f"{e.filename}: {e.strerror}" if e.filename and e.strerror else str(e))
    except KeyboardInterrupt:
        if argv[:1] == ["sweep"]:
            print(
                "dynadapt: interrupted (the same command, or `dynadapt sweep --out DIR`, continues it)",
                file=sys.stderr,
            )
        else:
            print(
                "dynadapt: interrupted (a started run continues with `dynadapt resume RUN_DIR`)",
                file=sys.stderr,
            )
        return 130


def _fail(message: str) -> int:
    """Print ``message`` as the one line ``dynadapt: error: ...`` on stderr; returns exit code 2."""
    text = " ".join(message.split("\n")).replace("\r", " ")
    if len(text) > 20_000:
        text = text[:20_000] + " ..."
    print(f"dynadapt: error: {text}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
