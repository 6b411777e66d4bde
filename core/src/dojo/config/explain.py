"""Describe configuration keys from the schemas: ``dojo config explain`` and the reference.

Everything here is generated from the fields' ``description`` metadata, their defaults and
their validators, so the documentation cannot drift from what the loader accepts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, fields, missing

from dojo.config.components import REWARD_SIGNAL_COMMON_KEYS, component_schema
from dojo.config.fields import constraint_text
from dojo.errors import ConfigError
from dojo.plugin_host import dojo_component_family

if TYPE_CHECKING:
    from dojo.plugin_host import PluginHost
    from dojo.registry import ComponentEntry

#: Default shown for fields whose default is computed.
_DEFAULT_TEXT = {
    "hyperparameters": "the trainer's defaults",
    "reward_signals": "extrinsic (strength 1.0, gamma 0.99)",
    "team_change": "5 × save_steps",
    "beta_schedule": "learning_rate_schedule if given, else linear",
    "epsilon_schedule": "learning_rate_schedule if given, else linear",
    "reward_signal_steps_per_update": "steps_per_update",
}


@dataclass(frozen=True)
class KeyInfo:
    """One documented configuration key."""

    key: str
    type: str
    default: str
    constraint: str
    description: str


def _render(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if dataclasses.is_dataclass(value):
        return "see below"
    if isinstance(value, dict):
        return "{}" if not value else ", ".join(value)
    return str(value)


def _default_text(name: str, field: fields.Field) -> str:
    if name in _DEFAULT_TEXT:
        return _DEFAULT_TEXT[name]
    if field.required:
        return "required"
    default = field.load_default
    if default is missing:
        return "-"
    if callable(default):
        default = default()
    return _render(default)


def schema_keys(schema: Schema, prefix: str = "", *, expand: bool = True) -> Iterator[KeyInfo]:
    """Every key of ``schema`` (nested sections expanded as ``section.key`` when ``expand``)."""
    for name, field in schema.load_fields.items():
        key = f"{prefix}{field.data_key or name}"
        yield KeyInfo(
            key=key,
            type=getattr(field, "yaml_type", type(field).__name__.lower()),
            default=_default_text(name, field),
            constraint=constraint_text(field),
            description=field.metadata.get("description", ""),
        )
        if expand and isinstance(field, fields.Nested):
            nested = field.schema
            yield from schema_keys(nested, prefix=f"{key}.")


def _table(rows: list[KeyInfo]) -> str:
    if not rows:
        return "  (no keys)"
    width_key = max(len(row.key) for row in rows)
    width_type = max(len(row.type) for row in rows)
    width_default = max(len(row.default) for row in rows)
    lines = []
    for row in rows:
        extra = f" [{row.constraint}]" if row.constraint else ""
        lines.append(
            f"  {row.key:<{width_key}}  {row.type:<{width_type}}  "
            f"{row.default:<{width_default}}  {row.description}{extra}"
        )
    return "\n".join(lines)


def _sections(
    host: PluginHost, family: str, entry: ComponentEntry
) -> list[tuple[str, list[KeyInfo]]]:
    """(title, keys) blocks that document one component."""
    from dojo.config.schemas import RewardSignalCommonSchema, TrainerSettingsSchema

    try:
        own = component_schema(entry)
    except Exception as err:  # a broken plugin must not hide the rest of the explanation
        return [(f"(cannot load the schema: {err})", [])]
    own_rows = list(schema_keys(own)) if own is not None else []
    if family == "trainers":
        common = [
            row
            for row in schema_keys(TrainerSettingsSchema(host=host))
            if not row.key.startswith("hyperparameters")
        ]
        return [
            (f"behaviors.<name>.hyperparameters (trainer_type: {entry.name}):", own_rows),
            ("behaviors.<name> (keys of every trainer type):", common),
        ]
    if family == "reward_signals":
        rows = [
            row
            for row in schema_keys(RewardSignalCommonSchema())
            if row.key.split(".")[0] in REWARD_SIGNAL_COMMON_KEYS
        ]
        return [(f"behaviors.<name>.reward_signals.{entry.name}:", rows + own_rows)]
    if family == "behavior_sections":
        return [(f"behaviors.<name>.{entry.name}:", own_rows)]
    return [(f"settings of {entry.name}:", own_rows)]


def explain_component(host: PluginHost, family: str, name: str) -> str:
    """Every key of component ``name`` of ``family``, with type, default and description.

    Raises:
        PluginError: ``name`` is not registered in ``family`` (with installed names and hint).
    """
    entry = host.lookup(family, name)
    registry = host.registry(family)
    origin = entry.plugin or "?"
    if entry.distribution:
        origin += f", distribution {entry.distribution}"
    lines = [f"{entry.name}: {registry.singular} (plugin {origin})"]
    if entry.description:
        lines.append(entry.description)
    for title, rows in _sections(host, family, entry):
        lines.extend(["", title, _table(rows)])
    return "\n".join(lines)


def explain(host: PluginHost, name: str) -> str:
    """:func:`explain_component` for ``name`` in whichever families register it.

    Raises:
        ConfigError: no family has ``name`` (the message lists installed names).
    """
    families = [family for family, registry in host.registries.items() if name in registry]
    if not families:
        family = dojo_component_family(name)
        if family is not None:
            # Not installed or not implemented yet: the host's message says which and what to do.
            raise ConfigError(host.unknown_message(family, name))
        installed = sorted({n for registry in host.registries.values() for n in registry.names()})
        from dojo.config.fields import did_you_mean

        raise ConfigError(
            f"no installed component is called {name!r}.{did_you_mean(name, installed)} "
            f"Installed: {', '.join(installed) or 'none'}. 'dojo plugins' lists them by plugin."
        )
    return "\n\n".join(explain_component(host, family, name) for family in families)


# --------------------------------------------------------------------------------------------
# Markdown reference
# --------------------------------------------------------------------------------------------


def _markdown_table(rows: list[KeyInfo]) -> str:
    lines = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    for row in rows:
        cells = [f"`{row.key}`", row.type, f"`{row.default}`", row.constraint, row.description]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def configuration_reference(host: PluginHost) -> str:
    """The configuration reference in Markdown: core sections, then installed components."""
    from dojo.config import environment_parameters as params
    from dojo.config import schemas

    core: list[tuple[str, str, Schema]] = [
        ("Top level", "The sections of a configuration file.", schemas.RunOptionsSchema(host=host)),
        (
            "behaviors.<name>",
            "One behavior's settings (also `default_settings`).",
            schemas.TrainerSettingsSchema(host=host),
        ),
        (
            "behaviors.<name>.reward_signals.<signal>",
            "Keys every reward signal accepts.",
            schemas.RewardSignalCommonSchema(),
        ),
        ("env_settings", schemas.EnvSettingsSchema.__doc__ or "", schemas.EnvSettingsSchema()),
        (
            "engine_settings",
            schemas.EngineSettingsSchema.__doc__ or "",
            schemas.EngineSettingsSchema(),
        ),
        (
            "checkpoint_settings",
            schemas.CheckpointSettingsSchema.__doc__ or "",
            schemas.CheckpointSettingsSchema(),
        ),
        (
            "torch_settings",
            schemas.TorchSettingsSchema.__doc__ or "",
            schemas.TorchSettingsSchema(),
        ),
        (
            "environment_parameters.<param> (sampler)",
            params.SamplerSchema.__doc__ or "",
            params.SamplerSchema(),
        ),
        (
            "environment_parameters.<param>.curriculum[]",
            params.LessonSchema.__doc__ or "",
            params.LessonSchema(),
        ),
        (
            "environment_parameters.<param>.curriculum[].completion_criteria",
            params.CompletionCriteriaSchema.__doc__ or "",
            params.CompletionCriteriaSchema(),
        ),
    ]
    out = [
        "# Configuration reference",
        "",
        "Generated from the schemas' field descriptions (`dojo.config.explain`). Keys, defaults "
        "and nesting are ML-Agents 1.1.0's; unknown keys are errors.",
    ]
    for index, (title, doc, schema) in enumerate(core):
        out.extend(["", f"## `{title}`", "", doc.strip().splitlines()[0], ""])
        out.append(_markdown_table(list(schema_keys(schema, expand=index > 0))))
    for registry in host.registries.values():
        for entry in registry.entries():
            try:
                own = component_schema(entry)
            except Exception:  # documented as unavailable rather than failing the whole page
                continue
            if own is None:
                continue
            out.extend(["", f"## {registry.singular} `{entry.name}`", ""])
            if entry.description:
                out.extend([entry.description, ""])
            out.append(_markdown_table(list(schema_keys(own))))
    return "\n".join(out) + "\n"
