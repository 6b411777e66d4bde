"""Named-component registries owned by the plugin host.

A :class:`Registry` maps a public name (the key users write in YAML: ``ppo``, ``extrinsic``,
``tensorboard``, ``gymnasium``) to a :class:`ComponentEntry`. Entries point at their factory and
settings schema with lazy ``"module:attr"`` strings so that listing components, printing
``--help`` or validating a config never imports torch. A registry is frozen once every plugin
has registered; later registration is an error.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Any

from dojo.errors import PluginError


def import_target(target: str | Any) -> Any:
    """Resolve a ``"package.module:attr"`` string to the object it names.

    Objects that are not strings are returned unchanged, so an entry may hold either a lazy
    reference or the object itself.
    """
    if not isinstance(target, str):
        return target
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise PluginError(f"invalid import target {target!r}: expected 'module:attribute'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise PluginError(f"cannot import {module_name!r} (needed for {target!r}): {err}") from err
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as err:
            raise PluginError(f"{module_name!r} has no attribute {attr!r}") from err
    return obj


def _origin(plugin: str, distribution: str) -> str:
    """``'ppo' (dojo-ppo)``: a plugin and the distribution that ships it, for messages."""
    return f"{plugin!r} ({distribution})" if distribution else repr(plugin)


@dataclass(frozen=True)
class ComponentEntry:
    """One registered component.

    Attributes:
        name: the public name, as written in YAML.
        factory: ``"module:attr"`` (or the object) that builds the component.
        schema: ``"module:attr"`` (or the class) of the marshmallow schema of its settings, or
            ``None`` when the component takes no settings.
        description: one line shown by ``dojo plugins`` and ``dojo config explain``.
        plugin: name of the plugin that registered it (filled in by the host).
        distribution: distribution that ships that plugin (filled in by the host).
        extras: free-form metadata a component family needs (e.g. an environment's URI scheme).
    """

    name: str
    factory: str | Any
    schema: str | Any | None = None
    description: str = ""
    plugin: str = ""
    distribution: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    def load_factory(self) -> Any:
        """Import and return the factory (this may import torch)."""
        return import_target(self.factory)

    def load_schema(self) -> Any:
        """Import and return the settings schema class, or ``None``."""
        return None if self.schema is None else import_target(self.schema)


@dataclass(frozen=True)
class RefusedRegistration:
    """A registration refused because its name was already taken; the name stays with ``kept``.

    Attributes:
        name: the public name registered twice.
        kept: the entry that keeps the name (the first registration).
        plugin: the plugin whose registration was refused.
        distribution: the distribution that ships that plugin.
        message: what went wrong, naming both plugins and the name.
    """

    name: str
    kept: ComponentEntry
    plugin: str
    distribution: str
    message: str


class Registry:
    """Components of one kind (trainers, reward signals, ...), keyed by public name.

    Args:
        kind: plural noun used in messages, e.g. ``"trainers"``.
        singular: singular noun used in messages, e.g. ``"trainer type"``.
    """

    def __init__(self, kind: str, singular: str) -> None:
        self.kind = kind
        self.singular = singular
        self._entries: dict[str, ComponentEntry] = {}
        self._frozen = False
        self._current_plugin = ("", "")
        self._duplicates_fatal = True
        #: Registrations refused because their name was taken (see :meth:`set_current_plugin`).
        self.refused: list[RefusedRegistration] = []

    def register(
        self,
        name: str,
        factory: str | Any,
        schema: str | Any | None = None,
        description: str = "",
        **extras: Any,
    ) -> None:
        """Register a component under ``name``.

        Args:
            name: public name (lower case, used in YAML).
            factory: ``"module:attr"`` string or object that builds the component.
            schema: ``"module:attr"`` string or marshmallow schema class of its settings.
            description: one line for listings.
            **extras: family-specific metadata, stored on the entry.

        Raises:
            PluginError: the registry is frozen, or ``name`` is already taken (unless the
                current plugin's duplicates are recorded: see :meth:`set_current_plugin`).
        """
        if self._frozen:
            raise PluginError(
                f"cannot register {self.singular} {name!r}: registration is closed (register "
                f"{self.kind} from the plugin's registration hook, which runs once at start-up)"
            )
        plugin, distribution = self._current_plugin
        if name in self._entries:
            kept = self._entries[name]
            message = self._duplicate_message(name, kept)
            if self._duplicates_fatal:
                raise PluginError(message)
            message += f" The first registration, by plugin {kept.plugin!r}, keeps the name."
            self.refused.append(RefusedRegistration(name, kept, plugin, distribution, message))
            return
        self._entries[name] = ComponentEntry(
            name, factory, schema, description, plugin, distribution, dict(extras)
        )

    def set_current_plugin(
        self, plugin: str, distribution: str, *, duplicates_fatal: bool = True
    ) -> None:
        """Record which plugin the following :meth:`register` calls come from (host use).

        Args:
            plugin: the plugin's name (its entry-point name).
            distribution: the distribution that ships it.
            duplicates_fatal: a name this plugin registers that is already taken raises a
                :class:`PluginError` (dojo's own plugins: a bug of dojo); when ``False`` (a
                third-party plugin) the name stays with the first registration and the refused
                one is appended to :attr:`refused`, for the host to report.
        """
        self._current_plugin = (plugin, distribution)
        self._duplicates_fatal = duplicates_fatal

    def _duplicate_message(self, name: str, kept: ComponentEntry) -> str:
        plugin, distribution = self._current_plugin
        if kept.plugin == plugin:
            return (
                f"{self.singular} {name!r} is registered twice by plugin "
                f"{_origin(plugin, distribution)}. A name can be registered only once: remove "
                "the second registration."
            )
        return (
            f"{self.singular} {name!r} is registered twice: by plugin "
            f"{_origin(kept.plugin, kept.distribution)} and by plugin "
            f"{_origin(plugin, distribution)}. A name can be registered only once: "
            "uninstall one of the two plugins, or rename one of the components."
        )

    def freeze(self) -> None:
        """Close registration; the registry is read-only afterwards."""
        self._frozen = True

    @property
    def frozen(self) -> bool:
        return self._frozen

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def entries(self) -> list[ComponentEntry]:
        """Registered entries, sorted by name."""
        return [self._entries[name] for name in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str) -> ComponentEntry | None:
        """The entry for ``name``, or ``None``."""
        return self._entries.get(name)

    def close_matches(self, name: str) -> list[str]:
        """Registered names that look like ``name`` (for 'did you mean' hints)."""
        return difflib.get_close_matches(name, self.names(), n=3, cutoff=0.6)
