"""Structural validation of ``environment_parameters`` (ML-Agents 0.18+ format).

Each parameter is one of:

- a number (a constant value),
- a sampler: ``{sampler_type: uniform, sampler_parameters: {min_value: 1, max_value: 2}}``,
- a curriculum: ``{curriculum: [{name, value, completion_criteria: {...}}, ...]}`` whose lesson
  values are numbers or samplers.

The result stays plain dicts (what the curriculum and sampler plugins receive), with the defaults
of ``completion_criteria`` filled in. Sampler types and completion measures are looked up in the
host's registries (the core registers ML-Agents' own as built-in plugins); without a host (unit
use) only ML-Agents' names are known.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from marshmallow import ValidationError, post_load, validates_schema

from dojo.config.fields import (
    AnyValue,
    AtLeast,
    Boolean,
    Integer,
    Number,
    OneOf,
    RawMapping,
    StrictSchema,
    Text,
    describe_value,
)

if TYPE_CHECKING:
    from dojo.plugin_host import PluginHost

logger = logging.getLogger("dojo.config")

#: ML-Agents' sampler types (what is known without a plugin host).
BUILTIN_SAMPLER_TYPES = ("uniform", "gaussian", "multirangeuniform", "constant")
#: ML-Agents' lesson completion measures (what is known without a plugin host).
BUILTIN_MEASURES = ("reward", "progress")


#: ``sampler_parameters.seed`` of every sampler (validated by the core, not by the plugin).
SAMPLER_SEED = Integer(
    load_default=-1, description="Sampler seed; -1 derives one from the run seed."
)


class SamplerSchema(StrictSchema):
    """A sampled environment parameter (sampling happens in the environment, per episode)."""

    sampler_type = Text(
        required=True,
        description="Distribution name: uniform, gaussian, multirangeuniform, constant, ...",
    )
    sampler_parameters = RawMapping(
        required=True,
        description="Parameters of the distribution (e.g. min_value/max_value, mean/st_dev).",
    )


class CompletionCriteriaSchema(StrictSchema):
    """When a curriculum lesson is complete."""

    behavior = Text(required=True, description="Behavior whose statistics are measured.")
    measure = Text(
        load_default="reward",
        description="reward (mean cumulative reward) or progress (steps / max_steps).",
    )
    threshold = Number(
        load_default=0.0, description="The lesson ends when the measure exceeds this value."
    )
    min_lesson_length = Integer(
        load_default=0,
        validate=AtLeast(0),
        description="Episodes to complete before the measure is checked.",
    )
    signal_smoothing = Boolean(
        load_default=True, description="Smooth the measure: 0.25 * previous + 0.75 * current."
    )
    require_reset = Boolean(
        load_default=False, description="Reset the environment when the lesson changes."
    )

    @validates_schema(skip_on_field_errors=True)
    def _check_progress(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("measure") == "progress" and not 0.0 <= data.get("threshold", 0.0) <= 1.0:
            raise ValidationError(
                f"must be in [0, 1] when measure is progress (a fraction of max_steps), got "
                f"{data['threshold']}. Use e.g. 0.5 for half of max_steps.",
                field_name="threshold",
            )

    @post_load
    def _to_dict(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        return dict(data)


class LessonSchema(StrictSchema):
    """One lesson of a curriculum."""

    name = Text(required=True, description="Lesson name (shown in logs).")
    value = AnyValue(
        required=True,
        description="The parameter's value in this lesson: a number or a sampler.",
    )
    completion_criteria = RawMapping(
        load_default=None,
        allow_none=True,
        description="When the lesson is complete; required on every lesson but the last.",
    )


def _lesson_named_by_key(lesson: Mapping[str, Any]) -> str | None:
    """The name of a lesson written ``- Lesson0: {value: ...}`` (ML-Agents' converter's bug)."""
    if len(lesson) == 1:
        ((key, body),) = lesson.items()
        if key not in LessonSchema().valid_keys() and isinstance(body, Mapping):
            return str(key)
    return None


def _check_sampler(value: Any, host: PluginHost | None) -> dict[str, Any]:
    data = SamplerSchema().load(value)
    sampler_type = data["sampler_type"]
    registry = host.registry("samplers") if host is not None else None
    if registry is not None:
        entry = registry.get(sampler_type)
        if entry is None:
            raise ValidationError(
                {"sampler_type": [host.unknown_message("samplers", sampler_type)]}  # type: ignore[union-attr]
            )
        parameters = dict(data["sampler_parameters"])
        # 'seed' belongs to every sampler: the core reads it, the plugin's schema the rest.
        try:
            SAMPLER_SEED.deserialize(parameters.pop("seed", -1))
        except ValidationError as err:
            raise ValidationError({"sampler_parameters": {"seed": err.messages}}) from err
        schema = entry.load_schema()
        if schema is not None:
            instance = schema() if isinstance(schema, type) else schema
            try:
                instance.load(parameters)
            except ValidationError as err:
                raise ValidationError({"sampler_parameters": err.messages}) from err
    else:
        try:
            OneOf(BUILTIN_SAMPLER_TYPES)(sampler_type)
        except ValidationError as err:
            raise ValidationError({"sampler_type": err.messages}) from err
    return {"sampler_type": sampler_type, "sampler_parameters": dict(data["sampler_parameters"])}


def _check_value(value: Any, host: PluginHost | None) -> Any:
    """A number or a sampler (a lesson's value or a parameter's value)."""
    if isinstance(value, bool):
        raise ValidationError(f"expected a number or a sampler, got {describe_value(value)}.")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Mapping):
        return _check_sampler(value, host)
    raise ValidationError(
        f"expected a number or a sampler ({{sampler_type: ..., sampler_parameters: ...}}), "
        f"got {describe_value(value)}."
    )


def _check_criteria(value: Any, host: PluginHost | None) -> dict[str, Any]:
    data = CompletionCriteriaSchema().load(value)
    registry = host.registry("curricula") if host is not None else None
    if registry is not None:
        if data["measure"] not in registry:
            raise ValidationError(
                {"measure": [host.unknown_message("curricula", data["measure"])]}  # type: ignore[union-attr]
            )
    else:
        try:
            OneOf(BUILTIN_MEASURES)(data["measure"])
        except ValidationError as err:
            raise ValidationError({"measure": err.messages}) from err
    return data


def _check_curriculum(lessons: Any, name: str, host: PluginHost | None) -> list[dict[str, Any]]:
    if not isinstance(lessons, list) or not lessons:
        raise ValidationError(
            f"expected a list of lessons ('- name: ...' items), got {describe_value(lessons)}."
        )
    wrong_names = [
        _lesson_named_by_key(lesson) for lesson in lessons if isinstance(lesson, Mapping)
    ]
    if any(wrong_names):
        names = ", ".join(name for name in wrong_names if name)
        first = next(name for name in wrong_names if name)
        raise ValidationError(
            f"lessons {names} are written as '- {first}:' with their settings under the name; "
            f"write each lesson as '- name: {first}' with 'value:' and 'completion_criteria:' "
            "at the same indentation as 'name:'."
        )
    errors: dict[Any, Any] = {}
    result = []
    for index, lesson in enumerate(lessons):
        last = index == len(lessons) - 1
        try:
            data = LessonSchema().load(lesson) if isinstance(lesson, Mapping) else None
            if data is None:
                raise ValidationError(
                    f"expected a lesson mapping (name, value, completion_criteria), got "
                    f"{describe_value(lesson)}."
                )
        except ValidationError as err:
            errors[index] = err.messages
            continue
        item: dict[str, Any] = {"name": data["name"]}
        lesson_errors: dict[str, Any] = {}
        try:
            item["value"] = _check_value(lesson["value"], host)
        except ValidationError as err:
            lesson_errors["value"] = err.messages
        criteria = data["completion_criteria"]
        if criteria is None and not last:
            lesson_errors["completion_criteria"] = [
                "is required on every lesson but the last: say when the lesson is complete "
                "(behavior, measure, threshold)."
            ]
        elif criteria is not None and last:
            logger.warning(
                "environment_parameters.%s: the last lesson %r has completion_criteria; they "
                "are ignored (there is no next lesson).",
                name,
                data["name"],
            )
        if criteria is not None and not lesson_errors.get("completion_criteria"):
            try:
                item["completion_criteria"] = _check_criteria(criteria, host)
            except ValidationError as err:
                lesson_errors["completion_criteria"] = err.messages
        if lesson_errors:
            errors[index] = lesson_errors
        result.append(item)
    if errors:
        raise ValidationError(errors)
    return result


def check_environment_parameters(value: Any, host: PluginHost | None) -> dict[str, Any]:
    """Validate the ``environment_parameters`` section; return it as plain dicts.

    Raises:
        ValidationError: with messages keyed like the YAML (parameter, ``curriculum``, index).
    """
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"expected a mapping of parameter names to values, got {describe_value(value)}."
        )
    errors: dict[str, Any] = {}
    result: dict[str, Any] = {}
    for name, parameter in value.items():
        try:
            if isinstance(parameter, Mapping) and "curriculum" in parameter:
                extra = sorted(set(parameter) - {"curriculum"})
                if extra:
                    raise ValidationError(
                        {key: ["unknown key next to 'curriculum'."] for key in extra}
                    )
                try:
                    lessons = _check_curriculum(parameter["curriculum"], str(name), host)
                except ValidationError as err:
                    raise ValidationError({"curriculum": err.messages}) from err
                result[str(name)] = {"curriculum": lessons}
            else:
                result[str(name)] = _check_value(parameter, host)
        except ValidationError as err:
            errors[str(name)] = err.messages
    if errors:
        raise ValidationError(errors)
    return result
