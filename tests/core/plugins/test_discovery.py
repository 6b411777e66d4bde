"""Discovery through the ``dojo.plugins`` entry points, seen from the real commands."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from .helpers import CARTPOLE_BEHAVIOR, run_command, write_config, write_plugin_distribution

HELLO_PLUGIN = """
    from dojo.hookspecs import hookimpl

    @hookimpl
    def dojo_register_trainers(registry):
        registry.register("hello", factory="dojo_hello:HelloTrainer", description="Says hello.")

    @hookimpl
    def dojo_register_reward_signals(registry):
        registry.register("wave", factory="dojo_hello:Wave", description="Waves.")
"""

BROKEN_PLUGIN = """
    import dojo_poca_native_extension  # not installed: the plugin cannot load
"""


def plugin_block(listing: str, name: str) -> list[str]:
    """The lines ``dojo plugins`` prints for plugin ``name``."""
    lines = listing.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {name}  "))
    end = next(
        (i for i in range(start + 1, len(lines)) if not lines[i].startswith("    ")), len(lines)
    )
    return lines[start:end]


def test_dojo_plugins_lists_ppo_with_its_distribution(tmp_path: Path) -> None:
    result = run_command("dojo", "plugins", site=None, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    version = importlib.metadata.version("dojo-ppo")
    assert plugin_block(result.stdout, "ppo") == [
        f"  ppo  (dojo-ppo {version})  module dojo_ppo.plugin",
        "    trainers: ppo",
        "    hooks: dojo_register_trainers",
    ]
    assert "  builtin.environments  (dojo-core" in result.stdout
    assert result.stdout.rstrip().endswith("Load failures:\n  none")


def test_an_installed_distribution_is_discovered(tmp_path: Path) -> None:
    site = write_plugin_distribution(tmp_path / "site", "dojo-hello", HELLO_PLUGIN, version="2.5")
    result = run_command("dojo", "plugins", site=site, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert plugin_block(result.stdout, "hello") == [
        "  hello  (dojo-hello 2.5)  module dojo_hello",
        "    trainers: hello",
        "    reward signals: wave",
        "    hooks: dojo_register_reward_signals, dojo_register_trainers",
    ]
    # ... and its components are usable names: a trainer_type of "hello" passes the check of
    # trainer_type (the factory is only imported when training starts).
    config = write_config(tmp_path / "c.yaml", {"trainer_type": "hello"})
    check = run_command("dojo", "config", "check", config, site=site, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "trainer_type: hello" in check.stdout


def test_a_plugin_that_fails_to_import_is_listed_with_its_error(tmp_path: Path) -> None:
    site = write_plugin_distribution(
        tmp_path / "site", "dojo-poca", BROKEN_PLUGIN, module="dojo_poca"
    )
    result = run_command("dojo", "plugins", site=site, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    failures = result.stdout.split("Load failures:\n", 1)[1]
    assert failures.strip() == (
        "poca  (dojo-poca): ModuleNotFoundError: No module named 'dojo_poca_native_extension'"
    )
    assert "  ppo  (dojo-ppo" in result.stdout  # the others still load


def test_the_load_failure_is_shown_next_to_the_unknown_trainer_error(tmp_path: Path) -> None:
    site = write_plugin_distribution(
        tmp_path / "site", "dojo-poca", BROKEN_PLUGIN, module="dojo_poca"
    )
    config = write_config(tmp_path / "poca.yaml", {**CARTPOLE_BEHAVIOR, "trainer_type": "poca"})
    note = (
        "Note: plugin 'poca' (dojo-poca) failed to load: ModuleNotFoundError: "
        "No module named 'dojo_poca_native_extension'"
    )
    check = run_command("dojo", "config", "check", config, site=site, cwd=tmp_path)
    assert check.returncode == 1
    assert "behaviors.CartPole.trainer_type: unknown trainer type 'poca'" in check.stderr
    assert note in check.stderr
    learn = run_command(
        "mlagents-learn", config, "--env", "gymnasium:CartPole-v1", site=site, cwd=tmp_path
    )
    assert learn.returncode == 1
    assert "unknown trainer type 'poca'" in learn.stderr and note in learn.stderr
    assert "Traceback" not in learn.stderr
    assert not (tmp_path / "results").exists()
