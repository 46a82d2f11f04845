"""The registry of task families (name -> :class:`TaskFamily`)."""

from __future__ import annotations

import importlib
import importlib.util

import gymnasium as gym

from dynadapt.checks import need_str
from dynadapt.envs.family import TaskFamily
from dynadapt.errors import UnknownNameError
from dynadapt.extras import EXTRAS, require

_FAMILIES: dict[str, TaskFamily] = {}


def register_family(family: TaskFamily) -> TaskFamily:
    """Add a family to the registry (its env id must already be registered with Gymnasium)."""
    if family.name in _FAMILIES:
        raise ValueError(f"task family {family.name!r} is registered twice")
    _FAMILIES[family.name] = family
    return family


def get_family(name: str) -> TaskFamily:
    """Look a family up by name; unknown names raise :class:`UnknownNameError` listing the known ones."""
    need_str(name, "task family name")
    try:
        return _FAMILIES[name]
    except KeyError:
        for extra, family_name, _ in OPTIONAL_FAMILIES:
            if name == family_name:
                require(extra, f"task family {name!r}")
        raise UnknownNameError("task family", name, _FAMILIES) from None


def family_names() -> list[str]:
    """Names of all registered families, sorted."""
    return sorted(_FAMILIES)


def resolve_family(name_or_env_id: str) -> TaskFamily:
    """A family by its name (``"cartpole"``) or its Gymnasium id (``"dynadapt/CartpoleSwingup-v0"``)."""
    need_str(name_or_env_id, "task family or env id")
    if name_or_env_id in _FAMILIES:
        return _FAMILIES[name_or_env_id]
    for family in _FAMILIES.values():
        if family.env_id == name_or_env_id:
            return family
    known = [*_FAMILIES, *(f.env_id for f in _FAMILIES.values())]
    raise UnknownNameError("task family or env id", name_or_env_id, known)


OPTIONAL_FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("robosuite", "panda_pusher", "dynadapt.envs.panda.pusher:PandaPusherEnv"),
    ("robosuite", "panda_door", "dynadapt.envs.panda.door:PandaDoorEnv"),
)
"""Families that need an optional extra: ``(extra, family name, env entry point)``. Each is registered (with
Gymnasium and here) only where its extra is installed; its module imports the extra only when an env is
built, so registering costs no import of it."""


def _register_optional_families() -> None:
    for extra, _, entry_point in OPTIONAL_FAMILIES:
        if any(importlib.util.find_spec(m) is None for m in EXTRAS[extra]):
            continue
        module = entry_point.split(":")[0]
        family: TaskFamily = importlib.import_module(module).FAMILY
        if family.env_id not in gym.registry:
            gym.register(id=family.env_id, entry_point=entry_point, max_episode_steps=family.episode_steps)
        if family.name not in _FAMILIES:
            register_family(family)


_register_optional_families()
