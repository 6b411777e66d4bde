"""Old ML-Agents configuration formats, converted to the current one on load.

Three formats exist (``reference/mlagents-facts.md`` §2.9):

- **flat** (ML-Agents ≤ 0.16, the seed's format): one flat mapping per behavior with
  ``trainer: ppo`` and hyperparameter / network keys side by side, an optional ``default``
  section copied under every behavior (a shallow copy: a behavior's ``reward_signals`` replaces the
  default's), a behavior whose value is a string reuses that behavior's section, and
  ``use_recurrent`` + ``memory_size`` + ``sequence_length`` for memory. Per-behavior
  ``curriculum`` sections and separate curriculum / sampler files belong to the same era.
- **0.17**: the current behavior layout but with top-level ``curriculum`` and
  ``parameter_randomization`` sections.
- **current** (0.18+): ``environment_parameters``.

Which flat keys are hyperparameters is decided by the trainer's registered schema, which keys are
network keys by :class:`~dojo.config.schemas.NetworkSettingsSchema`. Unlike ML-Agents' own
``upgrade_config``, the conversion never crashes and writes lessons ML-Agents 1.x accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dojo.config.fields import describe_value, did_you_mean
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
MEMORY_KEYS = ("use_recurrent", "memory_size", "sequence_length")
#: Flat keys of ML-Agents ≤ 0.13 SAC that have no current equivalent (replaced by steps_per_update).
DROPPED_FLAT_KEYS = ("num_update", "train_interval")
RENAMED_SELF_PLAY_KEYS = {"play_against_current_self_ratio": "play_against_latest_model_ratio"}
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
    """

    data: dict[str, Any]
    source_format: str
    notices: list[str] = field(default_factory=list)


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))


def detect_format(raw: Mapping[str, Any]) -> str:
    """The format of a loaded configuration file: ``"flat"``, ``"0.17"`` or ``"current"``."""
    if "behaviors" not in raw and (
        "default" in raw or any(isinstance(v, Mapping) and "trainer" in v for v in raw.values())
    ):
        return FLAT
    behaviors = raw.get("behaviors")
    if isinstance(behaviors, Mapping) and any(
        isinstance(v, Mapping) and "trainer" in v and "trainer_type" not in v
        for v in behaviors.values()
    ):
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
    data: dict[str, Any]
    if source_format == FLAT and "behaviors" not in raw:
        data = _convert_flat_file(raw, host, problems, notices)
    else:
        data = dict(raw)
        behaviors = data.get("behaviors")
        if isinstance(behaviors, Mapping):
            converted = {}
            for name, config in behaviors.items():
                path = f"behaviors.{name}"
                if isinstance(config, Mapping) and "trainer" in config:
                    config = convert_flat_behavior(config, host, path, problems, notices)
                elif isinstance(config, Mapping):
                    config = dict(config)
                converted[name] = config
            data["behaviors"] = converted
    parameters: dict[str, Any] = {}
    _lift_behavior_curricula(data, parameters, problems, notices)
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
    return Conversion(data=data, source_format=source_format, notices=notices)


# --------------------------------------------------------------------------------------------
# Flat behaviors
# --------------------------------------------------------------------------------------------


def _known_keys(
    host: PluginHost | None, trainer: Any
) -> tuple[set[str], set[str], set[str] | None]:
    """(behavior keys, network keys, hyperparameter keys or None when unknown)."""
    from dojo.config.components import component_schema, schema_keys
    from dojo.config.schemas import (
        LEGACY_BEHAVIOR_KEYS,
        NetworkSettingsSchema,
        TrainerSettingsSchema,
    )

    behavior_keys = set(TrainerSettingsSchema._declared_fields) | set(LEGACY_BEHAVIOR_KEYS)
    behavior_keys -= {"hyperparameters", "network_settings"}
    network_keys = set(NetworkSettingsSchema().valid_keys()) - {"memory"}
    hyper_keys: set[str] | None = None
    if host is not None and isinstance(trainer, str):
        entry = host.registry("trainers").get(trainer)
        if entry is not None:
            try:
                hyper_keys = set(schema_keys(component_schema(entry)))
            except Exception:  # a broken schema is reported when the behavior is validated
                hyper_keys = None
    return behavior_keys, network_keys, hyper_keys


def convert_flat_behavior(
    flat: Mapping[str, Any],
    host: PluginHost | None,
    path: str,
    problems: _Problems | None = None,
    notices: list[str] | None = None,
) -> dict[str, Any]:
    """Convert one flat (≤ 0.16) behavior mapping to the current nested layout."""
    problems = problems if problems is not None else _Problems()
    notices = notices if notices is not None else []
    trainer = flat.get("trainer", flat.get("trainer_type"))
    if trainer is None:
        problems.add(
            path,
            "has no 'trainer': in the flat format of ML-Agents ≤ 0.16 every behavior (or the "
            "'default' section) names its trainer, e.g. 'trainer: ppo'.",
        )
    behavior_keys, network_keys, hyper_keys = _known_keys(host, trainer)
    out: dict[str, Any] = {"trainer_type": trainer}
    hyperparameters: dict[str, Any] = {}
    network: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in flat.items():
        if key in ("trainer", "trainer_type"):
            continue
        if key in DROPPED_FLAT_KEYS:
            notices.append(f"{path}.{key} was dropped: it was replaced by steps_per_update.")
        elif key in network_keys:
            network[key] = value
        elif key in MEMORY_KEYS:
            continue
        elif key in behavior_keys or key == "curriculum":
            rest[key] = value
        elif hyper_keys is None or key in hyper_keys:
            hyperparameters[key] = value
        else:
            # ML-Agents ≤ 0.16 ignored keys it did not use (and its converter drops them).
            known = sorted(behavior_keys | network_keys | (hyper_keys or set()))
            notices.append(
                f"{path}.{key} is not a setting of trainer {trainer!r} and was ignored."
                + did_you_mean(key, known)
            )
    if flat.get("use_recurrent"):
        network["memory"] = {k: flat[k] for k in ("memory_size", "sequence_length") if k in flat}
    self_play = rest.get("self_play")
    if isinstance(self_play, Mapping):
        renamed = dict(self_play)
        for old, new in RENAMED_SELF_PLAY_KEYS.items():
            if old in renamed:
                renamed.setdefault(new, renamed.pop(old))
                notices.append(f"{path}.self_play.{old} was renamed {new}.")
        rest["self_play"] = renamed
    if hyperparameters:
        out["hyperparameters"] = hyperparameters
    if network:
        out["network_settings"] = network
    out.update(rest)
    return out


def _resolve_alias(raw: Mapping[str, Any], name: str, problems: _Problems) -> Mapping[str, Any]:
    """A flat behavior's own section, following string aliases (``Goalie: Striker``)."""
    seen = [name]
    value = raw[name]
    while isinstance(value, str):
        if value in seen:
            problems.add(name, f"aliases form a loop: {' -> '.join([*seen, value])}.")
            return {}
        if value not in raw:
            problems.add(name, f"reuses the section of {value!r}, which is not in the file.")
            return {}
        seen.append(value)
        value = raw[value]
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.add(name, f"expected a mapping of settings, got {describe_value(value)}.")
        return {}
    return value


def _convert_flat_file(
    raw: Mapping[str, Any], host: PluginHost | None, problems: _Problems, notices: list[str]
) -> dict[str, Any]:
    data: dict[str, Any] = {
        key: value for key, value in raw.items() if key in RUN_SECTIONS or key in OLD_RUN_SECTIONS
    }
    default = raw.get("default") or {}
    if not isinstance(default, Mapping):
        problems.add("default", f"expected a mapping of settings, got {describe_value(default)}.")
        default = {}
    behaviors: dict[str, Any] = {}
    for name in raw:
        if name in data or name == "default":
            continue
        own = _resolve_alias(raw, name, problems)
        merged = {**default, **own}  # ML-Agents ≤ 0.16 copies 'default' shallowly
        behaviors[str(name)] = convert_flat_behavior(merged, host, str(name), problems, notices)
    data["behaviors"] = behaviors
    if default:
        default_settings = convert_flat_behavior(default, host, "default", problems, notices)
        default_settings.pop("curriculum", None)
        data["default_settings"] = default_settings
    return data


# --------------------------------------------------------------------------------------------
# Curricula and samplers
# --------------------------------------------------------------------------------------------


def _lift_behavior_curricula(
    data: dict[str, Any], parameters: dict[str, Any], problems: _Problems, notices: list[str]
) -> None:
    """Move per-behavior ``curriculum`` sections (seed format) to environment parameters."""
    behaviors = data.get("behaviors")
    if not isinstance(behaviors, Mapping):
        return
    for name, config in behaviors.items():
        if isinstance(config, dict) and isinstance(config.get("curriculum"), Mapping):
            section = config.pop("curriculum")
            if "thresholds" in section or "parameters" in section:
                notices.append(f"behaviors.{name}.curriculum became 'environment_parameters'.")
                converted = convert_curriculum(
                    {name: section}, f"behaviors.{name}.curriculum", problems, per_behavior=True
                )
                _merge_parameters(parameters, converted, problems)
            else:
                config["curriculum"] = section  # not an old curriculum: let the schema say so


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
