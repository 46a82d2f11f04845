"""The registry of task families (name -> :class:`TaskFamily`)."""

from __future__ import annotations

from dynadapt.checks import need_str
from dynadapt.envs.family import TaskFamily
from dynadapt.errors import UnknownNameError

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
