"""SAC's replay buffer (``save_replay_buffer``) is saved with every checkpoint and tagged with its
step; ``--resume`` loads it only when that step is the checkpoint's, and says so otherwise."""

from __future__ import annotations

import importlib.util
import logging
import re
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dojo.api import Trajectory
from dojo.artifacts.training_status import TrainingStatus
from dojo.config.loader import resolve_run_options
from dojo.config.settings import TrainerSettings
from dojo.envs.base import ActionSpec, ActionTuple, BehaviorSpec, ObservationSpec
from dojo.plugin_host import load_plugins
from dojo.training.checkpoints import CheckpointWriter
from dojo.training.replay_buffer import REPLAY_BUFFER_FILE
from dojo_sac.trainer import SACTrainer
from tests.sac.test_interrupt_and_resume import ARGS, pendulum_config
from tests.training_helpers import build_trainer


def _load(name: str) -> Any:
    """A module of tests/e2e by path (that folder is not a package here)."""
    path = Path(__file__).resolve().parents[1] / "e2e" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"dojo_e2e_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


helpers = _load("helpers")
kill_hook = _load("kill_hook")

SPEC = BehaviorSpec((ObservationSpec((3,)),), ActionSpec(continuous_size=1))


def settings() -> TrainerSettings:
    behavior = {
        "trainer_type": "sac",
        "hyperparameters": {"batch_size": 16, "buffer_size": 5000, "save_replay_buffer": True},
        "network_settings": {"hidden_units": 16, "num_layers": 1},
        "time_horizon": 8,
        "keep_checkpoints": 2,
    }
    options = resolve_run_options({"behaviors": {"B": behavior}}, {}, load_plugins(), "test")
    return options.behaviors["B"]


def collect(trainer: SACTrainer, steps: int, seed: int) -> None:
    """``steps`` random transitions (trajectories of 8) into ``trainer``, then an update."""
    rng = np.random.default_rng(seed)
    trajectories = [
        Trajectory(
            obs=[rng.normal(size=(8, 3)).astype(np.float32)],
            next_obs=[rng.normal(size=3).astype(np.float32)],
            actions=ActionTuple(
                rng.uniform(-1, 1, (8, 1)).astype(np.float32), np.zeros((8, 0), np.int64)
            ),
            action_mask=None,
            rewards=rng.normal(size=8).astype(np.float32),
            extras={},
            done=False,
            interrupted=False,
            agent_id=k,
        )
        for k in range(steps // 8)
    ]
    trainer.process_trajectories(trajectories)
    trainer.advance()


def test_each_checkpoint_saves_the_replay_buffer_of_its_step(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    trainer = build_trainer(SACTrainer, SPEC, settings(), run_dir / "B")
    writer = CheckpointWriter(run_dir, TrainingStatus())
    for seed in range(3):
        collect(trainer, 64, seed)
        writer.save(trainer, reward=None)
        buffer = run_dir / "B" / REPLAY_BUFFER_FILE
        with np.load(buffer) as archive:
            assert int(archive["__step__"]) == trainer.step == 64 * (seed + 1)
    assert not list(run_dir.rglob("*.tmp"))

    restored = build_trainer(SACTrainer, SPEC, settings(), run_dir / "B", seed=1)
    restored.load_checkpoint(run_dir / "B" / "checkpoint.pt")
    assert restored.step == 192 and len(restored.replay) == 192
    for name, array in trainer.replay.ordered().items():
        np.testing.assert_array_equal(restored.replay.ordered()[name], array)


@pytest.mark.parametrize("buffer_newer", [False, True])
def test_a_buffer_of_another_step_than_the_checkpoint_is_not_loaded_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, buffer_newer: bool
) -> None:
    """A run killed between the buffer's write and ``checkpoint.pt``'s (either order)."""
    folder = tmp_path / "B"
    trainer = build_trainer(SACTrainer, SPEC, settings(), folder)
    collect(trainer, 64, 0)
    if buffer_newer:
        trainer.save_checkpoint(folder / "checkpoint.pt")
        collect(trainer, 64, 1)
        trainer.save_resume_files(folder)
    else:
        trainer.save_resume_files(folder)
        collect(trainer, 64, 1)
        trainer.save_checkpoint(folder / "checkpoint.pt")

    restored = build_trainer(SACTrainer, SPEC, settings(), folder, seed=1)
    with caplog.at_level(logging.WARNING, logger="dojo"):
        restored.load_checkpoint(folder / "checkpoint.pt")
    assert len(restored.replay) == 0, "a buffer of another step must not be loaded"
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    saved, checkpoint = (128, 64) if buffer_newer else (64, 128)
    assert f"saved at step {saved}, the checkpoint at step {checkpoint}" in warning
    assert "empty replay buffer" in warning


# ---------------------------------------------------------------------- mlagents-learn
def test_resume_after_a_kill_never_loads_an_earlier_runs_buffer(tmp_path: Path) -> None:
    """A run that ended cleanly (buffer of step 400), resumed and killed after two more
    checkpoints, resumed again: the buffer it continues with is the one of its checkpoint."""
    behavior_dir = tmp_path / "results" / "sac" / "Pendulum"
    helpers.write_config(tmp_path / "sac.yaml", pendulum_config(400, checkpoint_interval=200))
    first = helpers.learn(ARGS, tmp_path)
    assert first.returncode == 0, first.describe()

    helpers.write_config(tmp_path / "sac.yaml", pendulum_config(5000, checkpoint_interval=200))
    env = kill_hook.killing_env(tmp_path / "hook", "replace", r"training_status\.json", 2)
    killed = helpers.run_command([helpers.MLAGENTS_LEARN, *ARGS, "--resume"], tmp_path, env=env)
    assert killed.returncode == -signal.SIGKILL, killed.describe()
    step = int(torch.load(behavior_dir / "checkpoint.pt", weights_only=True)["global_step"])
    assert step >= 800

    helpers.write_config(
        tmp_path / "sac.yaml", pendulum_config(step + 200, checkpoint_interval=200)
    )
    resumed = helpers.learn([*ARGS, "--resume"], tmp_path)
    assert resumed.returncode == 0, resumed.describe()
    loaded = re.search(r"Loaded the replay buffer \((\d+) transitions\)", resumed.output)
    assert loaded is not None, resumed.describe()
    assert int(loaded[1]) == step, "the buffer loaded must be the checkpoint's, not an older one"
