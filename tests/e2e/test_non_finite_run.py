"""A run whose environment turns bad (a NaN observation) stops with one error line, and every
checkpoint and model it leaves holds finite weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.core.envs.test_non_finite_data import BAD_ENVS

from .helpers import cartpole_config, learn, write_config


def test_nan_observation_mid_run_stops_with_one_error_and_finite_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dojo_bad_envs.py").write_text(BAD_ENVS)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    config = cartpole_config(checkpoint_interval=200, max_steps=3000)
    config["behaviors"] = {"TurnsBad": config["behaviors"]["CartPole"]}
    config["env_settings"] = {
        "env_path": "gymnasium:dojo_bad_envs:TurnsBad-v0",
        "num_envs": 4,
        # copy 2 turns bad at its 300th step: after several checkpoints (every 200 steps)
        "env_args": ["what=observation", "value=nan", "at=300"],
    }
    write_config(tmp_path / "config.yaml", config)

    completed = learn(
        ["config.yaml", "--run-id=bad", "--results-dir=results", "--seed=3"], tmp_path
    )

    assert completed.returncode == 1, completed.describe()
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in completed.output, completed.describe()
    assert "copy 2 returned a non-finite observation 0" in errors[0]
    checkpoints = sorted((tmp_path / "results" / "bad" / "TurnsBad").glob("*.pt"))
    assert len(checkpoints) >= 3, completed.describe()  # checkpoint.pt and two or more steps
    for checkpoint in checkpoints:
        state = torch.load(checkpoint, weights_only=True)
        for name, tensor in state["Policy"].items():
            assert torch.isfinite(tensor).all(), f"{checkpoint.name}: {name}"
    assert (tmp_path / "results" / "bad" / "TurnsBad.onnx").exists()  # the final save
