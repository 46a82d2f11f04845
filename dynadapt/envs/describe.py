"""Plain-text descriptions of the registered task families (for ``dynadapt envs``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dynadapt.envs.family import Param, TaskFamily
from dynadapt.envs.registry import family_names, resolve_family


def _fmt_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _param_text(param: Param) -> str:
    if param.choices is not None:
        valid = "|".join(_fmt_value(c) for c in param.choices)
    elif 0.0 < param.low <= 1e-6:  # "strictly positive"
        valid = f"(0, {_fmt_value(param.high)}]"
    else:
        valid = f"[{_fmt_value(param.low)}, {_fmt_value(param.high)}]"
    return f"{param.name}={_fmt_value(param.default)} {valid}"


def task_text(family: TaskFamily, params: Mapping[str, Any]) -> str:
    """``"(name=value, ...)"``: every parameter for families with at most two, else only those that
    differ from the defaults (``"(defaults)"`` when none does)."""
    full = family.validate(params)
    defaults = family.validate({})
    shown = [k for k in full if len(full) <= 2 or defaults[k] != full[k]]
    return "(" + ", ".join(f"{k}={_fmt_value(full[k])}" for k in shown) + ")" if shown else "(defaults)"


def describe_families() -> str:
    """One table row per family: name, env id, obs/act sizes, episode length, parameters, sequences.

    Example row::

        cartpole  dynadapt/CartpoleSwingup-v0  4/1  200  pole_length=0.6 [1e-06, 10], ...  hypercrl(5) ...
    """
    rows = [("family", "env id", "obs/act", "steps", "parameters (default [valid])", "sequences (tasks)")]
    for name in family_names():
        family = resolve_family(name)
        seqs = [f"{s}({len(t)})" for s, t in family.sequences.items()]
        seqs += [f"split:{s}({len(t)})" for s, t in family.splits.items()]
        rows.append(
            (
                family.name,
                family.env_id,
                f"{family.obs_dim}/{family.act_dim}",
                str(family.episode_steps),
                "; ".join(_param_text(p) for p in family.params),
                " ".join(seqs) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def describe_family(name_or_env_id: str) -> str:
    """A detailed description of one family: its docstring line, parameters with their meaning, and
    every named sequence and split task by task."""
    family = resolve_family(name_or_env_id)
    lines = [
        f"{family.name} ({family.env_id})",
        f"  {family.doc}",
        f"  observation {family.obs_dim} (model features {family.feature_dim}), action {family.act_dim} in "
        f"[{', '.join(_fmt_value(v) for v in family.act_low)}] .. "
        f"[{', '.join(_fmt_value(v) for v in family.act_high)}], {family.episode_steps} steps per episode",
        "  parameters:",
    ]
    lines += [f"    {_param_text(p)}: {p.doc}" for p in family.params]
    for kind, groups in (("sequence", family.sequences), ("split", family.splits)):
        for seq, tasks in groups.items():
            prefix = f"{family.name}:{seq}" if kind == "sequence" else f"{family.name}:split:{seq}"
            lines.append(f"  {kind} {prefix}:")
            lines += [f"    {i}. {task_text(family, t)}" for i, t in enumerate(tasks, 1)]
    return "\n".join(lines)
