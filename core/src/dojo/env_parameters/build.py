"""Construct the samplers and completion criteria of ``environment_parameters`` through their
plugins' factories.

The configuration loader validates the section (:mod:`dojo.config.environment_parameters`);
this module turns the validated plain data into objects: each sampler is built as
``factory(seed=..., **sampler_parameters)`` (the parameters as its plugin's schema loaded them)
and each lesson's completion criterion as ``factory(**completion_criteria)``. The contract is
in :class:`dojo.api.Sampler` and :class:`dojo.api.CompletionCriterion`.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dojo.api import CompletionCriterion, Sampler
from dojo.errors import PluginError
from dojo.plugin_host import PluginHost

#: Largest seed handed to a sampler (numpy seeds are unsigned; keep it in 32 bits).
_SEED_RANGE = 2**32


@dataclass(frozen=True)
class Lesson:
    """One lesson of a parameter: its value (a number or a sampler) and, but for the last
    lesson, the criterion that ends it."""

    name: str
    value: float | Sampler
    completion: CompletionCriterion | None


@dataclass(frozen=True)
class ParameterPlan:
    """An environment parameter: its lessons (one lesson for a constant or a sampler)."""

    name: str
    lessons: tuple[Lesson, ...]


def derived_seed(run_seed: int, parameter: str, lesson: int = 0) -> int:
    """The seed of a sampler written with ``seed: -1``: a function of the run seed and of where
    the sampler is, so a run given ``--seed`` draws the same values every time."""
    return (int(run_seed) * 1_000_003 + zlib.crc32(f"{parameter}/{lesson}".encode())) % _SEED_RANGE


def build_sampler(
    host: PluginHost, sampler: Mapping[str, Any], seed: int, where: str = ""
) -> Sampler:
    """Construct the sampler ``{sampler_type, sampler_parameters}`` (validated) with its
    plugin's factory; ``seed`` is used when the parameters say ``seed: -1`` or nothing.

    Raises:
        PluginError: the type is not registered, or its factory does not build a Sampler.
    """
    entry = host.lookup("samplers", str(sampler["sampler_type"]), where=where)
    parameters: dict[str, Any] = dict(sampler.get("sampler_parameters") or {})
    given_seed = int(parameters.pop("seed", -1))  # every sampler's key, read by the core
    schema = entry.load_schema()
    if schema is not None:
        instance = schema() if isinstance(schema, type) else schema
        loaded = instance.load(parameters)
        if not isinstance(loaded, Mapping):
            raise PluginError(
                f"{where}: the schema of sampler {entry.name!r} (plugin {entry.plugin!r}) "
                f"loaded a {type(loaded).__name__}: it must give the factory's keyword "
                "arguments as a mapping"
            )
        parameters = dict(loaded)
        parameters.pop("seed", None)  # a schema that also declares it (dojo's own do)
    built = entry.load_factory()(seed=seed if given_seed < 0 else given_seed, **parameters)
    if not isinstance(built, Sampler):
        raise PluginError(
            f"{where}: sampler {entry.name!r} (plugin {entry.plugin!r}) built a "
            f"{type(built).__name__}, not a dojo.api.Sampler"
        )
    return built


def build_completion_criterion(
    host: PluginHost, criteria: Mapping[str, Any], where: str = ""
) -> CompletionCriterion:
    """Construct a lesson's completion criterion (validated ``completion_criteria``) with the
    factory registered for its ``measure``.

    Raises:
        PluginError: the measure is not registered, or its factory does not build a
            CompletionCriterion.
    """
    entry = host.lookup("curricula", str(criteria["measure"]), where=where)
    built = entry.load_factory()(**dict(criteria))
    if not isinstance(built, CompletionCriterion):
        raise PluginError(
            f"{where}: completion criterion {entry.name!r} (plugin {entry.plugin!r}) built a "
            f"{type(built).__name__}, not a dojo.api.CompletionCriterion"
        )
    return built


def build_environment_parameters(
    host: PluginHost, parameters: Mapping[str, Any] | None, run_seed: int
) -> dict[str, ParameterPlan]:
    """The validated ``environment_parameters`` section as :class:`ParameterPlan` objects."""
    plans: dict[str, ParameterPlan] = {}
    for name, parameter in (parameters or {}).items():
        where = f"environment_parameters.{name}"
        if isinstance(parameter, Mapping) and "curriculum" in parameter:
            written = list(parameter["curriculum"])
        else:
            written = [{"name": name, "value": parameter}]
        lessons = []
        for index, lesson in enumerate(written):
            at = f"{where}.curriculum.{index}" if len(written) > 1 else where
            value = lesson["value"]
            if isinstance(value, Mapping):
                value = build_sampler(host, value, derived_seed(run_seed, name, index), at)
            criteria = lesson.get("completion_criteria")
            criterion = (
                build_completion_criterion(host, criteria, f"{at}.completion_criteria")
                if criteria is not None and index < len(written) - 1
                else None
            )
            lessons.append(Lesson(str(lesson["name"]), value, criterion))
        plans[name] = ParameterPlan(name, tuple(lessons))
    return plans
