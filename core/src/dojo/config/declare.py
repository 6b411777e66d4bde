"""Declare each setting once: the frozen dataclass is the declaration, the schema is derived.

A setting has a name, a type, a default, validators and a one-line description. Write them
once, on the settings dataclass, with :func:`setting`; :func:`settings_schema` builds the
marshmallow schema from it, so the default a trainer gets when it builds the dataclass itself
and the default a YAML file gets when it leaves the key out cannot drift apart::

    @dataclass(frozen=True)
    class MemorySettings:
        memory_size: int = setting(128, Integer, validate=AtLeast(1), description="...")
        sequence_length: int = setting(64, Integer, validate=AtLeast(1), description="...")


    class MemorySchema(settings_schema(MemorySettings)):
        \"\"\"``network_settings.memory``: an LSTM after the dense layers.\"\"\"

The schema has one field per :func:`setting`, in declaration order, built as
``field_class(*args, load_default=default, **kwargs)``, and a ``@post_load`` method ``_build``
that returns ``MemorySettings(**data)``. Subclass it, as above, to give the section its
docstring (``dojo config explain`` shows it) and to add what one field cannot say: cross-field
checks (``@validates_schema``), rewrites of the input (``@pre_load``), a constructor taking
``host=``, an ``unknown_key_hint``, or a ``_build`` of its own. A dataclass field declared
without :func:`setting` (``params``, ``sections``) is filled by code, not read from YAML.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from marshmallow import fields, post_load

from dojo.config.fields import StrictSchema

#: ``setting(REQUIRED, ...)``: a key the user must give (no default in the dataclass either,
#: so declare it before the settings that have one).
REQUIRED: Any = dataclasses.MISSING

#: Key of the dataclass field's metadata that holds the schema field's recipe.
FIELD_SPEC = "dojo.setting"


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """How to build the schema field of one setting: ``field_class(*args, **kwargs)``."""

    field_class: type[fields.Field]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def setting(default: Any, field_class: type[fields.Field], *args: Any, **kwargs: Any) -> Any:
    """A dataclass field that is also a schema field.

    Args:
        default: the value when the key is absent, for the dataclass and the schema alike. A
            callable (``dict``, a settings class, a lambda) is a factory, called for each new
            value: the way to give a mutable or nested default. :data:`REQUIRED` for a key
            without a default.
        field_class: the schema field (:class:`~dojo.config.fields.Integer`, ``Section``, ...).
        args, kwargs: the field's own arguments (``validate=``, ``description=``, a
            ``Section``'s schema), all but ``load_default``, which is ``default``.
    """
    metadata = {FIELD_SPEC: FieldSpec(field_class, args, kwargs)}
    if default is REQUIRED:
        return dataclasses.field(metadata=metadata)
    if callable(default):
        return dataclasses.field(default_factory=default, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def setting_fields(settings_class: type) -> list[dataclasses.Field[Any]]:
    """The dataclass fields of ``settings_class`` declared with :func:`setting`, in order."""
    return [item for item in dataclasses.fields(settings_class) if FIELD_SPEC in item.metadata]


def _schema_field(item: dataclasses.Field[Any]) -> fields.Field:
    spec: FieldSpec = item.metadata[FIELD_SPEC]
    if item.default is not dataclasses.MISSING:
        return spec.field_class(*spec.args, load_default=item.default, **spec.kwargs)
    if item.default_factory is not dataclasses.MISSING:
        return spec.field_class(*spec.args, load_default=item.default_factory, **spec.kwargs)
    return spec.field_class(*spec.args, required=True, **spec.kwargs)


def settings_schema(
    settings_class: type, base: type[StrictSchema] = StrictSchema
) -> type[StrictSchema]:
    """A ``base`` subclass that loads ``settings_class``: one field per :func:`setting`, in
    declaration order, and a ``@post_load`` ``_build`` returning ``settings_class(**data)``.
    The class also records ``settings_class`` as an attribute of that name."""

    def _build(self: StrictSchema, data: dict[str, Any], **_kwargs: Any) -> Any:
        return settings_class(**data)

    namespace: dict[str, Any] = {
        item.name: _schema_field(item) for item in setting_fields(settings_class)
    }
    name = f"{settings_class.__name__}Fields"
    namespace.update(
        __module__=settings_class.__module__,
        __qualname__=name,
        __doc__=f"The settings of :class:`{settings_class.__qualname__}`, one field each.",
        settings_class=settings_class,
        _build=post_load(_build),
    )
    return type(base)(name, (base,), namespace)
