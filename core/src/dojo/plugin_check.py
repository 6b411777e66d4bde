"""``dojo plugins --check``: import every registered factory and schema, name what is broken.

Registration gives factories and schemas as lazy ``"module:attr"`` strings, so that listing
plugins and validating a configuration never import torch. The price is that a typo in a
target, or a module that fails to import, shows only when a run first builds the component.
This check imports them all (torch included) and reports, for each one that is broken, the
component, its family, the target, the plugin and its distribution, and the error; the plugins
that failed to load are listed with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dojo.errors import DojoError

if TYPE_CHECKING:
    from dojo.plugin_host import PluginHost
    from dojo.registry import ComponentEntry


@dataclass(frozen=True)
class ComponentProblem:
    """A registered factory or schema that cannot be imported or is not the right kind.

    Attributes:
        family: the registry it is in (``"trainers"``, a key of ``FAMILIES``).
        entry: the registered component.
        part: ``"factory"`` or ``"schema"``.
        target: the ``"module:attr"`` registered (or the object's qualified name).
        error: what is wrong.
    """

    family: str
    entry: ComponentEntry
    part: str
    target: str
    error: str


def _target_text(target: Any) -> str:
    if isinstance(target, str):
        return target
    return f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', target)!s}"


def _error_text(err: Exception) -> str:
    # dojo's own errors (a target that cannot be imported) already say what happened.
    return str(err) if isinstance(err, DojoError) else f"{type(err).__name__}: {err}"


def _schema_error(schema: Any) -> str | None:
    """Why ``schema`` is not usable as a settings schema, or ``None`` when it is."""
    from marshmallow import Schema

    if isinstance(schema, Schema):
        return None
    if not (isinstance(schema, type) and issubclass(schema, Schema)):
        return f"not a marshmallow Schema class (it is {type(schema).__name__} {schema!r})"
    try:
        schema()  # the configuration loader builds it without arguments
    except Exception as err:  # report any failure of a third party's schema, do not crash
        return f"cannot be built without arguments: {_error_text(err)}"
    return None


def check_entry(family: str, entry: ComponentEntry) -> list[ComponentProblem]:
    """Import the factory and schema of ``entry``; the problems found (none when it is sound)."""
    problems = []

    def problem(part: str, target: Any, error: str) -> None:
        problems.append(ComponentProblem(family, entry, part, _target_text(target), error))

    try:
        factory = entry.load_factory()
    except Exception as err:  # a third party's module may raise anything when imported
        problem("factory", entry.factory, _error_text(err))
    else:
        if not callable(factory):
            problem("factory", entry.factory, f"not callable (it is {type(factory).__name__})")
    if entry.schema is not None:
        try:
            schema = entry.load_schema()
        except Exception as err:  # as above
            problem("schema", entry.schema, _error_text(err))
        else:
            error = _schema_error(schema)
            if error:
                problem("schema", entry.schema, error)
    return problems


def check_components(host: PluginHost) -> tuple[int, list[ComponentProblem]]:
    """Check every registered component of every family.

    Returns:
        The number of components checked, and the problems found.
    """
    count, problems = 0, []
    for family, registry in host.registries.items():
        for entry in registry.entries():
            count += 1
            problems.extend(check_entry(family, entry))
    return count, problems


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def describe_check(host: PluginHost) -> tuple[str, bool]:
    """The report of ``dojo plugins --check``, and whether everything is sound."""
    count, problems = check_components(host)
    if not problems and not host.failures:
        plugins = _plural(len(host.plugins), "plugin")
        return f"All {count} components import (every factory and schema of {plugins}).", True
    versions = {info.name: info.version for info in host.plugins}
    lines = []
    if problems:
        lines.append("Broken components:")
    for found in problems:
        entry = found.entry
        origin = " ".join(part for part in (entry.distribution, versions.get(entry.plugin)) if part)
        origin = f" ({origin})" if origin else ""
        lines.append(
            f"  {found.family} {entry.name!r}, plugin {entry.plugin!r}{origin}: "
            f"{found.part} {found.target!r}: {found.error}"
        )
    if host.failures:
        lines.append("Load failures:")
    for failure in host.failures:
        lines.append(
            f"  {failure.name}  ({failure.distribution or failure.target}): {failure.error}"
        )
    broken = len({(found.family, found.entry.name) for found in problems})
    summary = f"{broken} of {_plural(count, 'component')} broken"
    if host.failures:
        summary += f", {_plural(len(host.failures), 'load failure')}"
    lines.append(summary + ".")
    return "\n".join(lines), False
