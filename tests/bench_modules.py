"""The scripts of ``benchmarks/`` (not a package) as modules, for the tests that check them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent


def load(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` imported as module ``benchmarks_<name>`` (once per test process), with
    ``benchmarks/`` on the path as when the script runs (its sibling imports, ``from harness import ...``)."""
    key = f"benchmarks_{name}"
    if key in sys.modules:
        return sys.modules[key]
    if str(REPO / "benchmarks") not in sys.path:
        sys.path.append(str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(key, REPO / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module
