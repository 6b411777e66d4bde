"""The plugin guide's one-file reward signal, installed with pip, used by name from YAML."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.core.plugins.helpers import CARTPOLE_BEHAVIOR, run_command, write_config

DOCS = Path(__file__).parents[2] / "docs" / "writing-plugins.md"


def documented_plugin() -> tuple[str, str]:
    """The ``pyproject.toml`` and ``dojo_alive.py`` blocks of the plugin guide's section 0."""
    text = DOCS.read_text()
    section = text[text.index("## 0. The smallest complete plugin") : text.index("## 1. ")]
    pyproject = section.split("```toml\n", 1)[1].split("```", 1)[0]
    module = section.split("```python\n", 1)[1].split("```", 1)[0]
    return pyproject, module


def install(tmp_path: Path) -> Path:
    """``pip install`` the distribution into a folder of its own; returns that folder."""
    source = tmp_path / "dojo-alive"
    source.mkdir()
    pyproject, module = documented_plugin()
    (source / "pyproject.toml").write_text(pyproject)
    (source / "dojo_alive.py").write_text(module)
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(source)],
        check=True,
    )  # fmt: skip
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
