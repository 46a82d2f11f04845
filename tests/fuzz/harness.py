"""Running the fuzz cases and judging each outcome; the summary the suite reports (counts by outcome and by
input class).

Outcomes: ``ok`` (the promised failure: exit 2 with one line ``dynadapt: error: ...`` and no traceback, or
a :class:`~dynadapt.errors.DynadaptError` from the API, and every file that was there unchanged);
otherwise the first thing wrong: ``traceback``, ``exit <n>`` (``exit 0``: the input was accepted),
``lines <n>`` (not one line), ``timeout``, ``changed`` (a file that was there changed or vanished),
``created`` (a failing command left a new file), ``raised <Type>`` / ``accepted`` (API).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dynadapt.errors import DynadaptError
from tests.fuzz import world as W
from tests.fuzz.api_cases import ApiCase
from tests.fuzz.cli_cases import CLASSES, Case

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Outcome:
    kind: str
    """"cli" or "api"."""
    cls: str
    name: str
    outcome: str
    detail: str = ""
    seconds: float = 0.0


def run_cli(cases: list[Case], base: Path, work: Path, ro: Path | None, timeout: float = 60) -> list[Outcome]:
    """Run ``cases`` (each in its own copy of the world ``base``) in one warm forking process."""
    prepared: list[tuple[Case, Path, dict[str, Any]]] = []
    specs: list[dict[str, Any]] = []
    skipped: list[Outcome] = []
    dev_ok = os.geteuid() == 0
    for i, case in enumerate(cases):
        if ("ro" in case.needs and ro is None) or ("dev" in case.needs and not dev_ok):
            skipped.append(Outcome("cli", case.cls, case.name, "skipped", "not possible on this machine"))
            continue
        home = work / f"case{i:03d}"
        w = home / "w"
        named = " ".join(case.argv)
        unused = [d for d in W.RUN_DIRS if f"{{w}}/{d}" not in named and f"{{ro}}/{d}" not in named]
        shutil.copytree(base, w, symlinks=True, ignore=shutil.ignore_patterns(*unused) if unused else None)
        (home / "outside").mkdir()
        (home / "outside" / "keep.txt").write_text("must survive\n")
        if case.setup is not None:
            case.setup(w)
        argv = [a.replace("{w}", str(w)).replace("{ro}", str(ro)) for a in case.argv]
        specs.append(
            {"argv": argv, "cwd": str(w), "fsize": case.fsize, "memory": case.memory, "timeout": timeout}
        )
        prepared.append((case, home, W.snapshot(home)))
    (work / "cases.json").write_text(json.dumps(specs))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    subprocess.run(
        [sys.executable, "-m", "tests.fuzz.forkcli", str(work / "cases.json"), str(work / "results.json")],
        check=True,
        cwd=ROOT,
        env=env,
        timeout=timeout * len(specs) + 120,
    )
    results = json.loads((work / "results.json").read_text())
    out = []
    for (case, home, before), res in zip(prepared, results):
        changed, created = W.changes(before, W.snapshot(home))
        outcome, detail = judge_cli(res, changed, [] if case.fsize else created)
        out.append(Outcome("cli", case.cls, case.name, outcome, detail, res["seconds"]))
    return out + skipped


def run_api(cases: list[ApiCase], w: Path) -> list[Outcome]:
    """Call every case in this process; the world ``w`` must be unchanged by each (files a case crafts for
    itself, ``crafted-*``, aside)."""
    out = []
    for case in cases:
        before = W.snapshot(w)
        start = time.perf_counter()
        try:
            case.call()
            outcome, detail = "accepted", ""
        except DynadaptError as e:
            outcome, detail = "ok", str(e)[:200]
        except Exception as e:
            outcome, detail = f"raised {type(e).__name__}", f"{e}"[:300]
        seconds = time.perf_counter() - start
        changed, created = W.changes(before, W.snapshot(w))
        created = [p for p in created if not Path(p).name.startswith("crafted-")]
        if outcome == "ok" and (changed or created):
            outcome, detail = (
                ("changed", ", ".join(changed[:5])) if changed else ("created", ", ".join(created[:5]))
            )
        out.append(Outcome("api", case.cls, case.name, outcome, detail, seconds))
    return out


def judge_cli(res: dict[str, Any], changed: list[str], created: list[str]) -> tuple[str, str]:
    lines = res["stderr"].strip().splitlines()
    first = lines[0][:300] if lines else ""
    if res["rc"] is None:
        return "timeout", ""
    if "Traceback" in res["stderr"]:
        return "traceback", res["stderr"][-600:]
    if res["rc"] != 2:
        return f"exit {res['rc']}", first or res["stdout"][-300:]
    if len(lines) != 1 or not lines[0].startswith("dynadapt: error: "):
        return f"lines {len(lines)}", res["stderr"][:600]
    if changed:
        return "changed", ", ".join(changed[:5])
    if created:
        return "created", ", ".join(created[:5])
    return "ok", first


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    """Counts by outcome, by kind (cli/api) and by input class, and the classes' descriptions."""
    by_class: dict[str, Counter[str]] = {}
    for o in outcomes:
        by_class.setdefault(f"{o.kind}:{o.cls}", Counter())[o.outcome] += 1
    return {
        "total": len(outcomes),
        "by_outcome": dict(Counter(o.outcome for o in outcomes)),
        "by_kind": {k: dict(Counter(o.outcome for o in outcomes if o.kind == k)) for k in ("cli", "api")},
        "by_class": {k: dict(v) for k, v in sorted(by_class.items())},
        "classes": CLASSES,
        "failures": [
            f"{o.kind}:{o.cls}: {o.name}: {o.outcome}: {o.detail[:400]}"
            for o in outcomes
            if o.outcome not in ("ok", "skipped")
        ],
    }


def report(outcomes: list[Outcome]) -> str:
    """The summary as indented JSON (the fuzz suite prints it; ``DYNADAPT_FUZZ_SUMMARY=FILE`` saves it)."""
    text = json.dumps(summary(outcomes), indent=2)
    target = os.environ.get("DYNADAPT_FUZZ_SUMMARY")
    if target:
        Path(target).write_text(text + "\n")
    return text
