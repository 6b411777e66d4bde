"""marshmallow schemas of the core configuration; each loads one :mod:`dojo.config.settings` class.

Every key is declared once, with its default, constraints and description, on the settings
dataclass (:func:`~dojo.config.declare.setting`); ``settings_schema`` derives the fields and the
``@post_load`` that builds the dataclass, and the classes here add what one key cannot say:
the section's docstring, cross-field checks, and the parts that depend on installed plugins. A
trainer's ``hyperparameters`` and a reward signal's own keys are validated by the schema its
plugin registered, looked up through the :class:`~dojo.plugin_host.PluginHost` given to
:class:`TrainerSettingsSchema` / :class:`RunOptionsSchema` (marshmallow 4 has no schema context).
The run-level sections live in :mod:`dojo.config.sections`, ``environment_parameters`` in
:mod:`dojo.config.environment_parameters`; both are re-exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from marshmallow import ValidationError, post_load, pre_load, validates_schema

from dojo.config import settings
from dojo.config.components import BehaviorSectionField, EnvironmentParametersField
from dojo.config.declare import settings_schema
from dojo.config.sections import (
    CheckpointSettingsSchema,
    EngineSettingsSchema,
    EnvSettingsSchema,
    TorchSettingsSchema,
)
from dojo.plugin_host import dojo_component_family

if TYPE_CHECKING:
    from dojo.plugin_host import PluginHost

#: ML-Agents' behavior-level sections that plugins provide (dojo_register_behavior_sections):
#: written as ``null`` in configuration.yaml when absent, as ML-Agents writes them, and kept at
#: the behavior level when old formats are converted.
MLAGENTS_BEHAVIOR_SECTIONS = ("self_play", "behavioral_cloning")
#: Behavior-level keys of old formats that are accepted, reported and dropped.
LEGACY_BEHAVIOR_KEYS = {
    "framework": "the framework option was removed (dojo always uses PyTorch)",
    "output_path": "output_path (ML-Agents 0.17-0.19) is derived from --run-id and the behavior",
}


# --------------------------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------------------------


class MemorySchema(settings_schema(settings.MemorySettings)):
    """``network_settings.memory``: an LSTM after the dense layers."""


#: Most parameters accepted in one network's dense layers and memory: 100 million float32
#: parameters are 400 MB per network, before gradients and optimizer state (the largest
#: ML-Agents example network, 3 layers of 512 units, has well under a million).
MAX_NETWORK_PARAMETERS = 100_000_000


def network_parameters(network: settings.NetworkSettings) -> int:
    """A lower bound of the parameters of one network with these settings, whatever its
    observations and actions: the dense layers (the first from at least one input, each next
    one ``hidden_units`` squared plus biases) and the LSTM of ``memory``."""
    units, layers = network.hidden_units, network.num_layers
    count = 2 * units + (layers - 1) * (units * units + units)
    if network.memory is not None:
        half = network.memory.memory_size // 2
        count += 4 * half * (units + half) + 8 * half  # input and hidden weights, two biases
    return count


def network_size_problem(network: settings.NetworkSettings) -> str | None:
    """Why a network of these settings is refused before anything is allocated, or ``None``."""
    count = network_parameters(network)
    if count <= MAX_NETWORK_PARAMETERS:
        return None
    memory = f" and memory_size {network.memory.memory_size}" if network.memory is not None else ""
    return (
        f"hidden_units {network.hidden_units}, num_layers {network.num_layers}{memory} make "
        f"networks of at least {count:,} parameters ({count * 4 / 1e9:,.1f} GB of float32 each, "
        f"before gradients and optimizer state); dojo accepts at most "
        f"{MAX_NETWORK_PARAMETERS:,} per network ({MAX_NETWORK_PARAMETERS * 4 // 10**6} MB). "
        "Use e.g. 128 to 512 hidden units."
    )


class NetworkSettingsSchema(settings_schema(settings.NetworkSettings)):
    """``network_settings``: the policy and value networks."""

    @validates_schema(skip_on_field_errors=True)
    def _check_size(self, data: dict[str, Any], **_kwargs: Any) -> None:
        problem = network_size_problem(settings.NetworkSettings(**data))
        if problem is not None:
            raise ValidationError(problem, field_name="hidden_units")


# --------------------------------------------------------------------------------------------
# Reward signals
# --------------------------------------------------------------------------------------------


class RewardSignalCommonSchema(settings_schema(settings.RewardSignalSettings)):
    """Keys every reward signal accepts; the signal's plugin validates the rest (its
    :class:`~dojo.config.components.RewardSignalsField` fills ``params``).

    The deprecated ``encoding_size`` is not one of them: as in ML-Agents 1.1.0 only signals
    with their own encoder (curiosity, gail, rnd) declare it, in their plugin's schema; the
    core then uses it as the signal's ``network_settings.hidden_units``
    (:class:`~dojo.config.components.RewardSignalsField`).
    """


# --------------------------------------------------------------------------------------------
# One behavior
# --------------------------------------------------------------------------------------------


class TrainerSettingsSchema(settings_schema(settings.TrainerSettings)):
    """``behaviors.<name>`` (and ``default_settings``): one behavior's trainer settings.

    A trainer's hyperparameters settings may define ``warnings_for(behavior) -> list[str]``:
    checks against the behavior's other keys (PPO: ``buffer_size`` above ``max_steps``), added
    to ``notices`` after ``where``.

    Args:
        host: the plugin host whose registries resolve ``trainer_type`` and reward signals.
        notices: list that collects warnings (legacy keys) for the loader to report once.
        where: the section's path in the file (``behaviors.CartPole``), for those warnings.
    """

    def __init__(
        self,
        *,
        host: PluginHost,
        notices: list[str] | None = None,
        where: str = "",
        **kwargs: Any,
    ) -> None:
        self.host = host
        self.notices: list[str] = notices if notices is not None else []
        self.where = where
        super().__init__(**kwargs)
        # Sections that plugins own (behavioral_cloning, self_play, ...), after the core's keys.
        sections = host.registry("behavior_sections").entries()
        for entry in sections:
            self.declared_fields[entry.name] = BehaviorSectionField(
                entry,
                load_default=None,
                allow_none=True,
                description=entry.description or f"Settings of the {entry.plugin!r} plugin.",
            )
        if sections:
            self._init_fields()  # marshmallow binds the fields added above

    def unknown_key_message(self, key: str, valid: list[str]) -> str:
        if key in MLAGENTS_BEHAVIOR_SECTIONS or dojo_component_family(key) == "behavior_sections":
            # A section of a plugin that is not installed: the installed sections and the
            # distribution to install (or that dojo does not implement it yet).
            return self.host.unknown_message("behavior_sections", key)
        return super().unknown_key_message(key, valid)

    def unknown_key_hint(self, key: str) -> str:
        if key in NetworkSettingsSchema().valid_keys():
            return f" {key!r} belongs under 'network_settings'."
        if key in ("use_recurrent", "memory_size", "sequence_length"):
            return " Memory is set under 'network_settings.memory' (memory_size, sequence_length)."
        if key == "trainer":
            return " The key is 'trainer_type' (and hyperparameters go under 'hyperparameters')."
        return ""

    @pre_load
    def _prepare(self, data: Any, **_kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key, reason in LEGACY_BEHAVIOR_KEYS.items():
            if key in data:
                data.pop(key)
                self.notices.append(f"'{key}' is no longer used and was ignored: {reason}.")
        for key in MLAGENTS_BEHAVIOR_SECTIONS:
            # 'self_play: null' (as configuration.yaml writes it) uses no section: fine without
            # the section's plugin.
            if key in data and data[key] is None and key not in self.declared_fields:
                data.pop(key)
        data.setdefault("hyperparameters", {})
        return data

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _check_trainer_type_given(
        self, data: dict[str, Any], original: Any, **_kwargs: Any
    ) -> None:
        given = isinstance(original, dict) and "hyperparameters" in original
        if given and "trainer_type" not in original:
            raise ValidationError(
                "hyperparameters are given but trainer_type is not: say which trainer they "
                "are for, e.g. 'trainer_type: ppo'.",
                field_name="hyperparameters",
            )

    @validates_schema(skip_on_field_errors=True)
    def _check_sequence_length(self, data: dict[str, Any], **_kwargs: Any) -> None:
        memory = data["network_settings"].memory
        batch_size = getattr(data.get("hyperparameters"), "batch_size", None)
        if memory is not None and batch_size is not None and memory.sequence_length > batch_size:
            raise ValidationError(
                {
                    "memory": {
                        "sequence_length": [
                            f"must be ≤ hyperparameters.batch_size ({batch_size}), got "
                            f"{memory.sequence_length}: a minibatch holds whole sequences. "
                            f"Lower sequence_length to {batch_size} or less, or raise batch_size."
                        ]
                    }
                },
                field_name="network_settings",
            )

    @post_load
    def _build(self, data: dict[str, Any], **_kwargs: Any) -> settings.TrainerSettings:
        names = self.host.registry("behavior_sections").names()
        given = {name: data.pop(name) for name in names if name in data}
        sections = {name: value for name, value in given.items() if value is not None}
        trainer = settings.TrainerSettings(**data, sections=sections)
        warnings_for = getattr(trainer.hyperparameters, "warnings_for", None)
        if callable(warnings_for):
            prefix = f"{self.where}." if self.where else ""
            self.notices.extend(f"{prefix}{warning}" for warning in warnings_for(trainer))
        return trainer


class RunOptionsSchema(settings_schema(settings.RunOptions)):
    """The whole configuration file.

    Args:
        host: the plugin host (trainer types, reward signals, samplers, completion criteria).
        notices: list that collects warnings for the loader to report once.
    """

    def __init__(
        self, *, host: PluginHost, notices: list[str] | None = None, **kwargs: Any
    ) -> None:
        self.host = host
        self.notices: list[str] = notices if notices is not None else []
        super().__init__(**kwargs)

    def unknown_key_hint(self, key: str) -> str:
        if key in ("curriculum", "parameter_randomization"):
            return " Old sections are converted only in whole old-format files."
        return ""

    @validates_schema(skip_on_field_errors=False)
    def _check_num_envs(self, data: dict[str, Any], **_kwargs: Any) -> None:
        env = data.get("env_settings")
        if isinstance(env, settings.EnvSettings) and env.num_envs > 1 and env.env_path is None:
            raise ValidationError(
                {
                    "num_envs": [
                        f"is {env.num_envs} but env_path is not set: the Unity Editor is a "
                        "single environment. Give an executable or URI with --env (or "
                        "env_settings.env_path), or set num_envs to 1."
                    ]
                },
                field_name="env_settings",
            )


__all__ = [
    "CheckpointSettingsSchema",
    "EngineSettingsSchema",
    "EnvSettingsSchema",
    "EnvironmentParametersField",
    "MemorySchema",
    "NetworkSettingsSchema",
    "RewardSignalCommonSchema",
    "RunOptionsSchema",
    "TorchSettingsSchema",
    "TrainerSettingsSchema",
]
