"""``--deterministic``: a saved policy run under ``--inference`` takes its most likely action at
every step, so on a deterministic environment every episode is the same one."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import numpy as np
import onnxruntime
import torch

from .helpers import learn, learn_until_first_step, read_scalars, write_config

BEHAVIOR = "FrozenLake"
# FrozenLake without slipping: the start square and every move are fixed, so a policy that
# always takes the same action in the same square always plays the same episode.
CONFIG = {
    "behaviors": {
        BEHAVIOR: {
            "trainer_type": "ppo",
            "hyperparameters": {
                "batch_size": 64,
                "buffer_size": 256,
                "num_epoch": 3,
                "learning_rate": 0.003,
            },
            "network_settings": {"hidden_units": 16, "num_layers": 1},
            "max_steps": 3000,
            "time_horizon": 32,
            "summary_freq": 500,
        }
    },
    "env_settings": {
        "env_path": "gymnasium:FrozenLake-v1",
        "env_args": ["is_slippery=false"],
        "num_envs": 2,
    },
}


def _mode_episode_length(model: Path) -> int:
    """Length of the episode the exported model plays when it always takes its argmax action
    (``deterministic_discrete_actions``)."""
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    env = gymnasium.make("FrozenLake-v1", is_slippery=False)
    square, _ = env.reset(seed=0)
    for length in range(1, 1000):
        one_hot = np.zeros((1, 16), np.float32)
        one_hot[0, square] = 1.0
        feed = {"obs_0": one_hot, "action_masks": np.ones((1, 4), np.float32)}
        outputs = dict(zip(names, session.run(None, feed), strict=True))
        action = int(outputs["deterministic_discrete_actions"][0, 0])
        square, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.close()
            return length
    raise AssertionError("the episode never ended")


def _inference_lengths(cwd: Path, seed: int, *flags: str) -> list[float]:
    """Mean episode length of each summary of an ``--inference`` run of the saved policy."""
    behavior_dir = cwd / "results" / "lake" / BEHAVIOR
    saved_step = int(torch.load(behavior_dir / "checkpoint.pt", weights_only=True)["global_step"])
    completed = learn_until_first_step(
        ["lake.yaml", "--run-id=lake", "--resume", "--inference", f"--seed={seed}", *flags],
        cwd,
    )
    assert completed.returncode == 0, completed.describe()
    points = read_scalars(behavior_dir)["Environment/Episode Length"]
    lengths = [value for step, value in points if step > saved_step]
    # Leave the folder as it was for the next inference run.
    for events in sorted(behavior_dir.glob("events.out.tfevents.*"))[1:]:
        events.unlink()
    return lengths


def test_deterministic_inference_plays_the_most_likely_actions(tmp_path: Path) -> None:
    write_config(tmp_path / "lake.yaml", CONFIG)
    completed = learn(["lake.yaml", "--run-id=lake", "--seed=0", "--results-dir=results"], tmp_path)
    assert completed.returncode == 0, completed.describe()
    expected = _mode_episode_length(tmp_path / "results" / "lake" / f"{BEHAVIOR}.onnx")

    # Two runs with different seeds: the same episode, over and over, in both.
    for seed in (1, 2):
        lengths = _inference_lengths(tmp_path, seed, "--deterministic")
        assert lengths and all(length == expected for length in lengths), (expected, lengths)

    # Sampling (no --deterministic) plays other episodes.
    sampled = _inference_lengths(tmp_path, 1)
    assert sampled and any(length != expected for length in sampled), (expected, sampled)
