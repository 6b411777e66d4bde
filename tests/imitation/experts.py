"""Hand-coded experts that record .demo files, as Unity's recorder would, for cloning tests."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

from dojo.api import ActionSpec, BehaviorSpec, ObservationSpec
from dojo_imitation.demo_writer import write_demonstration
from dojo_imitation.demonstration import Demonstration, unity_episode_statistics


def cartpole_expert(observation: np.ndarray) -> int:
    """Push toward the side the pole falls to: gymnasium's CartPole observation is
    ``[cart position, cart velocity, pole angle, pole angular velocity]``, action 1 pushes right.
    Balances for the full 500 steps in most episodes."""
    return int(observation[2] + observation[3] > 0)


def record_cartpole_demo(
    path: Path, steps: int = 2000, seed: int = 0, observation_size: int = 4
) -> Demonstration:
    """Record ``steps`` steps of :func:`cartpole_expert` as behavior ``CartPole`` in ``path``.

    ``observation_size`` other than 4 pads (or cuts) the observations: a demonstration whose
    spec does not match the environment's."""
    env = gym.make("CartPole-v1")
    observation, _ = env.reset(seed=seed)
    rows, actions, rewards, dones, interrupted = [], [], [], [], []
    episode = 0
    for _ in range(steps):
        action = cartpole_expert(observation)
        rows.append(np.resize(np.asarray(observation, dtype=np.float32), observation_size))
        actions.append([action])
        observation, reward, terminated, truncated, _ = env.step(action)
        rewards.append(reward)
        dones.append(terminated or truncated)
        interrupted.append(truncated and not terminated)
        if terminated or truncated:
            episode += 1
            observation, _ = env.reset(seed=seed + episode)
    env.close()
    rewards_array = np.asarray(rewards, dtype=np.float32)
    dones_array = np.asarray(dones, dtype=bool)
    episodes, mean_reward = unity_episode_statistics(rewards_array, dones_array)
    spec = BehaviorSpec(
        observation_specs=(ObservationSpec(shape=(observation_size,)),),
        action_spec=ActionSpec(continuous_size=0, discrete_branches=(2,)),
    )
    demonstration = Demonstration(
        demonstration_name=path.stem,
        behavior_id="CartPole?team=0",
        behavior_spec=spec,
        observations=(np.stack(rows),),
        continuous_actions=np.zeros((steps, 0), dtype=np.float32),
        discrete_actions=np.asarray(actions, dtype=np.int64),
        rewards=rewards_array,
        dones=dones_array,
        interrupted=np.asarray(interrupted, dtype=bool),
        agent_ids=np.zeros(steps, dtype=np.int64),
        action_masks=None,
        number_episodes=episodes,
        mean_reward=mean_reward,
    )
    write_demonstration(path, demonstration)
    return demonstration
