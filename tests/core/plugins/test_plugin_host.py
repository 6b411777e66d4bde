"""The plugin host in-process: built-ins, registration order, errors and their messages."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import dojo_ppo.plugin
from dojo import plugin_host
from dojo.errors import PluginError
from dojo.hookspecs import hookimpl
from dojo.plugin_host import (
    BUILTIN_PLUGINS,
    FAMILIES,
    KNOWN_DISTRIBUTIONS,
    LoadFailure,
    PluginHost,
    load_plugins,
)
from dojo.registry import Registry


class TrainerPlugin:
    """Registers one trainer type under ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name

    @hookimpl
    def dojo_register_trainers(self, registry: Registry) -> None:
        registry.register(self.name, factory="dojo_tests:Trainer", description="test trainer")


@pytest.fixture(scope="module")
def host() -> PluginHost:
    """What a user with dojo-core and dojo-ppo has."""
    return load_plugins(discover=False, extra_plugins=(("ppo", dojo_ppo.plugin),))


def test_builtins_and_ppo_are_registered(host: PluginHost) -> None:
    assert host.registry("reward_signals").names() == ["extrinsic"]
    assert host.registry("stats_writers").names() == ["console", "gauges", "tensorboard"]
    # Unity builds, the Editor and remote: come from dojo-unity, not from the core.
    assert host.registry("environments").names() == ["gymnasium"]
    assert host.registry("samplers").names() == [
        "constant",
        "gaussian",
        "multirangeuniform",
        "uniform",
    ]
    assert host.registry("curricula").names() == ["progress", "reward"]
    ppo = host.registry("trainers").get("ppo")
    assert ppo is not None
    assert (ppo.plugin, ppo.distribution) == ("ppo", "dojo-ppo")
    assert ppo.factory == "dojo_ppo.trainer:PPOTrainer"
    builtins = [info for info in host.plugins if info.builtin]
    assert {info.distribution for info in builtins} == {"dojo-core"}
    assert host.failures == []


def test_every_registry_is_frozen(host: PluginHost) -> None:
    assert set(host.registries) == set(FAMILIES)
    for family, registry in host.registries.items():
        assert registry.frozen, family
        with pytest.raises(PluginError, match="registration is closed"):
            registry.register("late", factory="m:Late")


def test_a_name_registered_twice_is_a_load_failure_and_the_first_keeps_it() -> None:
    host = load_plugins(
        extra_plugins=(("alpha", TrainerPlugin("algo")), ("beta", TrainerPlugin("algo"))),
        discover=False,
    )
    assert host.registry("trainers").get("algo").plugin == "alpha"  # type: ignore[union-attr]
    (failure,) = host.failures
    assert (failure.name, failure.target) == ("beta", "dojo_register_trainers")
    assert failure.error == (
        "trainer type 'algo' is registered twice: by plugin 'alpha' and by plugin 'beta'. A name "
        "can be registered only once: uninstall one of the two plugins, or rename one of the "
        "components. The first registration, by plugin 'alpha', keeps the name."
    )
    # ... and it is shown where it matters.
    note = "Note: plugin 'beta' (dojo_register_trainers) failed to load: trainer type 'algo'"
    assert note in host.unknown_message("trainers", "algox")


def test_a_plugin_that_registers_a_name_twice_keeps_the_first_and_its_other_names() -> None:
    class Twice:
        @hookimpl
        def dojo_register_trainers(self, registry: Registry) -> None:
            registry.register("algo", factory="m:First")
            registry.register("algo", factory="m:Second")
            registry.register("other", factory="m:Other")

    host = load_plugins(extra_plugins=(("twice", Twice()),), discover=False)
    assert host.registry("trainers").get("algo").factory == "m:First"  # type: ignore[union-attr]
    assert "other" in host.registry("trainers")
    (failure,) = host.failures
    assert failure.error.startswith("trainer type 'algo' is registered twice by plugin 'twice'.")


def test_a_plugin_cannot_take_a_builtin_name() -> None:
    class Extrinsic:
        @hookimpl
        def dojo_register_reward_signals(self, registry: Registry) -> None:
            registry.register("extrinsic", factory="m:Mine")

    host = load_plugins(extra_plugins=(("mine", Extrinsic()),), discover=False)
    extrinsic = host.registry("reward_signals").get("extrinsic")
    assert extrinsic is not None and extrinsic.plugin == "builtin.reward_signals"
    (failure,) = host.failures
    assert "by plugin 'builtin.reward_signals' (dojo-core) and by plugin 'mine'." in failure.error


def test_a_builtin_that_registers_a_taken_name_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # dojo's own plugins are dojo's responsibility: a clash between them is a bug, not a
    # configuration to live with.
    clash = types.ModuleType("dojo_tests_builtin_clash")

    @hookimpl
    def dojo_register_reward_signals(registry: Registry) -> None:
        registry.register("extrinsic", factory="m:Again")

    clash.dojo_register_reward_signals = dojo_register_reward_signals  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, clash.__name__, clash)
    monkeypatch.setattr(plugin_host, "BUILTIN_PLUGINS", (*BUILTIN_PLUGINS, clash.__name__))
    with pytest.raises(PluginError, match="reward signal 'extrinsic' is registered twice"):
        load_plugins(discover=False)


def test_a_plugin_that_keeps_the_registry_cannot_register_later() -> None:
    kept: list[Registry] = []

    class Hoarder:
        @hookimpl
        def dojo_register_samplers(self, registry: Registry) -> None:
            kept.append(registry)

    host = load_plugins(extra_plugins=(("hoarder", Hoarder()),), discover=False)
    with pytest.raises(PluginError, match="cannot register sampler type 'late'"):
        kept[0].register("late", factory="m:Late")
    assert "late" not in host.registry("samplers")


def test_a_misspelled_hook_is_an_error() -> None:
    class Typo:
        @hookimpl
        def dojo_register_trainer(self, registry: Registry) -> None:  # missing "s"
            raise AssertionError("never called")

    with pytest.raises(PluginError) as raised:
        load_plugins(extra_plugins=(("typo", Typo()),), discover=False)
    assert str(raised.value).startswith(
        "plugin 'typo' implements an unknown hook 'dojo_register_trainer'. "
        "Did you mean 'dojo_register_trainers'?"
    )


def test_a_registration_hook_that_raises_is_recorded_not_fatal() -> None:
    class Broken:
        @hookimpl
        def dojo_register_trainers(self, registry: Registry) -> None:
            raise RuntimeError("no GPU driver")

    host = load_plugins(
        extra_plugins=(("broken", Broken()), ("fine", TrainerPlugin("fine"))), discover=False
    )
    assert host.registry("trainers").names() == ["fine"]
    (failure,) = host.failures
    assert failure.name == "broken"
    assert "dojo_register_trainers raised RuntimeError: no GPU driver" in failure.error
    assert "failed to load" in host.unknown_message("trainers", "algo")


def test_plugins_record_their_hooks_and_components() -> None:
    host = load_plugins(extra_plugins=(("mine", TrainerPlugin("mine")),), discover=False)
    info = next(info for info in host.plugins if info.name == "mine")
    assert info.hooks == ("dojo_register_trainers",)
    assert not info.builtin
    assert host.registry("trainers").get("mine").plugin == "mine"  # type: ignore[union-attr]


# ------------------------------------------------------------------ lookup and its message


def test_lookup_returns_the_entry(host: PluginHost) -> None:
    assert host.lookup("trainers", "ppo").factory == "dojo_ppo.trainer:PPOTrainer"


def test_lookup_lists_installed_names_and_suggests_a_close_match(host: PluginHost) -> None:
    with pytest.raises(PluginError) as raised:
        host.lookup("trainers", "ppo2", where="config.yaml: behaviors.X.trainer_type")
    message = str(raised.value)
    assert message.startswith("config.yaml: behaviors.X.trainer_type: unknown trainer type 'ppo2'")
    assert "Installed: ppo." in message
    assert "Did you mean 'ppo'?" in message
    assert "pip install" not in message


def test_lookup_of_a_known_dojo_component_gives_the_install_command(host: PluginHost) -> None:
    with pytest.raises(PluginError) as raised:
        host.lookup("trainers", "sac")
    message = str(raised.value)
    assert "unknown trainer type 'sac'. Installed: ppo." in message
    assert "provided by the dojo-sac plugin" in message
    assert "pip install dojo-sac" in message
    assert "pip install ./plugins/sac" in message


REPOSITORY = Path(__file__).resolve().parents[3]


def published_distributions() -> set[str]:
    """The distributions this repository builds: the umbrella, the core and plugins/*."""
    projects = [REPOSITORY / "pyproject.toml", REPOSITORY / "core" / "pyproject.toml"]
    projects += sorted(REPOSITORY.glob("plugins/*/pyproject.toml"))
    names = set()
    for project in projects:
        match = re.search(r'^name = "([^"]+)"', project.read_text(encoding="utf-8"), re.M)
        assert match, project
        names.add(match[1])
    return names


@pytest.mark.parametrize(
    ("family", "name", "distribution"),
    [
        ("trainers", "sac", "dojo-sac"),
        ("reward_signals", "curiosity", "dojo-rewards"),
        ("environments", "unity", "dojo-unity"),
        ("environments", "remote", "dojo-unity"),
        ("behavior_sections", "behavioral_cloning", "dojo-imitation"),
    ],
)
def test_every_known_component_names_its_distribution(
    host: PluginHost, family: str, name: str, distribution: str
) -> None:
    assert f"pip install {distribution}" in host.unknown_message(family, name)


def test_install_hints_name_only_our_distributions_and_what_they_provide() -> None:
    # An install hint sends users to a package index: a name we do not publish could be
    # anyone's package, and one that lacks the component would not help.
    installed = load_plugins()  # every distribution of this repository is installed here
    published = published_distributions()
    for family, names in KNOWN_DISTRIBUTIONS.items():
        for name, distribution in names.items():
            assert distribution in published, (family, name, distribution)
            entry = installed.registry(family).get(name)
            assert entry is not None, f"{distribution} does not register {family} {name!r}"
            assert entry.distribution == distribution, (family, name)


@pytest.mark.parametrize(
    ("family", "name", "what"),
    [("trainers", "poca", "MA-POCA"), ("reward_signals", "gail", "GAIL")],
)
def test_components_dojo_does_not_implement_say_so_and_name_no_package(
    host: PluginHost, family: str, name: str, what: str
) -> None:
    with pytest.raises(PluginError) as raised:
        host.lookup(family, name)
    message = str(raised.value)
    assert f"'{name}' ({what}, " in message
    assert "is not implemented in dojo yet" in message
    assert "pip install" not in message
    assert set(re.findall(r"\bdojo-[a-z]+", message)) <= published_distributions()


def test_lookup_mentions_plugins_that_failed_to_load(host: PluginHost) -> None:
    failure = LoadFailure("sac", "dojo_sac.plugin", "dojo-sac", "ImportError: no torch_scatter")
    broken = dataclasses.replace(host, failures=[failure])
    with pytest.raises(PluginError) as raised:
        broken.lookup("trainers", "sac")
    note = "Note: plugin 'sac' (dojo-sac) failed to load: ImportError: no torch_scatter"
    assert note in str(raised.value)


def test_lookup_with_nothing_installed_says_none() -> None:
    host = load_plugins(discover=False)
    assert "unknown trainer type 'ppo'. Installed: none." in host.unknown_message("trainers", "ppo")


def test_registering_never_imports_torch() -> None:
    """Loading every plugin (``--help``, ``dojo plugins``, config checks) stays instant."""
    code = (
        "import sys\n"
        "from dojo.plugin_host import load_plugins\n"
        "host = load_plugins()\n"
        "assert 'ppo' in host.registry('trainers')\n"
        "heavy = ('torch', 'gymnasium', 'tensorboard', 'dojo_ppo.trainer', 'dojo.rewards')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _registered(host: PluginHost) -> dict[str, Any]:
    return {family: registry.names() for family, registry in host.registries.items()}


def test_extra_plugins_come_after_discovered_ones(host: PluginHost) -> None:
    extended = load_plugins(extra_plugins=(("mine", TrainerPlugin("mine")),))
    names = [info.name for info in extended.plugins]
    assert names[-1] == "mine" and "ppo" in names
    assert {"mine", "ppo"} <= set(_registered(extended)["trainers"])
    assert _registered(host)["trainers"] == ["ppo"]  # hosts share no state
