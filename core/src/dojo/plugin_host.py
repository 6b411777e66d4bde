"""The plugin host: discovers plugins, runs their registration hooks, owns the registries.

Discovery reads the ``dojo.plugins`` entry-point group with stevedore; every entry point names
a module that is registered in a pluggy :class:`~pluggy.PluginManager`. The core's own
built-in plugins are registered first, from :data:`BUILTIN_PLUGINS`, exactly like third-party
ones, then dojo's own distributions, then the others. A plugin that fails to import, whose
registration hook raises, or that registers a name already taken (the first registration keeps
it) is recorded in :attr:`PluginHost.failures` and shown by ``dojo plugins`` and next to any
"unknown <component>" error; it is never silently dropped.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
from dataclasses import dataclass, field
from typing import Any

import pluggy

from dojo import hookspecs
from dojo.errors import PluginError
from dojo.registry import ComponentEntry, Registry

ENTRY_POINT_GROUP = "dojo.plugins"

#: Modules of the core that are registered as ordinary plugins.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "dojo.builtin.reward_signals",
    "dojo.builtin.stats_writers",
    "dojo.builtin.environments",
    "dojo.builtin.environment_parameters",
)

#: Component families: registry key -> (registration hook, plural, singular).
FAMILIES: dict[str, tuple[str, str, str]] = {
    "trainers": ("dojo_register_trainers", "trainers", "trainer type"),
    "reward_signals": ("dojo_register_reward_signals", "reward signals", "reward signal"),
    "samplers": ("dojo_register_samplers", "samplers", "sampler type"),
    "curricula": ("dojo_register_curricula", "completion criteria", "completion criterion"),
    "behavior_sections": (
        "dojo_register_behavior_sections",
        "behavior sections",
        "behavior section",
    ),
    "stats_writers": ("dojo_register_stats_writers", "stats writers", "stats writer"),
    "environments": ("dojo_register_environments", "environment providers", "environment"),
}

#: Components shipped by dojo's own optional distributions: name -> distribution. An install
#: hint sends users to a package index, so only distributions this project publishes (the
#: folders of :data:`_DISTRIBUTION_FOLDERS`) and only names they register belong here: a name
#: we do not own could be claimed by anyone (tests/core/plugins/test_plugin_host.py checks).
KNOWN_DISTRIBUTIONS: dict[str, dict[str, str]] = {
    "trainers": {"ppo": "dojo-ppo", "sac": "dojo-sac"},
    "reward_signals": {"curiosity": "dojo-rewards", "rnd": "dojo-rewards"},
    "environments": {"unity": "dojo-unity", "remote": "dojo-unity"},
    "behavior_sections": {"behavioral_cloning": "dojo-imitation"},
}
_DISTRIBUTION_FOLDERS = {
    "dojo-ppo": "plugins/ppo",
    "dojo-sac": "plugins/sac",
    "dojo-rewards": "plugins/rewards",
    "dojo-unity": "plugins/unity",
    "dojo-imitation": "plugins/imitation",
}
#: ML-Agents components that dojo does not implement yet: name -> what it is. Their message
#: says so instead of naming a package.
NOT_IMPLEMENTED: dict[str, dict[str, str]] = {
    "trainers": {"poca": "MA-POCA, cooperative multi-agent training"},
    "reward_signals": {"gail": "GAIL, imitation of demonstrations"},
    "behavior_sections": {
        "self_play": "self-play against past versions of the policy",
    },
}


def install_command(distribution: str) -> str:
    """``install it with 'pip install dojo-sac' (or 'pip install ./plugins/sac' from a dojo
    checkout)``: how to install one of dojo's own distributions."""
    folder = _DISTRIBUTION_FOLDERS.get(distribution)
    source = f" (or 'pip install ./{folder}' from a dojo checkout)" if folder else ""
    return f"install it with 'pip install {distribution}'{source}"


def dojo_component_family(name: str) -> str | None:
    """The family of ``name`` when it is a component of dojo's own distributions or one dojo
    does not implement yet (see :data:`KNOWN_DISTRIBUTIONS`, :data:`NOT_IMPLEMENTED`)."""
    for table in (KNOWN_DISTRIBUTIONS, NOT_IMPLEMENTED):
        for family, names in table.items():
            if name in names:
                return family
    return None


@dataclass(frozen=True)
class PluginInfo:
    """A plugin that was registered: its name, module and distribution."""

    name: str
    module: str
    distribution: str
    version: str
    builtin: bool
    hooks: tuple[str, ...]


@dataclass(frozen=True)
class LoadFailure:
    """A plugin entry point that could not be loaded."""

    name: str
    target: str
    distribution: str
    error: str


@dataclass
class PluginHost:
    """Owns the plugin manager and one frozen :class:`Registry` per component family.

    Build one with :func:`load_plugins`; tests can pass ``extra_plugins`` to add in-process
    plugin objects without installing a distribution.
    """

    manager: pluggy.PluginManager
    registries: dict[str, Registry]
    plugins: list[PluginInfo] = field(default_factory=list)
    failures: list[LoadFailure] = field(default_factory=list)

    @property
    def hook(self) -> Any:
        """The pluggy hook relay (``host.hook.dojo_run_started(run=...)``)."""
        return self.manager.hook

    def registry(self, family: str) -> Registry:
        """The registry of ``family`` (one of :data:`FAMILIES`)."""
        return self.registries[family]

    def lookup(self, family: str, name: str, where: str = "") -> ComponentEntry:
        """The entry ``name`` of ``family``, or a :class:`PluginError` that explains what to do.

        The message lists what is installed, suggests a close match, gives the install command
        for a component of dojo's own distributions (or says that dojo does not implement it
        yet), and mentions plugins that failed to load.

        Args:
            family: a key of :data:`FAMILIES`.
            name: the public name asked for.
            where: where the name was written (e.g. ``"config.yaml: behaviors.X.trainer_type"``).
        """
        registry = self.registries[family]
        entry = registry.get(name)
        if entry is not None:
            return entry
        raise PluginError(self.unknown_message(family, name, where))

    def unknown_message(self, family: str, name: str, where: str = "") -> str:
        """The message for an unknown component name (see :meth:`lookup`)."""
        registry = self.registries[family]
        prefix = f"{where}: " if where else ""
        installed = ", ".join(registry.names()) or "none"
        lines = [f"{prefix}unknown {registry.singular} {name!r}. Installed: {installed}."]
        matches = registry.close_matches(name)
        if matches:
            lines.append(f"Did you mean {matches[0]!r}?")
        distribution = KNOWN_DISTRIBUTIONS.get(family, {}).get(name)
        missing_feature = NOT_IMPLEMENTED.get(family, {}).get(name)
        if missing_feature:
            lines.append(
                f"{registry.singular.capitalize()} {name!r} ({missing_feature}) is not "
                "implemented in dojo yet: no dojo package provides it."
            )
        elif distribution:
            lines.append(
                f"{registry.singular.capitalize()} {name!r} is provided by the {distribution} "
                f"plugin: {install_command(distribution)}."
            )
        for failure in self.failures:
            lines.append(
                f"Note: plugin {failure.name!r} ({failure.distribution or failure.target}) "
                f"failed to load: {failure.error}"
            )
        return " ".join(lines)


def _collect_entry_points(failures: list[LoadFailure]) -> list[tuple[str, Any, str, str]]:
    """Load the ``dojo.plugins`` entry points with stevedore.

    Returns ``(name, module, distribution, version)`` for each loaded plugin; failures are
    appended to ``failures``.
    """
    from stevedore import ExtensionManager

    def on_failure(_manager: Any, entry_point: Any, err: BaseException) -> None:
        failures.append(
            LoadFailure(
                name=entry_point.name,
                target=entry_point.value,
                distribution=_distribution_of(entry_point)[0],
                error=f"{type(err).__name__}: {err}",
            )
        )

    manager = ExtensionManager(
        namespace=ENTRY_POINT_GROUP,
        invoke_on_load=False,
        on_load_failure_callback=on_failure,
    )
    loaded = []
    for extension in sorted(manager.extensions, key=lambda ext: ext.name):
        distribution, version = _distribution_of(extension.entry_point)
        loaded.append((extension.name, extension.plugin, distribution, version))
    return loaded


def _distribution_of(entry_point: Any) -> tuple[str, str]:
    """(distribution name, version) that declares ``entry_point``, or empty strings.

    stevedore's cached entry points carry no distribution, so it is looked up in the
    installed distributions' metadata.
    """
    dist = getattr(entry_point, "dist", None)
    if dist is not None:
        return dist.metadata["Name"] or "", dist.version or ""
    return _entry_point_distributions().get((entry_point.name, entry_point.value), ("", ""))


def _entry_point_distributions() -> dict[tuple[str, str], tuple[str, str]]:
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for dist in importlib.metadata.distributions():
        for entry_point in dist.entry_points:
            if entry_point.group == ENTRY_POINT_GROUP:
                found[(entry_point.name, entry_point.value)] = (
                    dist.metadata["Name"] or "",
                    dist.version or "",
                )
    return found


def _distribution_of_object(obj: Any) -> tuple[str, str]:
    """(distribution, version) that ships the module of a plugin passed in-process, if any."""
    module = getattr(obj, "__name__", None) if isinstance(obj, type(importlib)) else None
    if module is None:
        return "", ""
    names = importlib.metadata.packages_distributions().get(module.split(".")[0], [])
    if not names:
        return "", ""
    return names[0], importlib.metadata.version(names[0])


def _hook_names(manager: pluggy.PluginManager, plugin: Any) -> tuple[str, ...]:
    callers = manager.get_hookcallers(plugin) or []
    return tuple(sorted(caller.name for caller in callers))


def _unknown_hooks_message(manager: pluggy.PluginManager) -> str:
    """Which plugin implements which unknown hook, with the hook it probably meant."""
    known = sorted(name for name in dir(hookspecs) if name.startswith("dojo_"))
    problems = []
    for name, caller in sorted(vars(manager.hook).items()):
        if name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            guess = difflib.get_close_matches(name, known, n=1)
            hint = f" Did you mean {guess[0]!r}?" if guess else ""
            problems.append(
                f"plugin {impl.plugin_name!r} implements an unknown hook {name!r}.{hint}"
            )
    return " ".join(problems) + " (The hooks are listed in dojo.hookspecs.)"


def load_plugins(
    extra_plugins: tuple[tuple[str, Any], ...] = (), discover: bool = True
) -> PluginHost:
    """Build the plugin host: register built-ins, discovered plugins and ``extra_plugins``.

    Args:
        extra_plugins: ``(name, plugin object)`` pairs registered after discovery (tests).
        discover: read the ``dojo.plugins`` entry points (off only in tests of the core).

    Returns:
        A :class:`PluginHost` whose registries are filled and frozen.

    Raises:
        PluginError: a plugin implements an unknown hook, or a built-in plugin registered a
            name twice. A third-party plugin that registers a taken name, or whose registration
            hook raises, is recorded in :attr:`PluginHost.failures` instead.
    """
    import dojo

    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    failures: list[LoadFailure] = []
    candidates: list[tuple[str, Any, str, str, bool]] = []
    for module_name in BUILTIN_PLUGINS:
        module = importlib.import_module(module_name)
        short = module_name.rsplit(".", 1)[-1]
        candidates.append((f"builtin.{short}", module, "dojo-core", dojo.__version__, True))
    if discover:
        discovered = _collect_entry_points(failures)
        # dojo's own distributions register before third-party ones (each group in name
        # order), so a third-party plugin that takes one of their names is the one refused.
        discovered.sort(key=lambda found: found[2] not in _DISTRIBUTION_FOLDERS)
        for name, module, distribution, version in discovered:
            candidates.append((name, module, distribution, version, False))
    for name, obj in extra_plugins:
        candidates.append((name, obj, *_distribution_of_object(obj), False))

    plugins: list[PluginInfo] = []
    for name, obj, distribution, version, builtin in candidates:
        try:
            manager.register(obj, name=name)
        except ValueError as err:
            failures.append(LoadFailure(name, repr(obj), distribution, f"{err}"))
            continue
        module = getattr(obj, "__name__", type(obj).__name__)
        plugins.append(
            PluginInfo(name, module, distribution, version, builtin, _hook_names(manager, obj))
        )
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as err:
        raise PluginError(_unknown_hooks_message(manager)) from err

    registries = {
        family: Registry(kind=plural, singular=singular)
        for family, (_hook, plural, singular) in FAMILIES.items()
    }
    by_name = {info.name: info for info in plugins}
    for family, (hook_name, _plural, _singular) in FAMILIES.items():
        registry = registries[family]
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            info = by_name.get(impl.plugin_name)
            distribution = info.distribution if info else ""
            builtin = bool(info and info.builtin)
            # A name taken twice is dojo's own bug when a built-in does it (fatal); from a
            # third-party plugin it is a load failure and the first registration keeps the name.
            registry.set_current_plugin(impl.plugin_name, distribution, duplicates_fatal=builtin)
            try:
                impl.function(registry=registry)
            except PluginError as err:
                if builtin:
                    raise
                failures.append(LoadFailure(impl.plugin_name, hook_name, distribution, f"{err}"))
            except Exception as err:  # a broken plugin must not take the host down silently
                failures.append(
                    LoadFailure(
                        impl.plugin_name,
                        hook_name,
                        distribution,
                        f"{hook_name} raised {type(err).__name__}: {err}",
                    )
                )
        failures.extend(
            LoadFailure(refused.plugin, hook_name, refused.distribution, refused.message)
            for refused in registry.refused
        )
        registry.freeze()
    return PluginHost(manager=manager, registries=registries, plugins=plugins, failures=failures)
