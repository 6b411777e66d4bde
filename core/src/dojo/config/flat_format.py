"""The flat format of ML-Agents ≤ 0.16 (the seed's format), converted to the current layout.

A flat file maps behavior names to flat sections, at the top level (ML-Agents ≤ 0.16) or under
``behaviors:`` (the seed document's layout). The whole file is in this format when one of its
sections names a ``trainer`` (or it has a ``default`` section): every section is then flat. In a
flat section:

- ``trainer: ppo`` names the trainer; the trainer's hyperparameters, the network keys and the
  behavior keys (``max_steps``, ``reward_signals``, ...) sit side by side, and
  ``use_recurrent`` + ``memory_size`` + ``sequence_length`` give the memory.
- A ``default`` section is copied under every behavior (shallowly, as ML-Agents ≤ 0.16 did: a
  behavior's ``reward_signals`` replaces the default's) and serves behaviors the file does not
  list. A section whose value is a string reuses that behavior's section (``Striker: Goalie``).
- ``threaded`` defaults to true (the seed: "Default: true"); the converted file says so, since
  the current format's default is false.
- An unknown key is an error naming the key as written (``CartPole.batch_sise``), with the
  closest valid key.

Which keys are hyperparameters is decided by the trainer's registered schema, which are network
keys by :class:`~dojo.config.schemas.NetworkSettingsSchema`. Every converted path records where
it was written (:mod:`dojo.config.origins`), so that later errors name the flat keys too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from dojo.config.fields import describe_value, did_you_mean

if TYPE_CHECKING:
    from dojo.config.origins import Origins
    from dojo.plugin_host import PluginHost

DEFAULT_SECTION = "default"
TRAINER_KEYS = ("trainer", "trainer_type")
MEMORY_KEYS = ("use_recurrent", "memory_size", "sequence_length")
#: Keys of older flat files with no current equivalent, dropped with a notice saying why.
OBSOLETE_FLAT_KEYS = {
    "num_update": "it was replaced by steps_per_update",
    "train_interval": "it was replaced by steps_per_update",
    # ML-Agents' own 0.16 sac_trainer_config.yaml still carries it; 0.16 ignored it.
    "gamma": "the discount is set per reward signal (reward_signals.<name>.gamma)",
}
RENAMED_SELF_PLAY_KEYS = {"play_against_current_self_ratio": "play_against_latest_model_ratio"}
#: The seed document: "threaded | Run the trainer in a parallel thread ... (Default: true)"
#: (ML-Agents ≤ 0.16 read ``trainer_parameters.get("threaded", True)``).
FLAT_THREADED_DEFAULT = True
#: Sections of the current behavior layout; a flat section holds their keys directly instead.
NESTED_SECTIONS = ("hyperparameters", "network_settings")


class Problems(Protocol):
    """Collects ``(path as written, message)`` problems."""

    def add(self, path: str, message: str) -> None: ...


@dataclass
class FlatConversion:
    """What converting the flat sections of one file uses and collects.

    Attributes:
        host: the plugin host whose trainer schemas tell hyperparameters from other keys;
            ``None`` treats every key that is not a network or behavior key as a hyperparameter.
        problems: collects ``(written path, message)`` problems.
        notices: collects what was converted or dropped, for the user.
        origins: collects where each converted path was written.
    """

    host: PluginHost | None
    problems: Problems
    notices: list[str]
    origins: Origins


def detect_flat(raw: Mapping[str, Any], run_sections: tuple[str, ...]) -> bool:
    """Whether a loaded file is in the flat format (at the top level or under ``behaviors:``)."""
    behaviors = raw.get("behaviors")
    if "behaviors" not in raw:
        sections = [value for key, value in raw.items() if key not in run_sections]
        return DEFAULT_SECTION in raw or any(
            isinstance(value, Mapping) and "trainer" in value for value in sections
        )
    return isinstance(behaviors, Mapping) and any(
        isinstance(value, Mapping) and "trainer" in value and "trainer_type" not in value
        for value in behaviors.values()
    )


class FlatKeys(NamedTuple):
    """The keys a flat section of one trainer takes, by where they go."""

    behavior: list[str]
    network: list[str]
    #: ``None`` when the trainer is unknown (its error is reported by the schema).
    hyperparameters: list[str] | None
    #: Old behavior keys the schema accepts, reports and drops (``framework``).
    legacy: list[str]

    def valid(self) -> list[str]:
        """Every key, in the order an unknown-key message lists them."""
        return [
            "trainer",
            *(self.hyperparameters or []),
            *self.network,
            *MEMORY_KEYS,
            *self.behavior,
        ]


def flat_keys(host: PluginHost | None, trainer: Any) -> FlatKeys:
    """The keys of a flat section whose trainer is ``trainer``."""
    from dojo.config.components import component_schema, schema_keys
    from dojo.config.schemas import (
        LEGACY_BEHAVIOR_KEYS,
        MLAGENTS_BEHAVIOR_SECTIONS,
        NetworkSettingsSchema,
        TrainerSettingsSchema,
    )

    excluded = {"trainer_type", *NESTED_SECTIONS}
    behavior = [key for key in TrainerSettingsSchema._declared_fields if key not in excluded]
    # Sections that plugins own stay at the behavior level, installed or not.
    plugin_sections = host.registry("behavior_sections").names() if host is not None else []
    behavior += [
        key for key in (*MLAGENTS_BEHAVIOR_SECTIONS, *plugin_sections) if key not in behavior
    ]
    behavior.append("curriculum")  # a per-behavior curriculum, lifted to environment_parameters
    network = [key for key in NetworkSettingsSchema().valid_keys() if key != "memory"]
    hyperparameters: list[str] | None = None
    if host is not None and isinstance(trainer, str):
        entry = host.registry("trainers").get(trainer)
        if entry is not None:
            try:
                hyperparameters = schema_keys(component_schema(entry))
            except Exception:  # a broken schema is reported when the behavior is validated
                hyperparameters = None
    return FlatKeys(behavior, network, hyperparameters, list(LEGACY_BEHAVIOR_KEYS))


def convert_flat_sections(
    sections: Mapping[str, Any], prefix: str, context: FlatConversion
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Convert a file's flat sections to ``(behaviors, default_settings or None)``.

    Args:
        sections: behavior name -> flat section (or the name of another section), with the
            optional ``default`` section.
        prefix: where the sections are in the file: ``""`` (top level) or ``"behaviors."``.
        context: the host and the collectors of problems, notices and origins.
    """
    default_path = f"{prefix}{DEFAULT_SECTION}"
    default = sections.get(DEFAULT_SECTION) or {}
    if not isinstance(default, Mapping):
        context.problems.add(
            default_path, f"expected a mapping of settings, got {describe_value(default)}."
        )
        default = {}
    behaviors: dict[str, Any] = {}
    for name in sections:
        if name == DEFAULT_SECTION:
            continue
        own, holder = _resolve_alias(sections, str(name), prefix, context.problems)
        where = {**dict.fromkeys(default, default_path), **dict.fromkeys(own, holder)}
        behaviors[str(name)] = convert_flat_behavior(
            {**default, **own},  # ML-Agents ≤ 0.16 copies 'default' shallowly
            context,
            converted=f"behaviors.{name}",
            section=f"{prefix}{name}",
            where=where,
        )
    default_settings = None
    if default:
        default_settings = convert_flat_behavior(
            default,
            context,
            converted="default_settings",
            section=default_path,
            where=dict.fromkeys(default, default_path),
        )
        default_settings.pop("curriculum", None)
    return behaviors, default_settings


def convert_flat_behavior(
    flat: Mapping[str, Any],
    context: FlatConversion,
    *,
    converted: str,
    section: str,
    where: Mapping[str, str],
) -> dict[str, Any]:
    """Convert one flat behavior mapping to the current nested layout.

    Args:
        flat: the behavior's keys (its own over the ``default`` section's).
        context: the host and the collectors of problems, notices and origins.
        converted: the behavior's path in the converted file (``behaviors.CartPole``).
        section: the behavior's section as written (``CartPole``, ``behaviors.CartPole``).
        where: key -> the section (as written) that holds it: the behavior's own, the section
            it reuses, or ``default``.
    """
    origins = context.origins
    trainer_key = next((key for key in TRAINER_KEYS if key in flat), None)
    trainer = flat[trainer_key] if trainer_key is not None else None
    origins.add(converted, section, below=section)
    if trainer_key is None:
        context.problems.add(
            section,
            "has no 'trainer': in the flat format of ML-Agents ≤ 0.16 every behavior (or the "
            "'default' section) names its trainer, e.g. 'trainer: ppo'.",
        )
    else:
        origins.add(f"{converted}.trainer_type", f"{where[trainer_key]}.{trainer_key}")
    keys = flat_keys(context.host, trainer)
    hyperparameters: dict[str, Any] = {}
    network: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in flat.items():
        written = f"{where[key]}.{key}"
        if key in TRAINER_KEYS or key in MEMORY_KEYS:
            continue
        if key in OBSOLETE_FLAT_KEYS:
            context.notices.append(f"{written} was dropped: {OBSOLETE_FLAT_KEYS[key]}.")
        elif key in keys.network:
            network[key] = value
            origins.add(f"{converted}.network_settings.{key}", written)
        elif key in keys.behavior or key in keys.legacy:
            rest[key] = value
            origins.add(f"{converted}.{key}", written, below=written)
        elif keys.hyperparameters is None or key in keys.hyperparameters:
            hyperparameters[key] = value
            origins.add(f"{converted}.hyperparameters.{key}", written)
        else:
            context.problems.add(written, _unknown_key_message(str(key), keys.valid()))
    if flat.get("use_recurrent"):
        memory = {}
        for key in ("memory_size", "sequence_length"):
            if key in flat:
                memory[key] = flat[key]
                origins.add(f"{converted}.network_settings.memory.{key}", f"{where[key]}.{key}")
        network["memory"] = memory
        origins.add(
            f"{converted}.network_settings.memory",
            f"{where['use_recurrent']}.use_recurrent",
            section=section,
        )
    self_play = rest.get("self_play")
    if isinstance(self_play, Mapping):
        rest["self_play"] = _rename_self_play_keys(
            self_play, context, f"{converted}.self_play", f"{where['self_play']}.self_play"
        )
    origins.add(f"{converted}.hyperparameters", section, section=section)
    origins.add(f"{converted}.network_settings", section, section=section)
    out: dict[str, Any] = {"trainer_type": trainer}
    if hyperparameters:
        out["hyperparameters"] = hyperparameters
    if network:
        out["network_settings"] = network
    out.update(rest)
    if "threaded" not in flat:
        out["threaded"] = FLAT_THREADED_DEFAULT
        origins.add(f"{converted}.threaded", None, section=section)
    return out


def _unknown_key_message(key: str, valid: list[str]) -> str:
    if key in NESTED_SECTIONS:
        return (
            "unknown key. This file is in the flat format of ML-Agents ≤ 0.16 (its behaviors "
            "name a 'trainer'), where there is no such section: write the keys directly under "
            "the behavior, or write the whole file in the current format."
        )
    return f"unknown key.{did_you_mean(key, valid)} Valid keys: {', '.join(valid)}."


def _rename_self_play_keys(
    self_play: Mapping[str, Any], context: FlatConversion, converted: str, written: str
) -> dict[str, Any]:
    renamed = dict(self_play)
    for old, new in RENAMED_SELF_PLAY_KEYS.items():
        if old in renamed:
            renamed.setdefault(new, renamed.pop(old))
            context.notices.append(f"{written}.{old} was renamed {new}.")
            context.origins.add(f"{converted}.{new}", f"{written}.{old}")
    return renamed


def _resolve_alias(
    sections: Mapping[str, Any], name: str, prefix: str, problems: Problems
) -> tuple[Mapping[str, Any], str]:
    """A flat behavior's own section, following string aliases (``Goalie: Striker``), and the
    path of the section that holds it."""
    seen = [name]
    value = sections[name]
    holder = name
    while isinstance(value, str):
        if value in seen:
            problems.add(f"{prefix}{name}", f"aliases form a loop: {' -> '.join([*seen, value])}.")
            return {}, f"{prefix}{name}"
        if value not in sections:
            problems.add(
                f"{prefix}{name}", f"reuses the section of {value!r}, which is not in the file."
            )
            return {}, f"{prefix}{name}"
        seen.append(value)
        holder = value
        value = sections[value]
    if value is None:
        return {}, f"{prefix}{holder}"
    if not isinstance(value, Mapping):
        problems.add(
            f"{prefix}{name}", f"expected a mapping of settings, got {describe_value(value)}."
        )
        return {}, f"{prefix}{name}"
    return value, f"{prefix}{holder}"
