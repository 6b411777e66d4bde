"""A run whose environment turns bad (a NaN or infinite observation or reward) or whose update
diverges (an infinite loss) stops with one error line, and every checkpoint and model it leaves
holds finite weights."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.core.envs.test_non_finite_data import BAD_ENVS

from .helpers import Completed, cartpole_config, learn, write_config

SAC_SETTINGS = {
    "trainer_type": "sac",
    "hyperparameters": {"batch_size": 64, "buffer_size": 5000, "buffer_init_steps": 100},
    "network_settings": {"hidden_units": 32, "num_layers": 1},
    "max_steps": 3000,
    "time_horizon": 32,
    "summary_freq": 500,
    "checkpoint_interval": 200,
    "keep_checkpoints": 20,
}


def train_turning_bad(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any], env_args: list[str]
) -> tuple[Completed, str]:
    """Train behavior ``TurnsBad`` (4 copies; copy 2 turns bad as ``env_args`` say) into
    ``results/bad``; returns the command and its one ``error:`` line."""
    (tmp_path / "dojo_bad_envs.py").write_text(BAD_ENVS)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    )
    config = {
        "behaviors": {"TurnsBad": settings},
        "env_settings": {
            "env_path": "gymnasium:dojo_bad_envs:TurnsBad-v0",
            "num_envs": 4,
            "env_args": env_args,
        },
    }
    write_config(tmp_path / "config.yaml", config)
    completed = learn(
        ["config.yaml", "--run-id=bad", "--results-dir=results", "--seed=3"], tmp_path
    )
    assert completed.returncode == 1, completed.describe()
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in completed.output, completed.describe()
    return completed, errors[0]


def assert_finite(checkpoints: list[Path]) -> None:
    for checkpoint in checkpoints:
        state = torch.load(checkpoint, weights_only=True)
        for name, tensor in state["Policy"].items():
            assert torch.isfinite(tensor).all(), f"{checkpoint.name}: {name}"


@pytest.mark.parametrize(
    ("what", "value", "said"),
    [
        ("observation", "nan", "copy 2 returned a non-finite observation 0"),
        ("reward", "nan", "copy 2 returned a non-finite reward"),
        ("reward", "inf", "copy 2 returned a non-finite reward"),
    ],
)
def test_non_finite_data_mid_run_stops_with_one_error_and_finite_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str, value: str, said: str
) -> None:
    settings = cartpole_config(checkpoint_interval=200, max_steps=3000)["behaviors"]["CartPole"]
    # copy 2 turns bad at its 300th step: after several checkpoints (every 200 steps)
    args = [f"what={what}", f"value={value}", "at=300"]
    completed, error = train_turning_bad(tmp_path, monkeypatch, settings, args)

    assert said in error, completed.describe()
    checkpoints = sorted((tmp_path / "results" / "bad" / "TurnsBad").glob("*.pt"))
    assert len(checkpoints) >= 3, completed.describe()  # checkpoint.pt and two or more steps
    assert_finite(checkpoints)
    assert (tmp_path / "results" / "bad" / "TurnsBad.onnx").exists()  # the final save


@pytest.mark.parametrize("trainer", ["ppo", "ppo-threaded", "sac"])
def test_a_non_finite_loss_stops_the_run_and_keeps_the_good_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trainer: str
) -> None:
    """A reward of 1e30 is finite, but its squared error overflows: the update's loss is
    infinite. The run stops at that update with one error line; the checkpoints written before
    it are kept and nothing after it is saved."""
    config = cartpole_config(checkpoint_interval=200, max_steps=3000, keep_checkpoints=20)
    settings = SAC_SETTINGS if trainer == "sac" else config["behaviors"]["CartPole"]
    settings["threaded"] = trainer == "ppo-threaded"
    args = ["what=reward", "value=1.0e+30", "at=300"]
    completed, error = train_turning_bad(tmp_path, monkeypatch, settings, args)

    assert "TurnsBad: training diverged: 'Losses/" in error, completed.describe()
    assert "was inf after the update at step" in error
    folder = tmp_path / "results" / "bad"
    steps = sorted(int(p.stem.split("-")[1]) for p in (folder / "TurnsBad").glob("TurnsBad-*.pt"))
    # Copy 2's 300th step is about step 1200 of the four copies: checkpoints every 200 steps
    # before it are kept, none after the run stopped.
    assert steps and steps[-1] < 3000, completed.describe()
    assert not (folder / "TurnsBad.onnx").exists()  # no final model from diverged weights
    status = json.loads((folder / "run_logs" / "training_status.json").read_text())
    assert sorted(c["steps"] for c in status["TurnsBad"]["checkpoints"]) == steps
    assert_finite(list((folder / "TurnsBad").glob("*.pt")))
