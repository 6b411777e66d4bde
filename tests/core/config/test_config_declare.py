"""Settings declared once (:mod:`dojo.config.declare`): the dataclass and its schema agree.

Every settings dataclass of the core, and of every installed plugin whose schema is derived
with ``settings_schema``, is checked: the schema's keys are the dataclass's settings in the
same order, and what the schema loads from an empty mapping equals the dataclass's defaults.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest
from marshmallow import Schema, ValidationError, validates_schema

from dojo.config import schemas, sections, settings
from dojo.config.declare import REQUIRED, setting, setting_fields, settings_schema
from dojo.config.explain import schema_keys
from dojo.config.fields import AtLeast, Integer, Section, Text
from dojo.plugin_host import PluginHost, load_plugins

#: Dataclass fields that code fills, not YAML: (class, field) -> why.
FILLED_BY_CODE = {
    (settings.RewardSignalSettings, "params"): "the signal's own schema loads them",
    (settings.TrainerSettings, "sections"): "the plugin sections' schemas load them",
}
#: Defaults the schema computes instead of reading the dataclass: (class, field) -> why.
COMPUTED_DEFAULTS = {
    (settings.TrainerSettings, "hyperparameters"): "loaded by the trainer's schema from {}",
}


def _settings_schemas(host: PluginHost) -> list[type[Schema]]:
    """The core's schemas and every registered component's schema made by settings_schema."""
    found = [
        value
        for module in (schemas, sections)
        for value in vars(module).values()
        if isinstance(value, type) and hasattr(value, "settings_class")
    ]
    for family in ("trainers", "reward_signals", "behavior_sections"):
        for entry in host.registry(family).entries():
            schema = entry.load_schema()
            if isinstance(schema, type) and hasattr(schema, "settings_class"):
                found.append(schema)
    return list(dict.fromkeys(found))


def _instance(schema_class: type[Schema], host: PluginHost) -> Schema:
    takes_host = "host" in inspect.signature(schema_class.__init__).parameters
    return schema_class(host=host) if takes_host else schema_class()


@pytest.fixture(scope="module")
def installed() -> PluginHost:
    return load_plugins()


def test_every_core_settings_class_has_a_derived_schema(installed) -> None:
    declared = {
        value
        for value in vars(settings).values()
        if dataclasses.is_dataclass(value) and setting_fields(value)
    }
    derived = {schema.settings_class for schema in _settings_schemas(installed)}
    assert declared <= derived, declared - derived


def test_schema_keys_are_the_dataclass_settings_in_order(installed) -> None:
    for schema_class in _settings_schemas(installed):
        cls = schema_class.settings_class
        declared = [item.name for item in setting_fields(cls)]
        assert list(schema_class._declared_fields) == declared, schema_class.__name__
        for item in dataclasses.fields(cls):
            if item.name not in declared:
                assert (cls, item.name) in FILLED_BY_CODE, f"{cls.__name__}.{item.name}"


def test_schema_defaults_are_the_dataclass_defaults(installed) -> None:
    checked = 0
    for schema_class in _settings_schemas(installed):
        cls = schema_class.settings_class
        if any(field.required for field in schema_class._declared_fields.values()):
            continue
        loaded = _instance(schema_class, installed).load({})
        for item in setting_fields(cls):
            if (cls, item.name) in COMPUTED_DEFAULTS:
                continue
            assert getattr(loaded, item.name) == getattr(cls(), item.name), (
                f"{cls.__name__}.{item.name}"
            )
        checked += 1
    assert checked >= 10  # the core's nine and the reward plugin's two, at least


# --------------------------------------------------------------------------------------------
# The mechanism itself, on a small example
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Inner:
    size: int = setting(4, Integer, validate=AtLeast(1), description="A size.")


class InnerSchema(settings_schema(Inner)):
    """``inner``."""


@dataclasses.dataclass(frozen=True)
class Outer:
    name: str = setting(REQUIRED, Text, description="Required name.")
    inner: Inner = setting(Inner, Section, f"{__name__}:InnerSchema", description="Nested.")
    tags: dict[str, Any] = dataclasses.field(default_factory=dict)


class OuterSchema(settings_schema(Outer)):
    """``outer``: the name may not be the inner size."""

    @validates_schema(skip_on_field_errors=True)
    def _check(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data["name"] == str(data["inner"].size):
            raise ValidationError("must differ from inner.size.", field_name="name")


def test_a_declared_class_loads_with_defaults_factories_and_nested_sections() -> None:
    assert OuterSchema().load({"name": "a"}) == Outer(name="a", inner=Inner(size=4))
    assert OuterSchema().load({"name": "a", "inner": {"size": 2}}).inner == Inner(size=2)
    assert Outer(name="a").inner is not Outer(name="b").inner  # a factory, not one shared value


def test_a_declared_class_keeps_messages_checks_and_descriptions() -> None:
    with pytest.raises(ValidationError) as caught:
        OuterSchema().load({"inner": {"size": 0, "sise": 1}})
    assert caught.value.messages == {
        "inner": {
            "size": ["must be ≥ 1, got 0. Use 1 or more."],
            "sise": ["unknown key. Did you mean 'size'? Valid keys: size."],
        },
        "name": ["is required."],
    }
    with pytest.raises(ValidationError) as caught:
        OuterSchema().load({"name": "4"})
    assert caught.value.messages == {"name": ["must differ from inner.size."]}
    rows = {row.key: row for row in schema_keys(OuterSchema())}
    assert list(rows) == ["name", "inner", "inner.size"]
    assert (rows["name"].default, rows["inner.size"].default) == ("required", "4")
    assert rows["inner.size"].description == "A size."
    assert rows["inner.size"].constraint == "≥ 1"
