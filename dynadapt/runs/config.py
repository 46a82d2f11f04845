"""Typed configs at the edges: overrides from the command line, help text, JSON round trips.

Experiment configs are nested dataclasses. A field whose value can be one of several component configs
(e.g. the planner) declares the registry of choices in its metadata::

    planner: PlannerConfig = field(default_factory=CEMConfig, metadata={"choices": PLANNER_CONFIGS})

and each choice class has a ``name: ClassVar[str]``. Overrides use dotted paths::

    seed=3   model.hidden=200,200   planner=icem   planner.population=300   env_params.gravity=12

(``--key value`` and ``--key=value`` are accepted too.) A choice override (``planner=icem``) replaces the
component with the new choice's defaults and is applied before the fields below it. Values are converted
by the field's type annotation; every mistake is a :class:`DynadaptError` with one clear line. Every
config built here (from overrides, or from a saved ``config.json``) is checked field by field against
the annotations (:func:`dynadapt.checks.check_value`): integers are integers, and no numeric field takes
NaN or infinity. Field documentation is the string literal written right below the field, as in these
configs, and is what ``dynadapt run PRESET --help`` prints.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import json
import textwrap
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from dynadapt.checks import check_value, short
from dynadapt.errors import DynadaptError, UnknownNameError
from dynadapt.io import parse_json


def _choices(f: dataclasses.Field[Any]) -> Mapping[str, type] | None:
    return f.metadata.get("choices")


_DOCS: dict[type, dict[str, str]] = {}


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written below each field of a dataclass (and of its dataclass bases)."""
    if cls in _DOCS:
        return _DOCS[cls]
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, nxt in zip(body, [*body[1:], None]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    _DOCS[cls] = docs
    return docs


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(value: str, tp: Any, path: str) -> Any:
    """Convert the command-line string ``value`` to type ``tp`` (the field's annotation)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and value.lower() in ("none", "null", ""):
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, path)
            except DynadaptError as e:
                errors.append(str(e))
        raise DynadaptError(errors[0] if errors else f"invalid value {value!r} for {path}")
    if origin is Literal:
        for a in args:
            if str(a) == value:
                return a
        raise DynadaptError(f"invalid value {value!r} for {path}; choose one of {', '.join(map(str, args))}")
    if tp is bool:
        low = value.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise DynadaptError(f"{path} expects true or false, got {value!r}")
    if tp in (int, float):
        try:
            number = tp(value) if tp is float else int(value)
        except ValueError:  # also an integer of more digits than Python converts
            raise DynadaptError(
                f"{path} expects {'an integer' if tp is int else 'a number'}, got {short(value)}"
            ) from None
        return number
    if tp is str:
        return value
    if origin is tuple:
        elem = args[0] if args else str
        text = value.strip().strip("[]()")
        items = [s for s in (p.strip() for p in text.split(",")) if s]
        return tuple(_convert(s, elem, path) for s in items)
    if origin is list:
        elem = args[0] if args else str
        if typing.get_origin(elem) is dict:  # a list of objects, as JSON: task.test_tasks=[{"mass": 2.0}]
            loaded = _json(value)
            if not (isinstance(loaded, list) and all(isinstance(v, dict) for v in loaded)):
                raise DynadaptError(f"{path} expects a JSON list of objects, got {short(value)}")
            return loaded
        text = value.strip().strip("[]")
        return [_convert(s.strip(), elem, path) for s in text.split(",") if s.strip()]
    if origin is dict:
        loaded = _json(value)
        if not isinstance(loaded, dict):
            raise DynadaptError(f"{path} expects a JSON object, got {short(value)}")
        return loaded
    raise DynadaptError(f"cannot set {path} from the command line")


def _json(value: str) -> Any:
    """The JSON value of the text ``value``; the text itself if it is not JSON (or nests too deeply)."""
    try:
        return parse_json(value, "value")
    except DynadaptError:
        return value


def parse_override_args(args: Sequence[str]) -> list[tuple[str, str]]:
    """Split ``["a.b=1", "--c", "2", "--d=3"]`` into ``[("a.b", "1"), ("c", "2"), ("d", "3")]``."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            key = arg[2:]
            if "=" in key:
                key, value = key.split("=", 1)
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                raise DynadaptError(f"option --{key} needs a value")
        elif "=" in arg:
            key, value = arg.split("=", 1)
        else:
            raise DynadaptError(f"unexpected argument {arg!r}; overrides look like key=value or --key value")
        out.append((key.replace("-", "_"), value))
        i += 1
    return out


def apply_overrides(cfg: Any, overrides: Sequence[tuple[str, str]]) -> Any:
    """Return a copy of ``cfg`` with the dotted-path overrides applied (choices first), re-validated."""
    cfg = from_dict(type(cfg), to_dict(cfg))
    ordered = sorted(overrides, key=lambda kv: (kv[0].count("."), not _is_choice(cfg, kv[0])))
    for path, value in ordered:
        try:
            _set(cfg, path.split("."), value, path)
        except UnknownNameError as e:
            if e.kind != "config field":
                raise
            raise UnknownNameError("config field", path, e.known, _suggest(cfg, path)) from None
    return revalidate(cfg)


def _suggest(cfg: Any, path: str) -> str | None:
    """The settable path a mistyped ``path`` most likely means: one with the same last name at another depth
    (``env`` -> ``task.env``), else the closest one at the same depth (``planer.population``)."""
    known = _known_paths(cfg)
    dotted = [p for p in known if p.replace(".", "_") == path.replace(".", "_")]  # eval_episodes
    if dotted:
        return dotted[0]
    leaf = path.rsplit(".", 1)[-1]
    moved = [p for p in known if p.rsplit(".", 1)[-1] == leaf]
    if moved:
        return min(moved, key=len)
    close = difflib.get_close_matches(path, [p for p in known if p.count(".") == path.count(".")], n=1)
    return close[0] if close else None


def _known_paths(cfg: Any) -> list[str]:
    """Every settable dotted path of ``cfg`` (fields, groups and choices), for "did you mean" hints."""
    paths: list[str] = []
    for path, *_ in describe(cfg):
        parts = path.split(".")
        paths.extend(".".join(parts[: i + 1]) for i in range(len(parts)))
    return sorted(set(paths))


def _is_choice(cfg: Any, path: str) -> bool:
    obj = cfg
    parts = path.split(".")
    for p in parts[:-1]:
        obj = getattr(obj, p, None)
        if obj is None or not dataclasses.is_dataclass(obj):
            return False
    fields = {f.name: f for f in dataclasses.fields(obj)} if dataclasses.is_dataclass(obj) else {}
    f = fields.get(parts[-1])
    return f is not None and _choices(f) is not None


def _set(obj: Any, parts: list[str], value: str, path: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(obj)}
    name = parts[0]
    if name not in fields:
        prefix = path[: len(path) - len(".".join(parts))]
        raise UnknownNameError("config field", path, [prefix + n for n in fields])
    f = fields[name]
    current = getattr(obj, name)
    if len(parts) == 1:
        choices = _choices(f)
        if choices is not None:
            if value not in choices:
                raise UnknownNameError(f"choice for {path}", value, choices)
            setattr(obj, name, choices[value]())
        elif dataclasses.is_dataclass(current):
            raise DynadaptError(
                f"{path} is a group of settings; set one of its fields, e.g. {path}.<field>=..."
            )
        else:
            setattr(obj, name, _convert(value, _hints(type(obj))[name], path))
        return
    if isinstance(current, dict):
        if len(parts) != 2:
            raise DynadaptError(f"invalid override path {path!r}")
        current = dict(current)
        current[parts[1]] = _json(value)
        setattr(obj, name, current)
        return
    if not dataclasses.is_dataclass(current):
        raise UnknownNameError("config field", path, [n for n in fields])
    _set(current, parts[1:], value, path)


def revalidate(cfg: Any) -> Any:
    """Rebuild every nested dataclass so that each ``__post_init__`` validates the final values."""
    return from_dict(type(cfg), to_dict(cfg))


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-safe dict of a config; choice components carry their ``name``."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            d = to_dict(v)
            if _choices(f) is not None:
                d = {"name": type(v).name, **d}  # type: ignore[attr-defined]
            out[f.name] = d
        elif isinstance(v, tuple):
            out[f.name] = list(v)
        elif isinstance(v, dict):
            out[f.name] = dict(v)
        else:
            out[f.name] = v
    return out


def from_dict(cls: type, data: Mapping[str, Any], prefix: str = "") -> Any:
    """Rebuild a config from :func:`to_dict`'s output (unknown keys and values of the wrong type, or NaN
    and infinite numbers, are an error naming the field's path ``prefix + name``)."""
    if not isinstance(data, Mapping):
        raise DynadaptError(f"{prefix.rstrip('.') or cls.__name__} must be an object, got {short(data, 40)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise UnknownNameError(f"field of {cls.__name__}", str(key), fields)
        f = fields[key]
        choices = _choices(f)
        if choices is not None:
            if not isinstance(value, Mapping):
                raise DynadaptError(f"{prefix}{key} must be an object, got {short(value, 40)}")
            value = dict(value)
            name = value.pop("name", None)
            if not isinstance(name, str) or name not in choices:
                raise UnknownNameError(f"choice for {prefix}{key}", str(name), choices)
            kwargs[key] = from_dict(choices[name], value, f"{prefix}{key}.")
        elif dataclasses.is_dataclass(hints[key]):
            kwargs[key] = from_dict(hints[key], value, f"{prefix}{key}.")
        else:
            check_value(value, hints[key], prefix + key)
            is_tuple = typing.get_origin(hints[key]) is tuple and isinstance(value, list)
            kwargs[key] = tuple(value) if is_tuple else value
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise DynadaptError(f"invalid {cls.__name__}: {e}") from None


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "{" + ",".join(map(str, typing.get_args(tp))) + "}"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        return "int,int,..." if typing.get_args(tp)[:1] == (int,) else "a,b,..."
    if origin is dict:
        return "JSON"
    return getattr(tp, "__name__", str(tp))


def describe(cfg: Any, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """Every settable field of ``cfg``: ``(path, type, current value, doc)``."""
    rows: list[tuple[str, str, str, str]] = []
    docs = field_docs(type(cfg))
    hints = _hints(type(cfg))
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        path = prefix + f.name
        choices = _choices(f)
        if choices is not None:
            rows.append((path, "{" + ",".join(choices) + "}", type(v).name, docs.get(f.name, "")))
            rows.extend(describe(v, path + "."))
        elif dataclasses.is_dataclass(v):
            rows.extend(describe(v, path + "."))
        else:
            shown = (
                ",".join(map(str, v)) if isinstance(v, tuple) else json.dumps(v) if isinstance(v, dict) else v
            )
            rows.append((path, _type_name(hints[f.name]), str(shown), docs.get(f.name, "")))
    return rows


def help_text(cfg: Any) -> str:
    """The ``--help`` listing of every override of ``cfg`` with its type, value and documentation."""
    lines = []
    for path, tp, value, doc in describe(cfg):
        lines.append(f"  {path}={value}   [{tp}]")
        if doc:
            lines.extend("      " + line for line in textwrap.wrap(doc, 96))
    return "\n".join(lines)
