"""Registry: public names bound to lazy factories, duplicates refused, frozen after start-up."""

from __future__ import annotations

import pytest

from dojo.errors import PluginError
from dojo.registry import Registry, import_target


def trainers(*names: str) -> Registry:
    registry = Registry("trainers", "trainer type")
    registry.set_current_plugin("tests", "dojo-tests")
    for name in names:
        registry.register(name, factory=f"dojo_tests:{name.upper()}", description=name)
    return registry


def test_entry_records_what_and_who() -> None:
    registry = trainers("ppo")
    entry = registry.get("ppo")
    assert entry is not None
    assert (entry.name, entry.factory, entry.plugin, entry.distribution) == (
        "ppo",
        "dojo_tests:PPO",
        "tests",
        "dojo-tests",
    )
    assert "ppo" in registry and "sac" not in registry
    assert registry.get("sac") is None


def test_extras_are_kept_on_the_entry() -> None:
    registry = Registry("trainers", "trainer type")
    registry.register("ppo", factory="m:PPO", on_policy=True)
    assert registry.get("ppo").extras == {"on_policy": True}  # type: ignore[union-attr]


def test_names_are_sorted() -> None:
    registry = trainers("sac", "poca", "ppo")
    assert registry.names() == ["poca", "ppo", "sac"]
    assert [entry.name for entry in registry.entries()] == ["poca", "ppo", "sac"]
    assert len(registry) == 3


def test_registering_a_name_twice_names_both_plugins() -> None:
    registry = Registry("trainers", "trainer type")
    registry.set_current_plugin("first", "dojo-first")
    registry.register("ppo", factory="a:PPO")
    registry.set_current_plugin("second", "dojo-second")
    with pytest.raises(PluginError, match="'ppo' is registered twice") as raised:
        registry.register("ppo", factory="b:PPO")
    assert "by plugin 'first' (dojo-first) and by plugin 'second' (dojo-second)" in str(
        raised.value
    )
    assert registry.get("ppo").factory == "a:PPO"  # type: ignore[union-attr]


def test_a_refused_duplicate_is_recorded_when_duplicates_are_not_fatal() -> None:
    registry = Registry("trainers", "trainer type")
    registry.set_current_plugin("first", "dojo-first", duplicates_fatal=False)
    registry.register("ppo", factory="a:PPO")
    registry.set_current_plugin("second", "dojo-second", duplicates_fatal=False)
    registry.register("ppo", factory="b:PPO")
    registry.register("sac", factory="b:SAC")
    assert registry.get("ppo").factory == "a:PPO"  # type: ignore[union-attr]
    assert registry.names() == ["ppo", "sac"]
    (refused,) = registry.refused
    assert (refused.name, refused.plugin, refused.distribution) == ("ppo", "second", "dojo-second")
    assert refused.kept.plugin == "first"
    assert refused.message.endswith("The first registration, by plugin 'first', keeps the name.")


def test_frozen_registry_refuses_registration() -> None:
    registry = trainers("ppo")
    registry.freeze()
    assert registry.frozen
    with pytest.raises(PluginError) as raised:
        registry.register("sac", factory="m:SAC")
    assert str(raised.value) == (
        "cannot register trainer type 'sac': registration is closed (register trainers from "
        "the plugin's registration hook, which runs once at start-up)"
    )
    assert registry.names() == ["ppo"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ppo2", ["ppo"]),
        ("PPO", []),  # names are case-sensitive, and too short to match once lower-cased
        ("poka", ["poca"]),
        ("sack", ["sac"]),
        ("dqn", []),
    ],
)
def test_close_matches(typed: str, expected: list[str]) -> None:
    assert trainers("ppo", "poca", "sac").close_matches(typed)[:1] == expected


def test_close_matches_best_first_and_at_most_three() -> None:
    registry = trainers("curiosity", "curiosity2", "curiosity3", "curiosity4", "gail")
    matches = registry.close_matches("curiosty")
    assert matches[0] == "curiosity"
    assert len(matches) == 3


def test_import_target_resolves_lazily_and_explains_bad_targets() -> None:
    assert import_target("dojo.errors:PluginError") is PluginError
    assert import_target(PluginError) is PluginError
    with pytest.raises(PluginError, match="expected 'module:attribute'"):
        import_target("dojo.errors.PluginError")
    with pytest.raises(PluginError, match="cannot import 'dojo_nowhere'"):
        import_target("dojo_nowhere:Trainer")
    with pytest.raises(PluginError, match=r"'dojo\.errors' has no attribute 'Nothing'"):
        import_target("dojo.errors:Nothing")
