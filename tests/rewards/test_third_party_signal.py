"""The plugin guide's one-file reward signal, installed with pip, used by name from YAML."""

from __future__ import annotations

from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.core.plugins.helpers import (
    CARTPOLE_BEHAVIOR,
    pip_install,
    run_command,
    write_config,
    write_package,
)
from tests.docs.doc_examples import read_guide

DOCS = Path(__file__).parents[2] / "docs" / "writing-plugins.md"


def install(tmp_path: Path) -> Path:
    """``pip install`` the guide's ``dojo-alive`` into a folder of its own; returns the folder."""
    (package,) = [p for p in read_guide(DOCS).packages if p.name == "dojo-alive"]
    source = write_package(tmp_path / package.name, package.files)
    site = pip_install(tmp_path / "site", source)
    assert (site / "dojo_alive.py").exists()
    return site


def test_trains_with_a_pip_installed_signal_and_reports_its_errors(tmp_path: Path) -> None:
    site = install(tmp_path)
    signals = {"extrinsic": {}, "alive": {"strength": 2.0, "bonus": 0.25}}
    config = write_config(tmp_path / "c.yaml", {**CARTPOLE_BEHAVIOR, "reward_signals": signals})
    run = run_command(
        "mlagents-learn", config, "--env=gymnasium:CartPole-v1", "--num-envs=4", "--run-id=a",
        site=site, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    events = EventAccumulator(str(tmp_path / "results" / "a" / "CartPole"))
    events.Reload()
    alive = [e.value for e in events.Scalars("Policy/Alive Reward")]
    lengths = [e.value for e in events.Scalars("Environment/Episode Length")]
    # strength x bonus per step: the reward per episode is half the episode length.
    assert alive == [0.5 * n for n in lengths]

    signals["alive"] = {"bonnus": 1.0}
    bad = write_config(tmp_path / "bad.yaml", {**CARTPOLE_BEHAVIOR, "reward_signals": signals})
    check = run_command("dojo", "config", "check", bad, site=site, cwd=tmp_path)
    assert check.returncode == 1
    assert "behaviors.CartPole.reward_signals.alive.bonnus" in check.stderr
    assert "Traceback" not in check.stderr
