"""NaN and infinite observations and rewards are refused as they arrive (both vectorization
modes), with one error naming the environment, the copy and the step; and a state holding
non-finite weights is never written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dojo.config.settings import EnvSettings
from dojo.envs.base import ActionTuple
from dojo.envs.context import EnvironmentContext
from dojo.envs.gymnasium_env import make_gymnasium_environment
from dojo.errors import DivergedError, EnvError
from dojo.torch_layer.checkpoint import load_state, save_state

from .conftest import importable_module

# Registered by the module itself, so spawned workers (async mode) know the ids too.
BAD_ENVS = '''
import math

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv


class TurnsBad(CartPoleEnv):
    """CartPole whose copy 2 (seeded with seed + 2) returns a non-finite value at its step
    number ``at`` (counted from construction)."""

    def __init__(self, what="observation", value=math.nan, at=5, **kwargs):
        super().__init__(**kwargs)
        self.what, self.value, self.at, self.count, self.bad = what, value, at, 0, False

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.bad = seed == 5  # make(..., seed=3): copy 2
        return super().reset(seed=seed, options=options)

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        self.count += 1
        if self.bad and self.count == self.at:
            if self.what == "observation":
                obs = np.array(obs, dtype=np.float32)
                obs[1] = self.value
            else:
                reward = self.value
        return obs, reward, False, False, info


gym.register("TurnsBad-v0", entry_point=TurnsBad, max_episode_steps=500)
'''


@pytest.fixture
def bad_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The name of an importable module registering ``TurnsBad-v0``."""
    return importable_module(tmp_path, monkeypatch, "dojo_bad_envs", BAD_ENVS)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    ("what", "value"), [("observation", "nan"), ("observation", "inf"), ("reward", "-inf")]
)
def test_non_finite_data_is_refused_naming_the_copy_and_step(
    bad_module: str, mode: str, what: str, value: str
) -> None:
    settings = EnvSettings(
        vectorization_mode=mode, timeout_wait=60, env_args=[f"what={what}", f"value={value}"]
    )
    env = make_gymnasium_environment(
        EnvironmentContext(f"{bad_module}:TurnsBad-v0", num_envs=4, seed=3, settings=settings)
    )
    try:
        env.reset()
        zeros = ActionTuple(np.zeros((4, 0), np.float32), np.zeros((4, 1), np.int64))
        with pytest.raises(EnvError) as raised:
            for _ in range(10):
                env.set_actions("TurnsBad", zeros)
                env.step()
    finally:
        env.close()
    message = str(raised.value)
    assert "TurnsBad" in message and "copy 2" in message and "at step 5" in message, message
    assert f"returned a non-finite {what}" in message


def test_a_state_with_non_finite_weights_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    good = {"Policy": {"w": torch.ones(3)}, "global_step": 10}
    save_state(path, good)
    diverged = {"Policy": {"w": torch.tensor([1.0, float("nan"), 2.0])}, "global_step": 20}
    with pytest.raises(DivergedError, match=r"Policy\.w holds NaN or infinite values"):
        save_state(path, diverged)
    assert load_state(path)["global_step"] == 10  # the good checkpoint is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]  # no temp file
