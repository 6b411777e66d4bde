"""dojo's own example environments (``dojo/CartPoleNoVel-v0``, ``dojo/PixelGrid-v0``,
``dojo/HybridTarget-v0``) through the ``gymnasium`` provider, and a short PPO run on the hybrid
action task."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml

from dojo.config.settings import EnvSettings
from dojo.envs.base import ActionSpec, ActionTuple
from dojo.envs.context import EnvironmentContext
from dojo.envs.example_envs import HybridTargetEnv, PixelGridEnv
from dojo.envs.gymnasium_env import make_gymnasium_environment
from dojo.envs.wrappers import HideVelocities

ROOT = Path(__file__).resolve().parents[3]


def make(target: str, num_envs: int = 2, seed: int = 0, env_args: list[str] | None = None):
    return make_gymnasium_environment(
        EnvironmentContext(
            target, num_envs=num_envs, seed=seed, settings=EnvSettings(env_args=env_args)
        )
    )


def test_cartpole_without_velocities_sees_position_and_angle_only():
    env = make("dojo/CartPoleNoVel-v0", num_envs=2, seed=4)
    spec = env.behavior_specs["CartPoleNoVel"]
    assert spec.observation_specs[0].shape == (2,)
    assert spec.action_spec == ActionSpec(discrete_branches=(2,))
    reference = gym.make("CartPole-v1")
    full, _ = reference.reset(seed=4)
    env.reset()
    for _ in range(5):
        np.testing.assert_array_equal(env.get_steps("CartPoleNoVel")[0].obs[0][0], full[[0, 2]])
        env.set_actions("CartPoleNoVel", ActionTuple(np.zeros((2, 0)), np.ones((2, 1), np.int64)))
        env.step()
        full = reference.step(1)[0]
    env.close()
    assert gym.spec("dojo/CartPoleNoVel-v0").max_episode_steps == 500


def test_hide_velocities_needs_a_vector_observation():
    with pytest.raises(ValueError, match="rank-1 Box"):
        HideVelocities(PixelGridEnv())


@pytest.mark.parametrize(("cell_pixels", "side"), [(1, 5), (4, 20), (8, 40)])
def test_pixel_grid_image_shows_agent_and_goal(cell_pixels: int, side: int):
    env = make("dojo/PixelGrid-v0", num_envs=3, env_args=[f"cell_pixels={cell_pixels}"])
    assert env.behavior_specs["PixelGrid"].observation_specs[0].shape == (3, side, side)
    env.reset()
    image = env.get_steps("PixelGrid")[0].obs[0]
    assert set(np.unique(image)) <= {0.0, 1.0}
    for row, copy in enumerate(env._envs):
        grid = copy.unwrapped
        agent, goal = grid._agent * cell_pixels, grid._goal * cell_pixels
        assert image[row, 0, agent[0], agent[1]] == 1.0
        assert image[row, 1, goal[0], goal[1]] == 1.0
        assert image[row, 0].sum() == image[row, 1].sum() == cell_pixels**2
        assert image[row, 2].sum() == 0.0
    env.close()


def test_pixel_grid_rewards_reaching_the_goal_and_truncates():
    grid = PixelGridEnv(grid_size=3, cell_pixels=1)
    grid.reset(seed=0)
    grid._agent, grid._goal = np.array([0, 0]), np.array([0, 1])
    assert grid.step(3)[1:4] == (1.0, True, False)  # right onto the goal
    grid.reset(seed=0)
    grid._agent, grid._goal = np.array([0, 0]), np.array([2, 2])
    results = [grid.step(0) for _ in range(grid.max_steps)]  # up, into the wall
    assert all(r[1] == PixelGridEnv.STEP_PENALTY and not r[2] for r in results)
    assert [r[3] for r in results] == [False] * (grid.max_steps - 1) + [True]


def test_hybrid_target_rewards_both_parts():
    env = HybridTargetEnv()
    obs, _ = env.reset(seed=1)
    category, target = int(np.argmax(obs[1:])), float(obs[0])
    reward = env.step((category, np.array([target], np.float32)))[1]
    assert reward == pytest.approx(2.0)
    obs = env._obs
    wrong = (int(np.argmax(obs[1:])) + 1) % 3
    assert env.step((wrong, np.array([obs[0] - 0.5], np.float32)))[1] == pytest.approx(0.5)


def test_hybrid_target_through_the_provider():
    env = make("dojo/HybridTarget-v0", num_envs=2)
    assert env.behavior_specs["HybridTarget"].action_spec == ActionSpec(1, (3,))
    env.reset()
    obs = env.get_steps("HybridTarget")[0].obs[0]
    best = ActionTuple(obs[:, :1].copy(), obs[:, 1:].argmax(axis=1, keepdims=True))
    env.set_actions("HybridTarget", best)
    env.step()
    assert env.get_steps("HybridTarget")[0].reward.tolist() == pytest.approx([2.0, 2.0])
    env.close()


def test_ppo_learns_the_hybrid_action_task(tmp_path: Path):
    """PPO trains on a Tuple(Discrete, Box) action space and beats the random policy's ~6.7."""
    config = yaml.safe_load((ROOT / "configs" / "ppo" / "HybridTarget.yaml").read_text())
    behavior = config["behaviors"]["HybridTarget"]
    behavior["max_steps"] = 8000
    behavior["summary_freq"] = 2000
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    learn = Path(sys.executable).with_name("mlagents-learn")
    process = subprocess.run(
        [str(learn), "config.yaml", "--run-id=hybrid", "--seed=1", "--num-threads=1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    rewards = [float(m) for m in re.findall(r"Mean Reward: (-?\d+\.\d+)", process.stdout)]
    assert len(rewards) == 4, process.stdout
    assert rewards[-1] > 9.0, rewards
    assert (tmp_path / "results" / "hybrid" / "HybridTarget.onnx").is_file()
