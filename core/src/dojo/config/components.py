"""Fields whose schema depends on installed plugins: trainer types, hyperparameters, reward
signals, behavior sections, environment parameters.

Each field reads the :class:`~dojo.plugin_host.PluginHost` from the schema it is bound to
(``self.parent.host``): marshmallow 4 has no schema context, so :class:`RunOptionsSchema` and
:class:`TrainerSettingsSchema` take the host as a constructor argument. An unknown name is
reported with :meth:`PluginHost.unknown_message` (installed names, close match, install hint).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, ValidationError, fields

from dojo.config.environment_parameters import check_environment_parameters
from dojo.config.fields import UNKNOWN_KEY, AnyValue, DescribedField, Text, describe_value
from dojo.errors import PluginError, shorten

if TYPE_CHECKING:
    # dojo.config.settings declares its settings with these fields: imported here only for
    # the type hints (and inside functions where needed), so that the two modules load.
    from dojo.config.settings import RewardSignalSettings, TrainerSettings
    from dojo.plugin_host import PluginHost
    from dojo.registry import ComponentEntry

#: Keys of a reward signal that the core validates (the plugin's schema gets the rest).
REWARD_SIGNAL_COMMON_KEYS = ("strength", "gamma", "network_settings")
#: Deprecated key of signals with their own encoder (ML-Agents 1.1.0: curiosity, gail, rnd).
#: A plugin that declares it keeps it in its settings; the core uses it as the signal's
#: ``network_settings.hidden_units`` when ``network_settings`` is not given.
ENCODING_SIZE = "encoding_size"


def _host(field: fields.Field) -> PluginHost:
    host = getattr(field.parent, "host", None)
    if host is None:
        raise RuntimeError(f"{type(field).__name__} must be bound to a schema built with host=")
    return host


def _notices(field: fields.Field) -> list[str]:
    return getattr(field.parent, "notices", [])


def component_schema(entry: ComponentEntry) -> Schema | None:
    """An instance of the entry's settings schema, or ``None`` when it takes no settings.

    Raises:
        ValidationError: the plugin's schema cannot be imported (the message says which).
    """
    try:
        schema = entry.load_schema()
    except PluginError as err:
        raise ValidationError(
            f"cannot load the settings schema of {entry.name!r} (plugin {entry.plugin!r}): {err}"
        ) from err
    if schema is None:
        return None
    return schema() if isinstance(schema, type) else schema


def schema_keys(schema: Schema | None) -> list[str]:
    """The keys a schema instance accepts."""
    if schema is None:
        return []
    return [field.data_key or name for name, field in schema.load_fields.items()]


class TrainerTypeField(Text):
    """``trainer_type``: must name a registered trainer."""

    yaml_type = "text"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        name = super()._deserialize(value, attr, data, **kwargs)
        host = _host(self)
        if name not in host.registry("trainers"):
            raise ValidationError(host.unknown_message("trainers", shorten(name)))
        return name


class HyperparametersField(DescribedField, fields.Field):
    """``hyperparameters``: validated by the schema the trainer's plugin registered."""

    yaml_type = "mapping"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        host = _host(self)
        trainer_type = data.get("trainer_type", "ppo") if isinstance(data, Mapping) else "ppo"
        entry = (
            host.registry("trainers").get(trainer_type) if isinstance(trainer_type, str) else None
        )
        if entry is None:
            return value  # the trainer_type error explains the problem
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise ValidationError(f"expected a mapping of keys, got {describe_value(value)}.")
        schema = component_schema(entry)
        if schema is None:
            if value:
                raise ValidationError(f"trainer {trainer_type!r} takes no hyperparameters.")
            return None
        try:
            return schema.load(dict(value))
        except ValidationError as err:
            raise ValidationError(_point_misplaced_keys(err.messages, trainer_type)) from err

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


def _point_misplaced_keys(messages: Any, trainer_type: str) -> Any:
    """Say where a behavior-level or network key written under ``hyperparameters`` belongs."""
    if not isinstance(messages, dict):
        return messages
    from dojo.config.schemas import NetworkSettingsSchema, TrainerSettingsSchema

    network_keys = set(NetworkSettingsSchema().valid_keys())
    behavior_keys = set(TrainerSettingsSchema._declared_fields)
    result = dict(messages)
    for key, value in messages.items():
        unknown = value in ([UNKNOWN_KEY], ["Unknown field."]) or (
            isinstance(value, list) and value and str(value[0]).startswith("unknown key")
        )
        if not unknown:
            continue
        if key in network_keys:
            result[key] = [f"unknown key: {key!r} belongs under 'network_settings'."]
        elif key in behavior_keys:
            result[key] = [f"unknown key: {key!r} belongs directly under the behavior."]
        elif value == ["Unknown field."]:
            result[key] = [f"unknown key for trainer {trainer_type!r}."]
    return result


class RewardSignalsField(DescribedField, fields.Field):
    """``reward_signals``: each signal's common keys plus the keys its plugin declares."""

    yaml_type = "mapping"

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, RewardSignalSettings]:
        from dojo.config.schemas import RewardSignalCommonSchema

        if not isinstance(value, Mapping):
            raise ValidationError(
                f"expected a mapping of reward signal names to their settings, got "
                f"{describe_value(value)}."
            )
        host = _host(self)
        result: dict[str, RewardSignalSettings] = {}
        errors: dict[str, Any] = {}
        for name, config in value.items():
            name = str(name)
            config = {} if config is None else config
            entry = host.registry("reward_signals").get(name)
            if entry is None:
                errors[name] = [host.unknown_message("reward_signals", shorten(name))]
                continue
            if not isinstance(config, Mapping):
                errors[name] = [f"expected a mapping of keys, got {describe_value(config)}."]
                continue
            common = {k: v for k, v in config.items() if k in REWARD_SIGNAL_COMMON_KEYS}
            own = {k: v for k, v in config.items() if k not in REWARD_SIGNAL_COMMON_KEYS}
            signal_errors: dict[str, Any] = {}
            signal: RewardSignalSettings | None = None
            try:
                signal = RewardSignalCommonSchema().load(common)
            except ValidationError as err:
                signal_errors.update(err.messages)  # type: ignore[arg-type]
            params = None
            try:
                params = self._load_own(entry, own)
            except ValidationError as err:
                if isinstance(err.messages, dict):
                    signal_errors.update(err.messages)
                else:
                    signal_errors.setdefault("_schema", []).extend(err.messages)
            if signal_errors or signal is None:
                errors[name] = signal_errors
                continue
            if ENCODING_SIZE in config:
                signal = self._apply_encoding_size(name, config, params, signal)
            result[name] = dataclasses.replace(signal, params=params)
        if errors:
            raise ValidationError(errors)
        return result

    def _apply_encoding_size(
        self, name: str, config: Mapping[str, Any], params: Any, signal: RewardSignalSettings
    ) -> RewardSignalSettings:
        """ML-Agents 1.1.0's ``RewardSignalSettings.structure``: the deprecated encoding_size
        (validated and kept by the signal's own schema) becomes ``hidden_units`` when the
        signal's ``network_settings`` is not given; given network_settings win."""
        _notices(self).append(
            f"reward_signals.{name}.encoding_size is deprecated: set "
            f"reward_signals.{name}.network_settings.hidden_units instead."
        )
        from dojo.config.schemas import network_size_problem
        from dojo.config.settings import to_plain

        plain = to_plain(params)
        size = plain.get(ENCODING_SIZE) if isinstance(plain, Mapping) else None
        if size is None or "network_settings" in config:
            return signal
        network = dataclasses.replace(signal.network_settings, hidden_units=size)
        problem = network_size_problem(network)
        if problem is not None:
            raise ValidationError({name: {ENCODING_SIZE: [problem]}})
        return dataclasses.replace(signal, network_settings=network)

    @staticmethod
    def _load_own(entry: ComponentEntry, own: dict[str, Any]) -> Any:
        schema = component_schema(entry)
        if schema is None:
            if own:
                allowed = ", ".join(REWARD_SIGNAL_COMMON_KEYS[:3])
                raise ValidationError(
                    {key: [f"unknown key: {entry.name!r} takes only {allowed}."] for key in own}
                )
            return None
        return schema.load(own)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


class BehaviorSectionField(DescribedField, fields.Field):
    """A section of a behavior that a plugin owns (``behavioral_cloning``, ``self_play``, ...),
    validated by the schema its plugin registered (``dojo_register_behavior_sections``).

    ``null`` means the section is not used, as when it is absent.
    """

    yaml_type = "mapping"

    def __init__(self, entry: ComponentEntry, **kwargs: Any) -> None:
        self.entry = entry
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ValidationError(
                f"expected a mapping of keys (key: value lines), got {describe_value(value)}."
            )
        schema = component_schema(self.entry)
        if schema is None:
            if value:
                raise ValidationError(f"section {self.entry.name!r} takes no keys.")
            return {}
        return schema.load(dict(value))

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


def _load_trainer_settings(field: fields.Field, value: Any, where: str) -> TrainerSettings:
    from dojo.config.schemas import TrainerSettingsSchema

    if not isinstance(value, Mapping):
        raise ValidationError(
            f"expected a mapping of trainer settings, got {describe_value(value)}. Write the "
            "behavior's settings under its name (at least 'trainer_type: ppo'), or remove it."
        )
    schema = TrainerSettingsSchema(host=_host(field), notices=_notices(field), where=where)
    return schema.load(dict(value))


class TrainerSettingsField(DescribedField, fields.Field):
    """One behavior's settings (``default_settings``)."""

    yaml_type = "mapping"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return _load_trainer_settings(self, value, "default_settings")

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


class BehaviorsField(DescribedField, fields.Field):
    """``behaviors``: trainer settings by behavior name."""

    yaml_type = "mapping"

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, TrainerSettings]:
        if not isinstance(value, Mapping):
            raise ValidationError(
                f"expected a mapping of behavior names to settings, got {describe_value(value)}."
            )
        result: dict[str, TrainerSettings] = {}
        errors: dict[str, Any] = {}
        for name, config in value.items():
            try:
                result[str(name)] = _load_trainer_settings(
                    self, config, f"behaviors.{shorten(str(name))}"
                )
            except ValidationError as err:
                errors[str(name)] = err.messages
        if errors:
            raise ValidationError(errors)
        return result

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


class EnvironmentParametersField(AnyValue):
    """``environment_parameters``: numbers, samplers and curricula by parameter name, checked
    against the samplers and completion measures the host's plugins register."""

    yaml_type = "mapping"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return check_environment_parameters(value, getattr(self.parent, "host", None))
