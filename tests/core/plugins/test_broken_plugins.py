"""Third-party plugins that are broken or clash, installed with pip as a user installs them.

``dojo plugins --check`` imports every registered factory and schema and names each broken one
with its plugin and distribution; a name registered twice is a load failure that ``dojo
plugins`` lists, not an error that stops every command.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import CARTPOLE_BEHAVIOR, pip_install, run_command, write_config, write_package
from .test_discovery import plugin_block


def pyproject(name: str, entry_point: str, module: str) -> str:
    return f"""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name}"
        version = "1.0"

        [project.entry-points."dojo.plugins"]
        {entry_point} = "{module}"
    """


#: Registers one sound component and four broken ones (see the expected lines below).
CLUMSY = """
    from dojo.api import StrictSchema, hookimpl

    NOT_A_FACTORY = 42
    NOT_A_SCHEMA = {"bonus": 1.0}


    class Settings(StrictSchema):
        pass


    class Signal:
        pass


    @hookimpl
    def dojo_register_trainers(registry):
        registry.register("clumsy", factory="dojo_clumsy_trainer:ClumsyTrainer")


    @hookimpl
    def dojo_register_reward_signals(registry):
        registry.register("sloppy", factory="dojo_clumsy:Sginal", schema="dojo_clumsy:NOT_A_SCHEMA")
        registry.register("tidy", factory="dojo_clumsy:Signal", schema="dojo_clumsy:Settings")


    @hookimpl
    def dojo_register_samplers(registry):
        registry.register("stiff", factory="dojo_clumsy:NOT_A_FACTORY")
"""

#: Takes dojo-ppo's ``ppo`` and registers its own ``greedy`` twice. Its entry point sorts
#: before ``ppo``: dojo's own distributions still register first.
GREEDY = """
    from dojo.api import hookimpl


    class Greedy:
        pass


    Greedier = Greedy


    @hookimpl
    def dojo_register_trainers(registry):
        registry.register("ppo", factory="dojo_greedy:PPO", description="A greedier PPO.")
        registry.register("greedy", factory="dojo_greedy:Greedy", description="Greedy.")
        registry.register("greedy", factory="dojo_greedy:Greedier", description="Greedy again.")
        registry.register("greedier", factory="dojo_greedy:Greedier", description="Greedier.")
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dojo-clumsy and dojo-greedy, pip-installed (one call) into a folder of their own."""
    folder = tmp_path_factory.mktemp("broken-plugins")
    clumsy = write_package(
        folder / "dojo-clumsy",
        {"pyproject.toml": pyproject("dojo-clumsy", "clumsy", "dojo_clumsy"),
         "dojo_clumsy.py": CLUMSY},
    )  # fmt: skip
    greedy = write_package(
        folder / "dojo-greedy",
        {"pyproject.toml": pyproject("dojo-greedy", "greedy", "dojo_greedy"),
         "dojo_greedy.py": GREEDY},
    )  # fmt: skip
    return pip_install(folder / "site", clumsy, greedy)


TAKEN_PPO = (
    "  greedy  (dojo-greedy): trainer type 'ppo' is registered twice: by plugin 'ppo' (dojo-ppo) "
    "and by plugin 'greedy' (dojo-greedy). A name can be registered only once: uninstall one of "
    "the two plugins, or rename one of the components. The first registration, by plugin 'ppo', "
    "keeps the name."
)
TAKEN_TWICE = (
    "  greedy  (dojo-greedy): trainer type 'greedy' is registered twice by plugin 'greedy' "
    "(dojo-greedy). A name can be registered only once: remove the second registration. The "
    "first registration, by plugin 'greedy', keeps the name."
)


def test_check_names_every_broken_component_with_its_plugin(site: Path, tmp_path: Path) -> None:
    result = run_command("dojo", "plugins", "--check", site=site, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    origin = "plugin 'clumsy' (dojo-clumsy 1.0)"
    lines = result.stdout.splitlines()
    assert lines[0] == "Broken components:"
    assert (
        f"  trainers 'clumsy', {origin}: factory 'dojo_clumsy_trainer:ClumsyTrainer': cannot "
        "import 'dojo_clumsy_trainer' (needed for 'dojo_clumsy_trainer:ClumsyTrainer'): No "
        "module named 'dojo_clumsy_trainer'"
    ) in lines
    assert (
        f"  reward_signals 'sloppy', {origin}: factory 'dojo_clumsy:Sginal': 'dojo_clumsy' has "
        "no attribute 'Sginal'"
    ) in lines
    assert (
        f"  reward_signals 'sloppy', {origin}: schema 'dojo_clumsy:NOT_A_SCHEMA': not a "
        "marshmallow Schema class (it is dict {'bonus': 1.0})"
    ) in lines
    assert (
        f"  samplers 'stiff', {origin}: factory 'dojo_clumsy:NOT_A_FACTORY': not callable (it "
        "is int)"
    ) in lines
    assert "'tidy'" not in result.stdout  # the sound one
    # ... the plugins that failed to load come with them, and the summary counts both.
    failures = lines[lines.index("Load failures:") + 1 : -1]
    assert failures == [TAKEN_PPO, TAKEN_TWICE]
    assert lines[-1].endswith(" components broken, 2 load failures.")
    assert lines[-1].startswith("3 of ")


def test_check_passes_when_every_component_imports(tmp_path: Path) -> None:
    result = run_command("dojo", "plugins", "--check", site=None, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("All ")
    assert " components import (every factory and schema of " in result.stdout


def test_a_name_taken_twice_is_a_load_failure_and_the_first_keeps_it(
    site: Path, tmp_path: Path
) -> None:
    listing = run_command("dojo", "plugins", site=site, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert plugin_block(listing.stdout, "greedy")[1] == "    trainers: greedier, greedy"
    assert "    trainers: ppo" in plugin_block(listing.stdout, "ppo")
    failures = listing.stdout.split("Load failures:\n", 1)[1].splitlines()
    assert failures == [TAKEN_PPO, TAKEN_TWICE]
    # Every other command works, and 'ppo' is dojo-ppo's.
    help_text = run_command("mlagents-learn", "--help", site=site, cwd=tmp_path)
    assert help_text.returncode == 0, help_text.stderr
    config = write_config(tmp_path / "c.yaml", CARTPOLE_BEHAVIOR)
    check = run_command("dojo", "config", "check", config, site=site, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    explain = run_command("dojo", "config", "explain", "ppo", site=site, cwd=tmp_path)
    assert explain.stdout.startswith("ppo: trainer type (plugin ppo, distribution dojo-ppo)")
