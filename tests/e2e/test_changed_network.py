"""``--initialize-from`` and ``--resume`` after the network settings changed: as ML-Agents, the
checkpoint is loaded non-strictly (what fits is loaded, the rest starts fresh) with one warning
that names the parts that did not fit, and training goes on; no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from .conftest import FinishedRun, copy_run
from .helpers import CARTPOLE, Completed, cartpole_config, learn, write_config

WIDE = 64
NARROW = 32
WARNING = "[WARNING] Checkpoint "


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    """A few hundred steps with ``hidden_units: 64``. Read-only."""
    cwd = tmp_path_factory.mktemp("wide")
    config = write_config(
        cwd / "wide.yaml",
        cartpole_config(max_steps=500, network_settings={"hidden_units": WIDE, "num_layers": 2}),
    )
    completed = learn([config.name, "--run-id=wide", "--seed=0", "--results-dir=results"], cwd)
    assert completed.returncode == 0, completed.describe()
    return FinishedRun(cwd, "wide", config, completed)


def _narrow_config(path: Path, max_steps: int) -> Path:
    config = cartpole_config(
        max_steps=max_steps, network_settings={"hidden_units": NARROW, "num_layers": 2}
    )
    return write_config(path, config)


def _warning(completed: Completed) -> str:
    """The one warning about the checkpoint, with its indented lines."""
    lines = completed.stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(WARNING)]
    assert len(starts) == 1, completed.describe()
    block = [lines[starts[0]]]
    block += [line for line in lines[starts[0] + 1 :] if line.startswith("  ")][:10]
    return "\n".join(block)


def _state(checkpoint: Path) -> dict:
    return torch.load(checkpoint, map_location="cpu", weights_only=True)


def _policy(checkpoint: Path) -> dict[str, torch.Tensor]:
    return _state(checkpoint)["Policy"]


def test_initialize_from_a_wider_network_warns_once_and_trains(
    wide_run: FinishedRun, tmp_path: Path
) -> None:
    run = copy_run(wide_run, tmp_path)
    _narrow_config(tmp_path / "narrow.yaml", max_steps=500)

    completed = learn(["narrow.yaml", "--run-id=narrow", "--initialize-from=wide"], tmp_path)

    assert completed.returncode == 0, completed.describe()
    assert "Traceback" not in completed.output
    warning = _warning(completed)
    assert "wide/CartPole/checkpoint.pt does not fully fit the networks of CartPole" in warning
    resized = "body.layers.0.weight [32, 4] (checkpoint [64, 4])"
    assert f"Policy: sizes differ, initialised anew: {resized}" in warning
    assert f"Optimizer:critic: sizes differ, initialised anew: {resized}" in warning
    assert completed.steps() == [500], "trained from step 0"
    policy = _policy(run.results / "narrow" / CARTPOLE / "checkpoint.pt")
    assert policy["body.layers.0.weight"].shape == (NARROW, 4)


def test_resume_with_a_changed_network_warns_and_continues(
    wide_run: FinishedRun, tmp_path: Path
) -> None:
    run = copy_run(wide_run, tmp_path)
    saved_step = int(_state(run.behavior_dir / "checkpoint.pt")["global_step"])
    _narrow_config(tmp_path / "narrow.yaml", max_steps=1000)

    completed = learn(["narrow.yaml", "--run-id=wide", "--resume"], tmp_path)

    assert completed.returncode == 0, completed.describe()
    assert "Traceback" not in completed.output
    warning = _warning(completed)
    assert "Policy: sizes differ, initialised anew: body.layers.0.weight" in warning
    assert "Optimizer:value_optimizer: starts fresh" in warning
    assert f"Resuming CartPole from step {saved_step}." in completed.stdout
    assert completed.steps() == [1000]
    state = _state(run.behavior_dir / "checkpoint.pt")
    assert int(state["global_step"]) >= 1000
    assert state["Policy"]["body.layers.0.weight"].shape == (NARROW, 4)
