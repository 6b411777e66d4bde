"""``threaded: true`` on PPO's fused path: the update runs in a child process on shared
parameters, with the same result as in the trainer's own process."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from dojo.config.loader import resolve_run_options
from dojo.config.settings import TrainerSettings
from dojo.errors import DojoError
from tests.ppo.test_trainer import HOST, cartpole_spec, make_trainer, ppo_settings
from tests.training_helpers import play


def threaded_settings() -> TrainerSettings:
    behavior = {
        "trainer_type": "ppo",
        "threaded": True,
        "hyperparameters": {"batch_size": 128, "buffer_size": 256, "num_epoch": 4},
        "network_settings": {"hidden_units": 32, "num_layers": 2},
        "time_horizon": 32,
        "max_steps": 20000,
    }
    return resolve_run_options({"behaviors": {"B": behavior}}, {}, HOST, "test").behaviors["B"]


def wait_until_ready(trainer) -> None:
    deadline = time.monotonic() + 120
    while not trainer._update_process.ready():
        assert time.monotonic() < deadline, "the update process did not start"
        time.sleep(0.05)


def test_the_update_process_trains_like_the_trainer_itself(tmp_path: Path) -> None:
    plain = make_trainer(cartpole_spec(), ppo_settings(), tmp_path / "plain")
    threaded = make_trainer(cartpole_spec(), threaded_settings(), tmp_path / "threaded")
    try:
        assert plain._update_process is None and threaded._update_process is not None
        wait_until_ready(threaded)
        before = [p.detach().clone() for p in threaded.parameters]
        for trainer in (plain, threaded):
            play(trainer, "CartPole-v1", steps=100)  # 400 agent steps: one update
        # The child moved the parent's parameters (shared memory) as the plain trainer did.
        assert any(not torch.equal(a, b) for a, b in zip(before, threaded.parameters, strict=True))
        for mine, theirs in zip(threaded.parameters, plain.parameters, strict=True):
            torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)
        assert threaded.optimizer.steps == plain.optimizer.steps == 8  # 4 epochs x 2 batches
    finally:
        threaded.close()
    assert not threaded._update_process._process.is_alive()


def test_a_dead_update_process_is_reported(tmp_path: Path) -> None:
    trainer = make_trainer(cartpole_spec(), threaded_settings(), tmp_path)
    try:
        wait_until_ready(trainer)
        trainer._update_process._process.kill()
        with pytest.raises(DojoError, match="update process of 'B' ended unexpectedly"):
            play(trainer, "CartPole-v1", steps=100)
    finally:
        trainer.close()
