"""MJCF templates of dynadapt's MuJoCo envs (``string.Template`` syntax: ``${name}`` fields)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template


@cache
def load_template(name: str) -> Template:
    """The MJCF template ``dynadapt/envs/assets/<name>``."""
    return Template(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))
