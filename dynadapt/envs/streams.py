"""Situation streams: the physical parameters of one family change along a long run, and situations recur.

A :class:`Stream` plays *situations* (parameter settings of one task family) one after another, following
a *schedule* of :class:`Segment` s. Situations recur (A B A C B A ...), after short and long gaps, and a
switch happens either at an episode boundary or in the middle of an episode; the agent is never told which
situation it is in. This is the setting of continual online adaptation without task labels (MOLe,
Nagabandi et al. 2019, arXiv 1812.07671, Section 6: motor malfunctions switching within a rollout, crippled
legs that recur; reference §5.6, §11.5). The index of a situation in :attr:`Stream.situations` is its true
label, used only by the metrics and the task-aware reference learner.

:class:`StreamEnv` plays a stream on one real env of the family (Gymnasium API underneath). It resets the
env every ``episode_steps`` steps; a switch that falls inside an episode calls
:func:`~dynadapt.envs.base.set_task` just before the step at that global step (the state is kept, no
reset), one that falls on an episode boundary takes effect at the reset.

**The reward never changes.** The planner scores imagined rollouts with the family's batched reward and
termination functions; a stream whose reward changed with the situation would give the agent the label
through the reward, and its planner would plan with the wrong reward. Building a stream therefore refuses
any situation (or held-out setting) whose reward or termination function differs from the first
situation's, checked generally on one fixed random batch of ``(obs, act, next_obs)`` in float64 (the
cart-pole reward depends on ``pole_length``, so cart-pole streams vary the pole mass and the cart damping).

Named streams (``"<family>:<name>"``, :func:`stream_names`)
----------------------------------------------------------

Every family below has three: ``recurring`` (switches at episode boundaries only), ``recurring-mid`` (the
same order of situations, about half of the switches in the middle of an episode) and ``tiny`` (500 steps
for tests and smoke runs, one mid-episode switch and one recurrence). Schedules are written
``name:steps``; ``|`` marks where a switch falls inside an episode in the ``-mid`` variants.

The ``recurring`` order is ``A B A C B A B A B C A C``: A comes back after a short gap (one segment), C
after a long one (2400 steps for pendulum and cart-pole, five segments), every situation is seen at least
three times. The one-step differences quoted are the mean over 300 states visited under random actions
(uniform in the action bounds) of the RMS over observation dimensions of the difference of the next
observations from the same state and action, divided per dimension by the standard deviation of the
one-step change ``next_obs - obs``: 0.2 - 0.9 for every pair of situations below, so a model whose
one-step error in these units stays well below 0.1 tells every pair apart.

``pendulum`` (200-step episodes; reward independent of all parameters). The pendulum's angular
acceleration is ``3 g / (2 l) sin θ + 3 / (m l²) u``:

* situations: A = defaults (mass 1, length 1, gravity 10), B = ``length=0.5`` (gravity term twice,
  torque gain four times A's), C = ``mass=0.5, length=2`` (gravity term and torque gain half of A's, the
  same ratio, so the swing-up is as hard but slower). One-step differences A-B 0.63, A-C 0.26, B-C 0.86;
* held out: H1 = ``length=0.7``, H2 = ``mass=0.5``, H3 = ``mass=0.75, length=1.5``;
* ``recurring`` (7,200 steps, 36 episodes, 12 segments):
  ``A:800 B:600 A:400 C:800 B:400 A:600 B:600 A:400 B:400 C:600 A:800 C:800``;
* ``recurring-mid`` (7,200 steps): ``A:900| B:500 A:550| C:650 B:450| A:550 B:700| A:300 B:550| C:450
  A:850| C:750``: switches at 900, 1950, 3050, 4300, 5150 and 6450 fall 100, 150, 50, 100, 150 and 50
  steps into an episode; those at 1400, 2600, 3600, 4600 and 5600 on episode boundaries;
* ``tiny`` (100-step episodes, 500 steps): ``A:150| B:150 A:100 C:100`` (switches at 150 mid-episode, at
  300 and 400 on boundaries).

``cartpole`` (200-step episodes). ``pole_length`` sets the reward's length scale and stays at its default
0.6 in every situation:

* situations: A = defaults (pole mass 0.5 kg, cart damping 1 N s/m), B = ``pole_mass=2`` (heavy pole),
  C = ``pole_mass=0.2, cart_damping=12`` (light pole on a sticky rail; at 2 m/s the rail takes 24 N of the
  60 N the motor has). One-step differences A-B 0.21, A-C 0.26, B-C 0.35;
* held out: H1 = ``pole_mass=1, cart_damping=5`` (in between), H2 = ``pole_mass=3`` (heavier than any
  seen), H3 = ``cart_damping=20`` (stickier than any seen);
* ``recurring``, ``recurring-mid`` and ``tiny``: the schedules of the pendulum streams.

``half_cheetah_cripple`` (500-step episodes, half the family's 1000, so that a CPU run sees 18 episodes
and the streams stay at 9,000 steps). The crippled joint is chosen over ``half_cheetah_body``: a disabled
actuator removes one of six action dimensions from the dynamics at once, which the one-step error shows as
soon as that joint is commanded (0.19 - 0.41 for every pair of joints), it is the perturbation of GrBAL's
and MOLe's experiments (motor malfunctions within a rollout), and its reward is independent of the joint;
the body family's HyperCRL variants (geom sizes x1.25 at a fixed total mass) change the dynamics less and
through contacts only (even at x2 the pairs differ by 0.2 - 0.5):

* situations: A = ``crippled_joint=none`` (intact), B = ``fthigh``, C = ``bshin``. One-step differences
  A-B 0.25, A-C 0.29, B-C 0.41;
* held out: H1 = ``bthigh`` (GrBAL's held-out joint, reference §5.4), H2 = ``ffoot``;
* ``recurring`` (9,000 steps, 18 episodes): ``A:1000 B:500 A:500 C:1000 B:500 A:1000 B:500 A:500 B:500
  C:1000 A:1000 C:1000``;
* ``recurring-mid`` (9,000 steps): ``A:1250| B:250 A:600| C:900 B:750| A:750 B:700| A:300 B:800| C:700
  A:1150| C:850``;
* ``tiny`` (100-step episodes): ``A:150| B:150 A:100 C:100``.

Stream files (TOML or JSON)
---------------------------

::

    # my_stream.toml
    name = "heavy-light"          # optional; default: the file's stem
    family = "pendulum"           # a family name or its env id
    episode_steps = 200           # optional; default: the family's episode length
    schedule = "A:400 B:300 A:500"   # name:steps tokens, or an array of tables (below)

    [situations]                  # name -> parameters (missing ones take the family's defaults)
    A = { mass = 1.0 }
    B = { mass = 2.0 }

    [held_out]                    # optional: settings for generalisation tests, never in the schedule
    H1 = { mass = 1.5 }

The schedule may also be an array of tables, ``[[schedule]]`` with ``situation = "A"`` and ``steps =
400``. A JSON file holds the same object. Names are 1-40 characters of letters, digits and ``_ . + -``.
Every problem (a missing file, a syntax error, an unknown key, family, parameter or situation, an invalid
value, steps that are not a positive integer, an empty schedule, two situations with the same parameters,
a held-out setting equal to a situation, more than 10,000,000 steps in all, a situation that changes the
reward) raises :class:`~dynadapt.errors.DynadaptError` naming the file and the entry. Situations that the
schedule never plays are allowed. :func:`save_stream` writes a stream in either format.
"""

from __future__ import annotations

import bisect
import functools
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from dynadapt.checks import need_int, need_str, short
from dynadapt.envs.base import get_task, set_task
from dynadapt.envs.describe import task_text
from dynadapt.envs.family import TaskFamily
from dynadapt.envs.registry import get_family, resolve_family
from dynadapt.errors import DynadaptError, UnknownNameError, WrongTypeError
from dynadapt.io import atomic_write_text, read_data_file, write_json
from dynadapt.types import RewardFn, TerminationFn

MAX_TOTAL_STEPS = 10_000_000
"""The longest stream, in env steps (its label array alone is 80 MB)."""

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,39}")
"""A situation name: usable unquoted in a ``name:steps`` schedule token."""

_PROBE_BATCH = 64
"""Rows of the random batch on which reward and termination functions are compared."""

_FILE_KEYS = ("name", "family", "episode_steps", "situations", "schedule", "held_out")

_E = TypeVar("_E", bound=DynadaptError)


def _within(exc: _E, where: str) -> _E:
    """The same kind of error (e.g. :class:`UnknownNameError`) with ``where`` prepended to its message."""
    new = type(exc).__new__(type(exc))
    Exception.__init__(new, f"{where}: {exc}")
    return new


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise DynadaptError(
            f"{what} name {short(name)} is invalid; use 1-40 letters, digits and '_', '.', '+', '-'"
        )
    return name


def _steps(value: Any, what: str) -> int:
    """``value`` as a positive number of steps (an integer, not a bool nor a float), at most the maximum."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise DynadaptError(f"{what} must be a positive integer, got {short(value)}")
    if not 1 <= value <= MAX_TOTAL_STEPS:
        raise DynadaptError(f"{what} must be in [1, {MAX_TOTAL_STEPS:,}], got {value}")
    return value


# --------------------------------------------------------------------------------------- the stream
@dataclass(frozen=True)
class Segment:
    """A stretch of the schedule during which one situation is in force."""

    situation: int
    """Index into :attr:`Stream.situations`."""
    steps: int
    """Env steps the segment lasts (> 0)."""

    def __post_init__(self) -> None:
        need_int(self.situation, "a segment's situation", low=0)
        _steps(self.steps, "a segment's steps")


@dataclass(frozen=True)
class Stream:
    """Situations of one family played one after another (see the module docstring).

    Construction validates everything (parameters, names, schedule, sizes) and refuses situations that
    change the reward or termination function; ``situations`` and ``held_out`` become full parameter
    dicts (defaults filled in, read-only) and ``family`` the family's name.
    """

    name: str
    """Name of the stream, e.g. ``"pendulum:recurring"`` or a file's stem."""
    family: str
    """Task family (name or env id) whose parameters the situations set."""
    situations: tuple[Mapping[str, Any], ...]
    """Full validated parameters per situation; the index is the true label."""
    names: tuple[str, ...]
    """Display names of the situations (``"A"``, ``"B"``, ... or given in the file)."""
    schedule: tuple[Segment, ...]
    """The segments in playing order."""
    episode_steps: int
    """Episode length: the env is reset every ``episode_steps`` global steps."""
    held_out: tuple[Mapping[str, Any], ...] = ()
    """Held-out parameter settings for generalisation tests, never in the schedule."""
    held_out_names: tuple[str, ...] = ()
    """Display names of the held-out settings; empty: ``"H1"``, ``"H2"``, ..."""

    def __post_init__(self) -> None:
        set_ = functools.partial(object.__setattr__, self)
        need_str(self.name, "a stream's name")
        if not self.name:
            raise DynadaptError("a stream's name must not be empty")
        family = resolve_family(self.family)
        set_("family", family.name)
        set_("episode_steps", _steps(self.episode_steps, "episode_steps"))
        situations = self._settings(family, self.situations, "situation")
        if not situations:
            raise DynadaptError(f"stream {self.name!r} has no situations")
        set_("situations", situations)
        set_("names", self._names(self.names, len(situations), "situation"))
        held_out = self._settings(family, self.held_out, "held-out setting")
        set_("held_out", held_out)
        default_names = tuple(f"H{i}" for i in range(1, len(held_out) + 1))
        set_("held_out_names", self._names(self.held_out_names or default_names, len(held_out), "held-out"))
        clash = set(self.names) & set(self.held_out_names)
        if clash:
            raise DynadaptError(
                f"stream {self.name!r}: {sorted(clash)} name both a situation and a held-out one"
            )
        self._check_schedule()
        self._check_distinct()
        self._check_same_reward(family)

    def __hash__(self) -> int:
        def frozen(settings: tuple[Mapping[str, Any], ...]) -> tuple[tuple[tuple[str, str], ...], ...]:
            return tuple(tuple(sorted((k, repr(v)) for k, v in s.items())) for s in settings)

        situations, held_out = frozen(self.situations), frozen(self.held_out)
        return hash((self.name, self.family, situations, self.names, self.schedule, held_out))

    # --- validation ------------------------------------------------------------------------------------
    def _settings(
        self, family: TaskFamily, settings: Any, what: str
    ) -> tuple[MappingProxyType[str, Any], ...]:
        if isinstance(settings, Mapping | str) or not isinstance(settings, Sequence):
            raise WrongTypeError(
                f"stream {self.name!r}: the {what}s must be a sequence, got {short(settings)}"
            )
        out = []
        for i, params in enumerate(settings):
            try:
                out.append(MappingProxyType(family.validate(params)))
            except DynadaptError as exc:
                raise _within(exc, f"stream {self.name!r}: {what} {i}") from None
        return tuple(out)

    def _names(self, names: Any, count: int, what: str) -> tuple[str, ...]:
        if isinstance(names, str) or not isinstance(names, Sequence):
            raise WrongTypeError(f"stream {self.name!r}: {what} names must be a sequence, got {short(names)}")
        names = tuple(_check_name(n, what) for n in names)
        if len(names) != count:
            raise DynadaptError(f"stream {self.name!r}: {len(names)} {what} names for {count} settings")
        if len(set(names)) != len(names):
            raise DynadaptError(f"stream {self.name!r}: {what} names repeat: {list(names)}")
        return names

    def _check_schedule(self) -> None:
        schedule = self.schedule
        if isinstance(schedule, str) or not isinstance(schedule, Sequence):
            raise WrongTypeError(f"stream {self.name!r}: the schedule must be a sequence of Segment")
        if not schedule:
            raise DynadaptError(f"stream {self.name!r}: the schedule is empty")
        for i, seg in enumerate(schedule, start=1):
            if not isinstance(seg, Segment):
                raise WrongTypeError(
                    f"stream {self.name!r}: schedule entry {i} is not a Segment: {short(seg)}"
                )
            if seg.situation >= len(self.situations):
                raise DynadaptError(
                    f"stream {self.name!r}: schedule entry {i} plays situation {seg.situation}, but there "
                    f"are {len(self.situations)}"
                )
        object.__setattr__(self, "schedule", tuple(schedule))
        total = sum(seg.steps for seg in schedule)
        if total > MAX_TOTAL_STEPS:
            raise DynadaptError(
                f"stream {self.name!r} has {total:,} steps in all, more than the {MAX_TOTAL_STEPS:,} allowed"
            )

    def _check_distinct(self) -> None:
        seen: dict[tuple[tuple[str, str], ...], str] = {}
        entries = [(f"situation {n!r}", s) for n, s in zip(self.names, self.situations)]
        entries += [(f"held-out setting {n!r}", s) for n, s in zip(self.held_out_names, self.held_out)]
        for label, params in entries:
            key = tuple(sorted((k, repr(v)) for k, v in params.items()))
            if key in seen:
                raise DynadaptError(
                    f"stream {self.name!r}: {seen[key]} and {label} have the same parameters "
                    f"{dict(params)}; give each setting once"
                )
            seen[key] = label

    def _check_same_reward(self, family: TaskFamily) -> None:
        """Refuse a setting whose reward/termination differs from situation 0's (see the module docstring)."""
        first = dict(self.situations[0])
        probe = _probe_batch(family)
        reference = _evaluate(family, first, probe)
        entries = [(f"situation {n!r}", s) for n, s in zip(self.names[1:], self.situations[1:])]
        entries += [(f"held-out setting {n!r}", s) for n, s in zip(self.held_out_names, self.held_out)]
        for label, params in entries:
            for kind, ref, out in zip(("reward", "termination"), reference, _evaluate(family, params, probe)):
                if _same(ref, out):
                    continue
                differing = [k for k in params if params[k] != first[k]]
                culprits = [
                    k
                    for k in differing
                    if not _same(
                        ref, _evaluate(family, {**first, k: params[k]}, probe)[kind == "termination"]
                    )
                ]
                named = culprits or differing
                given = ", ".join(f"{k}={params[k]!r}" for k in named)
                first_values = ", ".join(f"{k}={first[k]!r}" for k in named)
                raise DynadaptError(
                    f"stream {self.name!r}: {label} ({given}) changes the {kind} function of family "
                    f"{family.name!r} (situation {self.names[0]!r} has {first_values}); the {kind} must be "
                    f"the same in every situation, or the planner would learn the situation from it: vary "
                    f"other parameters than {', '.join(repr(k) for k in named)}"
                )

    # --- queries ---------------------------------------------------------------------------------------
    @cached_property
    def _ends(self) -> tuple[int, ...]:
        ends, total = [], 0
        for seg in self.schedule:
            total += seg.steps
            ends.append(total)
        return tuple(ends)

    @property
    def total_steps(self) -> int:
        """Env steps in the whole stream."""
        return self._ends[-1]

    @property
    def task_family(self) -> TaskFamily:
        """The family whose parameters the situations set."""
        return get_family(self.family)

    def segment_starts(self) -> tuple[int, ...]:
        """The global step at which each segment begins (``len(schedule)`` values, the first 0)."""
        return (0, *self._ends[:-1])

    def segment_at(self, t: int) -> int:
        """Index into :attr:`schedule` of the segment in force at global step ``t``."""
        t = need_int(t, "the step t", low=0)
        if t >= self.total_steps:
            raise DynadaptError(
                f"step {t} is past the end of stream {self.name!r} ({self.total_steps} steps)"
            )
        return bisect.bisect_right(self._ends, t)

    def label_at(self, t: int) -> int:
        """The situation (true label) in force at global step ``t``, ``0 <= t < total_steps``."""
        return self.schedule[self.segment_at(t)].situation

    def labels(self) -> np.ndarray:
        """``int64[total_steps]``: the label of every global step."""
        return np.repeat(
            np.array([seg.situation for seg in self.schedule], dtype=np.int64),
            [seg.steps for seg in self.schedule],
        )

    def switch_steps(self) -> tuple[int, ...]:
        """The global steps ``t > 0`` with ``label_at(t) != label_at(t - 1)``."""
        starts = self.segment_starts()
        return tuple(
            starts[i]
            for i in range(1, len(self.schedule))
            if self.schedule[i].situation != self.schedule[i - 1].situation
        )

    def recurrence_steps(self) -> tuple[int, ...]:
        """The switch steps at which a situation played before comes back."""
        seen = {self.schedule[0].situation}
        out = []
        for t, seg in zip(self.segment_starts(), self.schedule):
            if t > 0 and seg.situation in seen and t in self._switch_set:
                out.append(t)
            seen.add(seg.situation)
        return tuple(out)

    @cached_property
    def _switch_set(self) -> frozenset[int]:
        return frozenset(self.switch_steps())

    def episode_starts(self) -> tuple[int, ...]:
        """The global steps at which an episode begins (multiples of ``episode_steps``)."""
        return tuple(range(0, self.total_steps, self.episode_steps))

    def describe(self) -> str:
        """A header line, one line per segment (steps, situation, parameters, where the switch falls) and
        one line for the held-out settings. Example::

            stream pendulum:tiny: family pendulum, 3 situations, 4 segments, 500 steps, 5 episodes of 100
                   0-149     A  (defaults)                   start
                 150-299     B  (length=0.5)                 mid-episode (step 50 of episode 1)
        """
        family = self.task_family
        episodes = -(-self.total_steps // self.episode_steps)
        lines = [
            f"stream {self.name}: family {self.family}, {len(self.situations)} situations, "
            f"{len(self.schedule)} segments, {self.total_steps} steps, {episodes} episodes of "
            f"{self.episode_steps}"
        ]
        texts = [task_text(family, s) for s in self.situations]
        name_w = max(len(n) for n in self.names)
        text_w = max(len(t) for t in texts)
        span_w = len(f"{self.total_steps - 1}") * 2 + 1
        for start, seg in zip(self.segment_starts(), self.schedule):
            span = f"{start}-{start + seg.steps - 1}"
            if start == 0:
                where = "start"
            elif start not in self._switch_set:
                where = "same situation continues"
            elif start % self.episode_steps == 0:
                where = f"at the start of episode {start // self.episode_steps}"
            else:
                episode, offset = divmod(start, self.episode_steps)
                where = f"mid-episode (step {offset} of episode {episode})"
            lines.append(
                f"  {span:>{span_w}}  {self.names[seg.situation]:<{name_w}}  "
                f"{texts[seg.situation]:<{text_w}}  {where}"
            )
        if self.held_out:
            held = ", ".join(
                f"{n} {task_text(family, s)}" for n, s in zip(self.held_out_names, self.held_out)
            )
            lines.append(f"  held out: {held}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The stream in the file format (JSON-ready; :func:`stream_from_data` reads it back)."""
        return {
            "name": self.name,
            "family": self.family,
            "episode_steps": self.episode_steps,
            "situations": {n: dict(s) for n, s in zip(self.names, self.situations)},
            "schedule": [{"situation": self.names[s.situation], "steps": s.steps} for s in self.schedule],
            "held_out": {n: dict(s) for n, s in zip(self.held_out_names, self.held_out)},
        }


def _probe_batch(family: TaskFamily) -> tuple[Tensor, Tensor, Tensor]:
    """One fixed random ``(obs[N, O], act[N, A], next_obs[N, O])`` batch in float64 (N = 64); actions reach
    a quarter of the range beyond the bounds, so that clipping is exercised too."""
    gen = torch.Generator().manual_seed(20_160_716)
    f64 = torch.float64
    obs = torch.randn(_PROBE_BATCH, family.obs_dim, generator=gen, dtype=f64)
    next_obs = torch.randn(_PROBE_BATCH, family.obs_dim, generator=gen, dtype=f64)
    u = torch.rand(_PROBE_BATCH, family.act_dim, generator=gen, dtype=f64) * 1.5 - 0.25
    if len(family.act_low) == family.act_dim and len(family.act_high) == family.act_dim:
        low = torch.tensor(family.act_low, dtype=f64)
        high = torch.tensor(family.act_high, dtype=f64)
        act = low + (high - low) * u
    else:
        act = 4.0 * u - 2.0
    return obs, act, next_obs


def _evaluate(
    family: TaskFamily, params: Mapping[str, Any], probe: tuple[Tensor, Tensor, Tensor]
) -> tuple[Tensor, Tensor]:
    """``(reward[N], terminated[N])`` of the task with ``params`` on the probe batch."""
    reward = family.reward_fn_for(**params)(*probe)
    terminated = family.termination_fn_for(**params)(*probe)
    return reward.to(torch.float64), terminated.to(torch.bool)


def _same(a: Tensor, b: Tensor) -> bool:
    """Equal functions on the probe: bit-equal booleans, rewards within float64 rounding."""
    if a.dtype == torch.bool:
        return bool(torch.equal(a, b))
    return bool(torch.allclose(a, b, rtol=1e-10, atol=1e-12, equal_nan=True))


# --------------------------------------------------------------------------------------- files and names
def stream_from_data(data: Any, source: str = "stream", name: str | None = None) -> Stream:
    """A stream from already-parsed file content (see the module docstring); ``name`` is the default for a
    missing ``name`` key. Every error names ``source`` and the entry."""
    if not isinstance(data, Mapping):
        raise DynadaptError(f"{source}: a stream is a table/object, got {type(data).__name__}")
    unknown = set(data) - set(_FILE_KEYS)
    if unknown:
        raise DynadaptError(
            f"{source}: unknown key(s) {sorted(unknown)}; expected some of {list(_FILE_KEYS)}"
        )
    for key in ("family", "situations", "schedule"):
        if key not in data:
            raise DynadaptError(f"{source}: no {key!r}")
    try:
        stream_name = data.get("name", name if name is not None else source)
        if not isinstance(stream_name, str) or not stream_name:
            raise DynadaptError(f"'name' must be a non-empty string, got {short(stream_name)}")
        family_name = data["family"]
        if not isinstance(family_name, str):
            raise DynadaptError(f"'family' must be a string, got {short(family_name)}")
        family = resolve_family(family_name)
        episode_steps = _steps(data.get("episode_steps", family.episode_steps), "'episode_steps'")
    except DynadaptError as exc:
        raise _within(exc, source) from None
    names, situations = _settings_table(data["situations"], family, source, "situation", "situations")
    if not situations:
        raise DynadaptError(f"{source}: 'situations' is empty")
    held_names, held_out = _settings_table(
        data.get("held_out", {}), family, source, "held-out setting", "held_out"
    )
    schedule = _schedule(data["schedule"], names, source)
    try:
        return Stream(
            name=stream_name,
            family=family.name,
            situations=tuple(situations),
            names=tuple(names),
            schedule=tuple(schedule),
            episode_steps=episode_steps,
            held_out=tuple(held_out),
            held_out_names=tuple(held_names),
        )
    except DynadaptError as exc:
        raise _within(exc, source) from None


def _settings_table(
    table: Any, family: TaskFamily, source: str, what: str, key: str
) -> tuple[list[str], list[dict[str, Any]]]:
    if not isinstance(table, Mapping):
        raise DynadaptError(f"{source}: {key!r} must be a table/object of name = {{ parameters }}")
    names, settings = [], []
    for name, params in table.items():
        where = f"{source}: {what} {name!r}"
        try:
            _check_name(name, what)
            if not isinstance(params, Mapping):
                raise DynadaptError(f"its parameters must be a table/object, got {short(params)}")
            settings.append(family.validate(params))
        except DynadaptError as exc:
            raise _within(exc, where) from None
        names.append(name)
    return names, settings


def _schedule(schedule: Any, names: list[str], source: str) -> list[Segment]:
    entries: list[tuple[Any, Any]] = []
    if isinstance(schedule, str):
        for i, token in enumerate(schedule.split(), start=1):
            name, sep, steps = token.partition(":")
            if not sep:
                raise DynadaptError(f"{source}: schedule entry {i} {token!r} is not 'situation:steps'")
            if not re.fullmatch(r"[0-9]{1,12}", steps):
                raise DynadaptError(
                    f"{source}: schedule entry {i} {token!r}: steps must be a positive integer, got {steps!r}"
                )
            entries.append((name, int(steps)))
    elif isinstance(schedule, Sequence):
        for i, entry in enumerate(schedule, start=1):
            if not isinstance(entry, Mapping):
                raise DynadaptError(
                    f"{source}: schedule entry {i} must be a table/object with 'situation' and 'steps', "
                    f"got {short(entry)}"
                )
            keys = set(entry)
            if keys != {"situation", "steps"}:
                extra, missing = sorted(keys - {"situation", "steps"}), sorted({"situation", "steps"} - keys)
                problem = f"unknown key(s) {extra}" if extra else f"missing key(s) {missing}"
                raise DynadaptError(
                    f"{source}: schedule entry {i}: {problem}; expected 'situation' and 'steps'"
                )
            entries.append((entry["situation"], entry["steps"]))
    else:
        raise DynadaptError(
            f"{source}: 'schedule' must be a 'name:steps ...' string or a list of tables, "
            f"got {short(schedule)}"
        )
    if not entries:
        raise DynadaptError(f"{source}: the schedule is empty")
    segments = []
    for i, (name, steps) in enumerate(entries, start=1):
        where = f"{source}: schedule entry {i}"
        if not isinstance(name, str) or name not in names:
            raise _within(UnknownNameError("situation", str(name), names), where)
        try:
            segments.append(Segment(names.index(name), _steps(steps, "steps")))
        except DynadaptError as exc:
            raise _within(exc, where) from None
    return segments


def load_stream(path: str | os.PathLike[str]) -> Stream:
    """A stream from a ``.toml`` or ``.json`` file (see the module docstring); its default name is the
    file's stem."""
    if not isinstance(path, str | os.PathLike):
        raise WrongTypeError(f"a stream file is a path, got {short(path)}")
    text = str(path)
    p = Path(path)
    if p.suffix.lower() not in (".toml", ".json"):
        raise DynadaptError(f"stream file {text!r} must end in .toml or .json")
    if not p.is_file():
        raise DynadaptError(f"stream file {text!r} not found")
    try:
        data = read_data_file(p)
    except OSError as exc:
        raise DynadaptError(f"cannot read stream file {text!r}: {exc.strerror}") from None
    return stream_from_data(data, source=text, name=p.stem)


def save_stream(stream: Stream, path: str | os.PathLike[str]) -> Path:
    """Write ``stream`` atomically as ``.json`` or ``.toml`` (by the suffix); :func:`load_stream` reads it
    back equal."""
    if not isinstance(stream, Stream):
        raise WrongTypeError(f"save_stream needs a Stream, got {short(stream)}")
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".json":
        write_json(p, stream.to_dict())
    elif suffix == ".toml":
        atomic_write_text(p, _toml(stream))
    else:
        raise DynadaptError(f"stream file {str(path)!r} must end in .toml or .json")
    return p


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # finite: parameters are validated
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string uses JSON's escapes
    raise DynadaptError(f"cannot write parameter value {short(value)} to TOML")


def _toml_table(settings: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [
        f"{json.dumps(name)} = {{ "
        + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in params.items())
        + " }"
        for name, params in settings.items()
    ]


def _toml(stream: Stream) -> str:
    data = stream.to_dict()
    schedule = " ".join(f"{e['situation']}:{e['steps']}" for e in data["schedule"])
    lines = [
        f"name = {json.dumps(stream.name)}",
        f"family = {json.dumps(stream.family)}",
        f"episode_steps = {stream.episode_steps}",
        f"schedule = {json.dumps(schedule)}",
        "",
        "[situations]",
        *_toml_table(data["situations"]),
    ]
    if data["held_out"]:
        lines += ["", "[held_out]", *_toml_table(data["held_out"])]
    return "\n".join(lines) + "\n"


_MID = "A:900 B:500 A:550 C:650 B:450 A:550 B:700 A:300 B:550 C:450 A:850 C:750"
_TINY = "A:150 B:150 A:100 C:100"
_NAMED_SCHEDULES: dict[str, dict[str, tuple[str, int]]] = {
    "pendulum": {
        "recurring": ("A:800 B:600 A:400 C:800 B:400 A:600 B:600 A:400 B:400 C:600 A:800 C:800", 200),
        "recurring-mid": (_MID, 200),
        "tiny": (_TINY, 100),
    },
    "half_cheetah_cripple": {
        "recurring": ("A:1000 B:500 A:500 C:1000 B:500 A:1000 B:500 A:500 B:500 C:1000 A:1000 C:1000", 500),
        "recurring-mid": ("A:1250 B:250 A:600 C:900 B:750 A:750 B:700 A:300 B:800 C:700 A:1150 C:850", 500),
        "tiny": (_TINY, 100),
    },
}
"""family -> stream name -> (schedule, episode_steps)."""
_NAMED_SCHEDULES["cartpole"] = _NAMED_SCHEDULES["pendulum"]

_NAMED_SETTINGS: dict[str, tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]] = {
    "pendulum": (
        {"A": {}, "B": {"length": 0.5}, "C": {"mass": 0.5, "length": 2.0}},
        {"H1": {"length": 0.7}, "H2": {"mass": 0.5}, "H3": {"mass": 0.75, "length": 1.5}},
    ),
    "cartpole": (
        {"A": {}, "B": {"pole_mass": 2.0}, "C": {"pole_mass": 0.2, "cart_damping": 12.0}},
        {
            "H1": {"pole_mass": 1.0, "cart_damping": 5.0},
            "H2": {"pole_mass": 3.0},
            "H3": {"cart_damping": 20.0},
        },
    ),
    "half_cheetah_cripple": (
        {
            "A": {"crippled_joint": "none"},
            "B": {"crippled_joint": "fthigh"},
            "C": {"crippled_joint": "bshin"},
        },
        {"H1": {"crippled_joint": "bthigh"}, "H2": {"crippled_joint": "ffoot"}},
    ),
}
"""family -> (situations, held-out settings), shared by the family's named streams."""


def _named_data(full_name: str) -> dict[str, Any]:
    family, name = full_name.split(":", 1)
    schedule, episode_steps = _NAMED_SCHEDULES[family][name]
    situations, held_out = _NAMED_SETTINGS[family]
    return {
        "name": full_name,
        "family": family,
        "episode_steps": episode_steps,
        "situations": situations,
        "schedule": schedule,
        "held_out": held_out,
    }


def stream_names() -> list[str]:
    """Every named stream as ``"<family>:<name>"``, sorted."""
    return sorted(f"{family}:{name}" for family, streams in _NAMED_SCHEDULES.items() for name in streams)


@functools.cache
def _named_stream(full_name: str) -> Stream:
    return stream_from_data(_named_data(full_name), source=f"named stream {full_name!r}")


def get_stream(spec: str | os.PathLike[str]) -> Stream:
    """A named stream (``"pendulum:recurring"``, see :func:`stream_names`) or a ``.toml``/``.json`` stream
    file (:func:`load_stream`)."""
    if not isinstance(spec, str | os.PathLike):
        raise WrongTypeError(f"a stream is a name or a file path, got {short(spec)}")
    text = str(spec)
    if isinstance(spec, str) and text in stream_names():
        return _named_stream(text)
    path = Path(spec)
    try:
        is_file = path.suffix.lower() in (".toml", ".json") or path.exists()
    except OSError:  # a name the file system refuses (too long, ...) is no file
        is_file = False
    if is_file:
        return load_stream(path)
    raise UnknownNameError("stream", text if len(text) <= 200 else text[:200] + "...", stream_names())


# --------------------------------------------------------------------------------------- playing a stream
class StreamEnv:
    """Plays a stream on one env of the family (Gymnasium API underneath, the family's real physics).

    ``reset()`` starts an episode in the situation in force at the current global step; ``step(act)``
    applies a scheduled mid-episode switch (``set_task``, no reset) before the step at its global step,
    steps the env, and truncates at the end of every episode (every ``episode_steps`` global steps) and at
    the end of the stream. After ``terminated`` or ``truncated`` the caller calls ``reset()``; stepping
    before that, or after the stream is exhausted, raises :class:`DynadaptError`. An env that terminates
    early (none of the named streams' families does) ends its episode early; the next one lasts until the
    next multiple of ``episode_steps``, so labels and episode starts stay those of the stream.

    ``info`` of ``step`` holds ``"situation"`` (the label in force during this step: the transition's
    label), ``"switched"`` (a mid-episode switch was applied just before this step) and ``"step"`` (the
    global step index of the transition); ``info`` of ``reset`` holds ``"situation"``.
    """

    def __init__(self, stream: Stream, render_mode: str | None = None) -> None:
        if not isinstance(stream, Stream):
            raise WrongTypeError(f"StreamEnv plays a Stream, got {short(stream)}")
        self.stream = stream
        self.family = stream.task_family
        """The stream's task family."""
        self._current = stream.label_at(0)
        self.env: gym.Env = gym.make(
            self.family.env_id,
            render_mode=render_mode,
            max_episode_steps=stream.episode_steps,
            **stream.situations[self._current],
        )
        """The underlying Gymnasium env (with the usual wrappers, its time limit the stream's episode)."""
        self.reward_fn: RewardFn = self.family.reward_fn_for(**stream.situations[0])
        """Batched reward function the planner uses (the same in every situation)."""
        self.termination_fn: TerminationFn = self.family.termination_fn_for(**stream.situations[0])
        """Batched termination function the planner uses (the same in every situation)."""
        self.observation_space = self.env.observation_space
        self.action_space = self.env.action_space
        self.t = 0
        """Global steps taken so far."""
        self._need_reset = True

    @property
    def done(self) -> bool:
        """The stream is exhausted (``t == total_steps``)."""
        return self.t >= self.stream.total_steps

    @property
    def situation(self) -> int:
        """The label of the situation the env is in now."""
        return self._current

    def _enter(self, label: int) -> bool:
        """Put the env in situation ``label``; True if that changed its parameters."""
        if label == self._current:
            return False
        set_task(self.env, **self.stream.situations[label])
        self._current = label
        return True

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode in the situation in force at step :attr:`t` (the last one once the stream is
        done). ``seed`` seeds the env's random initial states (pass it on the first reset)."""
        label = self.stream.label_at(min(self.t, self.stream.total_steps - 1))
        self._enter(label)
        obs, info = self.env.reset(seed=seed)
        self._need_reset = False
        return obs, {**info, "situation": label}

    def step(self, act: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """One env step at global step :attr:`t` (see the class docstring)."""
        if self.done:
            raise DynadaptError(
                f"stream {self.stream.name!r} is exhausted after {self.stream.total_steps} steps; "
                "stop stepping"
            )
        if self._need_reset:
            raise DynadaptError(
                f"stream {self.stream.name!r}: call reset() before stepping (at the start and after an "
                "episode ends)"
            )
        label = self.stream.label_at(self.t)
        switched = self._enter(label)
        obs, reward, terminated, truncated, info = self.env.step(act)
        step = self.t
        self.t += 1
        boundary = self.t % self.stream.episode_steps == 0 or self.done
        truncated = bool(truncated) or boundary
        terminated = bool(terminated)
        if terminated or truncated:
            self._need_reset = True
        info = {**info, "situation": label, "switched": switched, "step": step}
        return obs, float(reward), terminated, truncated, info

    def get_task(self) -> dict[str, Any]:
        """The env's current physical parameters."""
        return get_task(self.env)

    def render(self) -> Any:
        return self.env.render()

    def close(self) -> None:
        self.env.close()


__all__ = [
    "MAX_TOTAL_STEPS",
    "Segment",
    "Stream",
    "StreamEnv",
    "get_stream",
    "load_stream",
    "save_stream",
    "stream_from_data",
    "stream_names",
]
