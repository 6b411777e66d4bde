"""Building blocks of the configuration schemas.

- :class:`StrictSchema`: the base of every dojo schema. Unknown keys are errors (marshmallow's
  ``RAISE``), reported with the closest valid key and the list of valid keys.
- Leaf fields (:class:`Integer`, :class:`Number`, :class:`Boolean`, :class:`Text`,
  :class:`Section`) that read YAML the way ML-Agents does (``5.0e5`` and ``3e7`` are step
  counts, ``run_id: 12`` is text), take a one-line ``description`` (shown by
  ``dojo config explain`` and in the configuration reference) and phrase their errors for users.
- Validators (:class:`AtLeast`, :class:`Between`, :class:`OneOf`) whose messages give the value,
  the limit and the fix, and which describe themselves for the reference.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from marshmallow import Schema, ValidationError, fields

from dojo.errors import shorten
from dojo.registry import import_target

#: Placeholder marshmallow stores for an unknown key; rewritten by StrictSchema.handle_error.
UNKNOWN_KEY = "__dojo_unknown_key__"


#: Largest whole number a setting may hold: torch, numpy and the files dojo writes keep
#: counts and sizes in 64-bit integers.
INT64_MAX = 2**63 - 1


def describe_value(value: Any) -> str:
    """A short rendering of a YAML value for error messages (``'abc'``, ``2.5``, ``null``);
    long text is cut (:func:`dojo.errors.shorten`), so a megabyte value is not echoed."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return shorten(repr(value))
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return shorten(str(value))


class Shortened:
    """A value that formats as its shortened ``str`` or ``repr`` (for ``message.format``)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:
        return shorten(str(self.value))

    def __repr__(self) -> str:
        return shorten(repr(self.value))

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def did_you_mean(name: str, candidates: Sequence[str]) -> str:
    """``" Did you mean 'x'?"`` for the closest candidate, or an empty string."""
    if len(name) > 200:  # difflib indexes every character: not for a megabyte of text
        return ""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" Did you mean {matches[0]!r}?" if matches else ""


class StrictSchema(Schema):
    """Base schema: unknown keys are errors that suggest the closest valid key."""

    error_messages = {"unknown": UNKNOWN_KEY}  # noqa: RUF012 (marshmallow reads a class dict)

    def valid_keys(self) -> list[str]:
        """The keys this schema accepts, in declaration order."""
        return [field.data_key or name for name, field in self.load_fields.items()]

    def unknown_key_hint(self, key: str) -> str:
        """An extra sentence for an unknown ``key`` (subclasses point at the right section)."""
        return ""

    def unknown_key_message(self, key: str, valid: list[str]) -> str:
        """The whole message for an unknown ``key``; by default "unknown key", a hint or the
        closest valid key, and the valid keys."""
        hint = self.unknown_key_hint(key) or did_you_mean(key, valid)
        return f"unknown key.{hint} Valid keys: {', '.join(valid)}."

    def handle_error(self, error: ValidationError, data: Any, *, many: bool, **kwargs: Any) -> None:
        messages = error.messages
        if not isinstance(messages, dict):
            return
        valid = self.valid_keys()
        rewritten: dict[str, Any] = {}
        changed = False
        for key, value in messages.items():
            if value == [UNKNOWN_KEY]:
                changed = True
                rewritten[key] = [self.unknown_key_message(str(key), valid)]
            else:
                rewritten[key] = value
        if changed:
            # marshmallow finds unknown keys with a set difference: report them in file order
            position = (
                {key: index for index, key in enumerate(data)} if isinstance(data, Mapping) else {}
            )
            ordered = dict(sorted(rewritten.items(), key=lambda item: position.get(item[0], -1)))
            raise ValidationError(ordered, data=data, valid_data=error.valid_data) from error


class DescribedField:
    """Mixin: accept ``description="..."`` and store it in the field's metadata."""

    yaml_type = "value"

    def __init__(self, *args: Any, description: str, **kwargs: Any) -> None:
        metadata = dict(kwargs.pop("metadata", None) or {})
        metadata["description"] = description
        super().__init__(*args, metadata=metadata, **kwargs)  # type: ignore[call-arg]


_NULL = "must not be empty (null): give a value, or remove the key to use the default."
_REQUIRED = "is required."


class Integer(DescribedField, fields.Field):
    """A whole number.

    Accepts ``5``, ``5.0`` and numeric text such as ``"3e7"`` (YAML 1.1 reads ``3e7`` and
    ``5.0e5`` as strings). With ``truncate=True`` the value is ``int(float(x))`` like ML-Agents'
    ``max_steps``, so ``5.5`` becomes 5; otherwise a fractional value is an error. A value
    beyond ±(2**63 - 1) is an error: nothing dojo does counts that far, and torch and numpy
    would fail on it later with a traceback.
    """

    yaml_type = "integer"
    default_error_messages = {"null": _NULL, "required": _REQUIRED}  # noqa: RUF012

    def __init__(self, *, truncate: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.truncate = truncate

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise ValidationError(f"expected a whole number, got {describe_value(value)}.")
        if isinstance(value, int):
            return self._in_range(value, value)
        number: float | None = None
        if isinstance(value, float):
            number = value
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                number = None
        if number is None or not math.isfinite(number):
            raise ValidationError(f"expected a whole number, got {describe_value(value)}.")
        if not self.truncate and not number.is_integer():
            raise ValidationError(
                f"expected a whole number, got {describe_value(value)}. Round it to "
                f"{math.floor(number)} or {math.ceil(number)}."
            )
        return self._in_range(int(number), value)

    @staticmethod
    def _in_range(number: int, value: Any) -> int:
        if abs(number) > INT64_MAX:
            raise ValidationError(
                f"expected a whole number within ±{INT64_MAX} (2**63 - 1), got "
                f"{describe_value(value)}."
            )
        return number

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


class Number(DescribedField, fields.Field):
    """A real number; accepts integers and numeric text (``"1e-3"``)."""

    yaml_type = "number"
    default_error_messages = {"null": _NULL, "required": _REQUIRED}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool):
            raise ValidationError(f"expected a number, got {describe_value(value)}.")
        if isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError as err:
                raise ValidationError(f"expected a number, got {describe_value(value)}.") from err
        else:
            raise ValidationError(f"expected a number, got {describe_value(value)}.")
        if not math.isfinite(number):
            raise ValidationError(f"expected a finite number, got {describe_value(value)}.")
        return number

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


class Boolean(DescribedField, fields.Boolean):
    """``true`` or ``false`` (YAML's ``yes``/``no``/``True`` spellings too)."""

    yaml_type = "boolean"
    default_error_messages = {  # noqa: RUF012
        "invalid": "expected true or false.",
        "null": _NULL,
        "required": _REQUIRED,
    }


class Text(DescribedField, fields.Field):
    """Text. Numbers are accepted and converted (``run_id: 12`` is the run id ``"12"``)."""

    yaml_type = "text"
    default_error_messages = {"null": _NULL, "required": _REQUIRED}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ValidationError(f"expected text, got {describe_value(value)}.")

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


class TextList(DescribedField, fields.Field):
    """A list of text items (a single text value is accepted as a one-item list)."""

    yaml_type = "list of text"
    default_error_messages = {"null": _NULL, "required": _REQUIRED}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        if not isinstance(value, (list, tuple)):
            raise ValidationError(f"expected a list of text, got {describe_value(value)}.")
        items = []
        for index, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise ValidationError(f"item {index}: expected text, got {describe_value(item)}.")
            items.append(str(item))
        return items

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


class Section(DescribedField, fields.Nested):
    """A nested mapping validated by another schema (``network_settings:``, ``memory:``).

    The schema may be named ``"package.module:SchemaClass"`` and is then imported when first
    used, so that a settings dataclass can name the schema of a nested section that is
    declared after it (:mod:`dojo.config.declare`).
    """

    yaml_type = "mapping"
    default_error_messages = {  # noqa: RUF012
        "type": "expected a mapping of keys (key: value lines), got something else.",
        "null": _NULL,
        "required": _REQUIRED,
    }

    def __init__(self, nested: Any, **kwargs: Any) -> None:
        if isinstance(nested, str) and ":" in nested:
            target = nested
            nested = lambda: import_target(target)  # noqa: E731 (marshmallow calls it lazily)
        super().__init__(nested, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ValidationError(
                f"expected a mapping of keys (key: value lines), got {describe_value(value)}."
            )
        return super()._deserialize(value, attr, data, **kwargs)


class AnyValue(DescribedField, fields.Raw):
    """Any YAML value; checked by the code that owns it."""

    yaml_type = "value"
    default_error_messages = {"null": _NULL, "required": _REQUIRED}  # noqa: RUF012


class RawMapping(DescribedField, fields.Field):
    """A mapping whose entries are validated elsewhere (by a custom field or the loader)."""

    yaml_type = "mapping"
    default_error_messages = {"null": _NULL, "required": _REQUIRED}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ValidationError(f"expected a mapping, got {describe_value(value)}.")
        return dict(value)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


# --------------------------------------------------------------------------------------------
# Validators: each says what is wrong, with the value and the limit, and how to fix it.
# --------------------------------------------------------------------------------------------


class AtLeast:
    """``value >= minimum``; with ``maximum``, also ``value <= maximum`` (a bound that only
    absurd values reach, such as the largest int32 a Unity message can carry)."""

    def __init__(self, minimum: float, hint: str = "", maximum: float | None = None) -> None:
        self.minimum = minimum
        self.hint = hint
        self.maximum = maximum

    def __call__(self, value: Any) -> None:
        if value is not None and value < self.minimum:
            fix = self.hint or f"Use {self.minimum} or more."
            raise ValidationError(f"must be ≥ {self.minimum}, got {value}. {fix}")
        if value is not None and self.maximum is not None and value > self.maximum:
            raise ValidationError(f"must be ≤ {self.maximum}, got {value}.")

    def describe(self) -> str:
        if self.maximum is not None:
            return f"≥ {self.minimum}, ≤ {self.maximum}"
        return f"≥ {self.minimum}"


class Between:
    """``low <= value <= high``; either end may be open (``low < value``)."""

    def __init__(
        self,
        low: float,
        high: float,
        *,
        low_open: bool = False,
        high_open: bool = False,
        hint: str = "",
    ) -> None:
        self.low, self.high = low, high
        self.low_open, self.high_open = low_open, high_open
        self.hint = hint

    def describe(self) -> str:
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"in {left}{self.low}, {self.high}{right}"

    def __call__(self, value: Any) -> None:
        if value is None:
            return
        too_low = value <= self.low if self.low_open else value < self.low
        too_high = value >= self.high if self.high_open else value > self.high
        if too_low or too_high:
            fix = self.hint or f"Choose a value {self.describe()}."
            raise ValidationError(f"must be {self.describe()}, got {value}. {fix}")


class OneOf:
    """The value is one of ``choices`` (with a 'did you mean' for near misses)."""

    def __init__(self, choices: Sequence[str]) -> None:
        self.choices = list(choices)

    def describe(self) -> str:
        return "one of " + ", ".join(self.choices)

    def __call__(self, value: Any) -> None:
        if value not in self.choices:
            raise ValidationError(
                f"must be {self.describe()}; got {describe_value(value)}."
                + did_you_mean(str(value), self.choices)
            )


class Check:
    """A custom predicate with its own message (``message`` may use ``{value}``)."""

    def __init__(self, predicate: Callable[[Any], bool], message: str, summary: str) -> None:
        self.predicate = predicate
        self.message = message
        self.summary = summary

    def describe(self) -> str:
        return self.summary

    def __call__(self, value: Any) -> None:
        if value is not None and not self.predicate(value):
            raise ValidationError(self.message.format(value=Shortened(value)))


def constraint_text(field: fields.Field) -> str:
    """The constraints of ``field`` in words (``≥ 1``, ``one of linear, constant``)."""
    parts = [v.describe() for v in field.validators if hasattr(v, "describe")]
    return "; ".join(parts)


class SafeName:
    """A name that becomes one folder under another (a run id): never a path of its own.

    Allowed: 1 to :attr:`MAX_LENGTH` characters, no ``/`` or ``\\``, no control character
    (newline, tab, NUL, ...), not ``.`` or ``..``, no space at either end.
    """

    MAX_LENGTH = 128
    RULE = (
        "1 to 128 characters, none of them '/', '\\' or a control character (newline, tab, "
        "NUL, ...), not '.' or '..', and no space at either end"
    )

    def __init__(self, hint: str = "") -> None:
        self.hint = hint

    def describe(self) -> str:
        return "a safe folder name"

    @classmethod
    def problem(cls, name: str) -> str | None:
        """Why ``name`` is not a safe folder name, or ``None`` when it is."""
        if not name.strip():
            return "is empty"
        if len(name) > cls.MAX_LENGTH:
            return f"is {len(name)} characters long (at most {cls.MAX_LENGTH})"
        if name in (".", ".."):
            return "names the current or the parent folder"
        for char in ("/", "\\"):
            if char in name:
                return f"holds a {char!r}, which would make it a path"
        control = next((c for c in name if ord(c) < 32 or 127 <= ord(c) < 160), None)
        if control is not None:
            return f"holds the control character {control!r}"
        if name != name.strip():
            return "starts or ends with a space"
        return None

    def __call__(self, value: Any) -> None:
        if value is None:
            return
        problem = self.problem(str(value))
        if problem is not None:
            hint = f" {self.hint}" if self.hint else ""
            raise ValidationError(
                f"must be a safe folder name, but {describe_value(value)} {problem}: use "
                f"{self.RULE}.{hint}"
            )
