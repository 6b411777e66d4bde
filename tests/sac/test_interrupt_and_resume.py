"""``mlagents-learn`` with SAC: Ctrl+C saves the replay buffer, ``--resume`` reloads it and keeps
counting steps."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

_HELPERS = Path(__file__).resolve().parents[1] / "e2e" / "helpers.py"
_spec = importlib.util.spec_from_file_location("dojo_e2e_helpers", _HELPERS)
assert _spec is not None and _spec.loader is not None
helpers = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = helpers
_spec.loader.exec_module(helpers)

ARGS = ["sac.yaml", "--run-id=sac", "--seed=0", "--results-dir=results"]


def pendulum_config(max_steps: int, checkpoint_interval: int = 100_000) -> dict[str, Any]:
    """SAC on Pendulum with ``save_replay_buffer``, small enough for a test."""
    return {
        "behaviors": {
            "Pendulum": {
                "trainer_type": "sac",
                "hyperparameters": {
                    "batch_size": 32,
                    "buffer_size": 5000,
                    "buffer_init_steps": 50,
                    "save_replay_buffer": True,
                },
                "network_settings": {"hidden_units": 16, "num_layers": 1},
                "max_steps": max_steps,
                "time_horizon": 10,
                "summary_freq": 200,
                "checkpoint_interval": checkpoint_interval,
            }
        },
        "env_settings": {"env_path": "gymnasium:Pendulum-v1", "num_envs": 2},
    }


def replay(path: Path) -> dict[str, np.ndarray]:
    """The saved transitions (without ``__step__``, the step they were saved at)."""
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files if name != "__step__"}


def test_ctrl_c_saves_the_replay_buffer_and_resume_continues_with_it(tmp_path: Path) -> None:
    helpers.write_config(tmp_path / "sac.yaml", pendulum_config(max_steps=1_000_000))
    process = helpers.LearnProcess(ARGS, tmp_path)
    try:
        process.wait_for_step_line()
        process.interrupt()
        first = process.wait()
    finally:
        process.kill()
    assert first.returncode == 0, first.describe()
    behavior_dir = tmp_path / "results" / "sac" / "Pendulum"
    saved_step = int(torch.load(behavior_dir / "checkpoint.pt", weights_only=True)["global_step"])
    saved = replay(behavior_dir / "last_replay_buffer.npz")
    # Every collected transition is in the buffer: one per counted step.
    assert len(saved["rewards"]) == saved_step >= 200
    assert not list(behavior_dir.glob(".*.tmp"))

    # Resume for 400 more steps.
    helpers.write_config(tmp_path / "sac.yaml", pendulum_config(max_steps=saved_step + 400))
    second = helpers.learn([*ARGS, "--resume"], tmp_path)
    assert second.returncode == 0, second.describe()
    assert "Loaded the replay buffer" in second.output
    assert min(second.steps()) > saved_step, "the step count continues, it does not restart"
    final_step = int(torch.load(behavior_dir / "checkpoint.pt", weights_only=True)["global_step"])
    assert final_step >= saved_step + 400
    resumed = replay(behavior_dir / "last_replay_buffer.npz")
    # The resumed run started from the saved transitions and appended its own after them.
    assert len(resumed["rewards"]) == final_step
    for name, array in saved.items():
        np.testing.assert_array_equal(resumed[name][: len(array)], array)
    status = json.loads(
        (tmp_path / "results" / "sac" / "run_logs" / "training_status.json").read_text()
    )
    assert status["Pendulum"]["final_checkpoint"]["steps"] == final_step
