"""Old ML-Agents configuration formats, converted to the current one on load.

Three formats exist (``reference/mlagents-facts.md`` §2.9); the format is detected from the whole
file, never per section:

- **flat** (ML-Agents ≤ 0.16, the seed's format): one flat mapping per behavior with
  ``trainer: ppo`` and hyperparameter / network keys side by side, at the top level or under
  ``behaviors:``; converted by :mod:`dojo.config.flat_format`. Per-behavior ``curriculum``
  sections and separate curriculum / sampler files belong to the same era.
- **0.17**: the current behavior layout but with top-level ``curriculum`` and
  ``parameter_randomization`` sections.
- **current** (0.18+): ``environment_parameters``.

The :class:`Conversion` records where each converted value was written
(:class:`~dojo.config.origins.Origins`), so that errors name the keys the user wrote. Unlike
ML-Agents' own ``upgrade_config``, the conversion never crashes and writes lessons ML-Agents 1.x
accepts.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dojo.config import flat_format
from dojo.config.fields import describe_value
from dojo.config.origins import Origins
from dojo.errors import ConfigError

if TYPE_CHECKING:
    from dojo.plugin_host import PluginHost

FLAT = "flat"
V017 = "0.17"
CURRENT = "current"

FORMAT_NAMES = {
    FLAT: "the flat format of ML-Agents ≤ 0.16",
    V017: "the format of ML-Agents 0.17",
    CURRENT: "the current format",
}

RUN_SECTIONS = (
    "behaviors",
    "default_settings",
    "environment_parameters",
    "env_settings",
    "engine_settings",
    "checkpoint_settings",
    "torch_settings",
    "debug",
)
OLD_RUN_SECTIONS = ("curriculum", "parameter_randomization")
CURRICULUM_KEYS = ("measure", "thresholds", "min_lesson_length", "signal_smoothing", "parameters")
SAMPLER_INTERVAL_KEYS = ("resampling-interval", "episode-length")
SAMPLER_TYPE_ALIASES = {"multirange_uniform": "multirangeuniform"}


@dataclass
class Conversion:
    """The result of :func:`convert_to_current`.

    Attributes:
        data: the configuration in the current format (plain dicts).
        source_format: ``"flat"``, ``"0.17"`` or ``"current"``.
        notices: what was converted or dropped, for the user.
        origins: where each converted path was written in the file (empty when nothing moved).
    """

    data: dict[str, Any]
    source_format: str
    notices: list[str] = field(default_factory=list)
    origins: Origins = field(default_factory=Origins)


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        # a 'default' key is converted once per behavior it is copied to: report it once
        if (path, message) not in self.items:
            self.items.append((path, message))


def detect_format(raw: Mapping[str, Any]) -> str:
    """The format of a loaded configuration file: ``"flat"``, ``"0.17"`` or ``"current"``."""
    if flat_format.detect_flat(raw, RUN_SECTIONS + OLD_RUN_SECTIONS):
        return FLAT
    if any(key in raw for key in OLD_RUN_SECTIONS):
        return V017
    return CURRENT


def convert_to_current(
    raw: Mapping[str, Any],
    host: PluginHost | None,
    source: str = "config",
    *,
    curriculum: Mapping[str, Any] | None = None,
    parameter_randomization: Mapping[str, Any] | None = None,
) -> Conversion:
    """Convert a configuration of any ML-Agents format to the current format.

    Args:
        raw: the loaded YAML mapping (not modified).
        host: the plugin host (its trainer schemas say which flat keys are hyperparameters);
            ``None`` treats every non-network, non-behavior flat key as a hyperparameter.
        source: the file name used in error messages.
        curriculum: a separate ML-Agents ≤ 0.16 curriculum file (behavior -> thresholds...).
        parameter_randomization: a separate ML-Agents ≤ 0.16 sampler file.

    Raises:
        ConfigError: the old structure cannot be converted (every problem, one per line).
    """
    source_format = detect_format(raw)
    notices: list[str] = []
    problems = _Problems()
    origins = Origins()
    data = copy.deepcopy(dict(raw))  # the conversion edits nested sections in place
    if source_format == FLAT:
        _convert_flat_file(data, host, problems, notices, origins)
    parameters: dict[str, Any] = {}
    _lift_behavior_curricula(data, parameters, problems, notices, origins)
    if "curriculum" in data:
        notices.append("the top-level 'curriculum' section became 'environment_parameters'.")
        _merge_parameters(
            parameters, convert_curriculum(data.pop("curriculum"), "curriculum", problems), problems
        )
    if curriculum is not None:
        _merge_parameters(
            parameters, convert_curriculum(curriculum, "curriculum file", problems), problems
        )
    for name, section in (
        ("parameter_randomization", data.pop("parameter_randomization", None)),
        ("sampler file", parameter_randomization),
    ):
        if section is not None:
            samplers = convert_parameter_randomization(section, name, problems, notices)
            if name == "parameter_randomization":  # in this file: errors name its keys
                _record_sampler_origins(section, samplers, origins)
            # ML-Agents' converter keeps the sampler when a parameter also has a curriculum.
            for key in samplers:
                parameters.pop(key, None)
            parameters.update(samplers)
    if parameters:
        existing = data.get("environment_parameters")
        if isinstance(existing, Mapping):
            for key in parameters:
                if key in existing:
                    problems.add(
                        f"environment_parameters.{key}",
                        "is defined both here and by an old curriculum / sampler section.",
                    )
            parameters = {**existing, **parameters}
        data["environment_parameters"] = parameters
    if problems.items:
        raise ConfigError("\n".join(f"{source}: {path}: {msg}" for path, msg in problems.items))
    # a 'default' key is converted once per behavior it is copied to: say it once
    notices = list(dict.fromkeys(notices))
    return Conversion(data=data, source_format=source_format, notices=notices, origins=origins)


# --------------------------------------------------------------------------------------------
# Flat files
# --------------------------------------------------------------------------------------------


def _convert_flat_file(
    data: dict[str, Any],
    host: PluginHost | None,
    problems: _Problems,
    notices: list[str],
    origins: Origins,
) -> None:
    """Replace the flat sections of ``data`` (top level or ``behaviors:``) by ``behaviors`` and
    ``default_settings`` in the current layout."""
    if "behaviors" in data:
        sections, prefix = data.pop("behaviors"), "behaviors."
    else:
        run_sections = RUN_SECTIONS + OLD_RUN_SECTIONS
        sections = {key: data.pop(key) for key in list(data) if key not in run_sections}
        prefix = ""
    if "default_settings" in data:
        problems.add(
            "default_settings",
            "is a section of the current format, but this file is in the flat format of "
            f"ML-Agents ≤ 0.16: write the defaults as a flat '{flat_format.DEFAULT_SECTION}' "
            "section instead.",
        )
    context = flat_format.FlatConversion(host, problems, notices, origins)
    behaviors, default_settings = flat_format.convert_flat_sections(sections, prefix, context)
    data["behaviors"] = behaviors
    if default_settings is not None:
        data["default_settings"] = default_settings


# --------------------------------------------------------------------------------------------
# Curricula and samplers
# --------------------------------------------------------------------------------------------


def _lift_behavior_curricula(
    data: dict[str, Any],
    parameters: dict[str, Any],
    problems: _Problems,
    notices: list[str],
    origins: Origins,
) -> None:
    """Move per-behavior ``curriculum`` sections (seed format) to environment parameters."""
    behaviors = data.get("behaviors")
    if not isinstance(behaviors, Mapping):
        return
    for name, config in behaviors.items():
        if isinstance(config, dict) and isinstance(config.get("curriculum"), Mapping):
            section = config.pop("curriculum")
            if "thresholds" in section or "parameters" in section:
                written, _ = origins.written_path(f"behaviors.{name}.curriculum")
                notices.append(f"{written} became 'environment_parameters'.")
                converted = convert_curriculum(
                    {name: section}, written, problems, per_behavior=True
                )
                for parameter in converted:
                    origins.add(
                        f"environment_parameters.{parameter}", f"{written}.parameters.{parameter}"
                    )
                _merge_parameters(parameters, converted, problems)
            else:
                config["curriculum"] = section  # not an old curriculum: let the schema say so


def _record_sampler_origins(section: Any, samplers: Mapping[str, Any], origins: Origins) -> None:
    """``environment_parameters.<p>.sampler_parameters.<k>`` was written as
    ``parameter_randomization.<p>.<k>`` (unless the file nested them already)."""
    for name in samplers:
        written = f"parameter_randomization.{name}"
        origins.add(f"environment_parameters.{name}", written, below=written)
        config = section.get(name)
        if isinstance(config, Mapping) and "sampler_parameters" not in config:
            origins.add(f"environment_parameters.{name}.sampler_parameters", written, below=written)
        if isinstance(config, Mapping) and "sampler-type" in config:
            origins.add(f"environment_parameters.{name}.sampler_type", f"{written}.sampler-type")


def _merge_parameters(target: dict[str, Any], new: Mapping[str, Any], problems: _Problems) -> None:
    for key, value in new.items():
        if key in target:
            problems.add(f"environment_parameters.{key}", "is set by two curricula; keep only one.")
        target[key] = value


def convert_curriculum(
    section: Any,
    path: str = "curriculum",
    problems: _Problems | None = None,
    *,
    per_behavior: bool = False,
) -> dict[str, Any]:
    """Convert an old curriculum (behavior -> thresholds and parameter lists) to lessons.

    Lesson ``i`` of each parameter takes ``parameters[p][i]`` and completes when the measure
    exceeds ``thresholds[i]``; the last lesson has no completion criteria. ``min_lesson_length``
    and ``signal_smoothing`` default to ML-Agents 0.17's 0 and true.
    """
    problems = problems if problems is not None else _Problems()
    result: dict[str, Any] = {}
    if not isinstance(section, Mapping):
        problems.add(path, f"expected a mapping of behavior names, got {describe_value(section)}.")
        return result
    for behavior, config in section.items():
        where = path if per_behavior else f"{path}.{behavior}"
        if not isinstance(config, Mapping):
            problems.add(where, f"expected a mapping, got {describe_value(config)}.")
            continue
        for key in config:
            if key not in CURRICULUM_KEYS:
                problems.add(
                    f"{where}.{key}", f"unknown key. Valid keys: {', '.join(CURRICULUM_KEYS)}."
                )
        missing = [key for key in ("measure", "thresholds", "parameters") if key not in config]
        if missing:
            problems.add(where, f"is missing {', '.join(missing)}.")
            continue
        thresholds = config["thresholds"]
        if not isinstance(thresholds, list):
            problems.add(f"{where}.thresholds", "expected a list of numbers.")
            continue
        if not isinstance(config["parameters"], Mapping):
            problems.add(f"{where}.parameters", "expected a mapping of parameter -> values.")
            continue
        for parameter, values in config["parameters"].items():
            if not isinstance(values, list) or len(values) != len(thresholds) + 1:
                problems.add(
                    f"{where}.parameters.{parameter}",
                    f"needs one value per lesson: {len(thresholds) + 1} values for "
                    f"{len(thresholds)} thresholds, got {describe_value(values)}.",
                )
                continue
            lessons = []
            for index, value in enumerate(values):
                lesson: dict[str, Any] = {"name": f"Lesson{index}", "value": value}
                if index < len(thresholds):
                    lesson["completion_criteria"] = {
                        "behavior": str(behavior),
                        "measure": config["measure"],
                        "threshold": thresholds[index],
                        "min_lesson_length": config.get("min_lesson_length", 0),
                        "signal_smoothing": config.get("signal_smoothing", True),
                    }
                lessons.append(lesson)
            if str(parameter) in result:
                problems.add(f"{where}.parameters.{parameter}", "is set by two curricula.")
            result[str(parameter)] = {"curriculum": lessons}
    return result


def convert_parameter_randomization(
    section: Any,
    path: str = "parameter_randomization",
    problems: _Problems | None = None,
    notices: list[str] | None = None,
) -> dict[str, Any]:
    """Convert an old sampler section (``sampler-type`` + flat parameters) to samplers."""
    problems = problems if problems is not None else _Problems()
    notices = notices if notices is not None else []
    result: dict[str, Any] = {}
    if not isinstance(section, Mapping):
        problems.add(path, f"expected a mapping of parameter names, got {describe_value(section)}.")
        return result
    for name, config in section.items():
        if name in SAMPLER_INTERVAL_KEYS:
            notices.append(
                f"{path}.{name} was dropped: samplers now draw a new value at every episode reset."
            )
            continue
        if not isinstance(config, Mapping):
            problems.add(
                f"{path}.{name}",
                f"expected a sampler (sampler-type: uniform, min_value: ..., max_value: ...), "
                f"got {describe_value(config)}.",
            )
            continue
        sampler_type = config.get("sampler_type", config.get("sampler-type"))
        if sampler_type is None:
            problems.add(f"{path}.{name}", "has no sampler-type (e.g. 'sampler-type: uniform').")
            continue
        sampler_type = SAMPLER_TYPE_ALIASES.get(sampler_type, sampler_type)
        if "sampler_parameters" in config:
            parameters = config["sampler_parameters"]
        else:
            parameters = {
                key: value
                for key, value in config.items()
                if key not in ("sampler_type", "sampler-type")
            }
        result[str(name)] = {"sampler_type": sampler_type, "sampler_parameters": parameters}
    return result
