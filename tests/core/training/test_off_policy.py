"""Off-policy base: real CartPole trajectories become correct replay transitions."""

from __future__ import annotations

import numpy as np

from dojo.api import ActionOutput, Trajectory
from dojo.config.settings import EnvSettings
from dojo.envs.base import ActionTuple, BehaviorSpec
from dojo.envs.context import EnvironmentContext
from dojo.envs.gymnasium_env import make_gymnasium_environment
from dojo.stats.reporter import StatsReporter
from dojo.training.agent_processor import AgentProcessor
from dojo.training.off_policy import signal_batch, trajectory_transitions, transition_fields
from dojo.training.replay_buffer import ReplayBuffer


def random_cartpole(
    steps: int, horizon: int, max_episode_steps: int
) -> tuple[list[Trajectory], BehaviorSpec]:
    """Random play on 3 CartPole copies, truncated after ``max_episode_steps``."""
    settings = EnvSettings(env_args=[f"max_episode_steps={max_episode_steps}"])
    env = make_gymnasium_environment(
        EnvironmentContext("CartPole-v1", num_envs=3, seed=1, settings=settings)
    )
    env.reset()
    spec = env.behavior_specs["CartPole"]
    processor = AgentProcessor(spec, horizon, StatsReporter("CartPole", []))
    rng = np.random.default_rng(0)
    trajectories: list[Trajectory] = []
    for _ in range(steps):
        decision, terminal = env.get_steps("CartPole")
        trajectories += processor.record_outcome(decision, terminal)
        actions = ActionTuple(
            np.zeros((len(decision), 0), np.float32), rng.integers(0, 2, (len(decision), 1))
        )
        processor.record_actions(decision, ActionOutput(actions))
        env.set_actions("CartPole", actions)
        env.step()
    env.close()
    return trajectories, spec


def test_next_obs_and_done_of_real_transitions() -> None:
    # Horizon 7 cuts unfinished episodes; 12-step truncation interrupts the balanced ones.
    trajectories, spec = random_cartpole(steps=300, horizon=7, max_episode_steps=12)
    kinds = {(t.done, t.interrupted) for t in trajectories}
    assert kinds == {(False, False), (True, False), (True, True)}, kinds
    transitions = trajectory_transitions(trajectories, spec)
    assert set(transitions) == set(transition_fields(spec))
    obs, next_obs = transitions["obs/0"], transitions["next_obs/0"]
    # Physics: x' = x + 0.02 v for every transition, including those at a cut or an episode end
    # (whose next observation is the trajectory's next_obs, the true final one).
    np.testing.assert_allclose(next_obs[:, 0], obs[:, 0] + 0.02 * obs[:, 1], atol=1e-5)
    start = 0
    for t in trajectories:
        end = start + len(t)
        np.testing.assert_array_equal(next_obs[end - 1], t.next_obs[0])
        np.testing.assert_array_equal(transitions["discrete"][start:end], t.actions.discrete)
        done = transitions["done"][start:end]
        assert not done[:-1].any()
        # Only a real termination ends the bootstrap: not a horizon cut, not a truncation.
        assert done[-1] == float(t.done and not t.interrupted)
        start = end
    assert start == len(obs)
    terminated = transitions["done"] == 1.0
    # CartPole terminates when the pole falls or the cart leaves: |angle| > 0.2095 or |x| > 2.4.
    assert (
        (np.abs(next_obs[terminated, 2]) > 0.2095) | (np.abs(next_obs[terminated, 0]) > 2.4)
    ).all()


def test_transitions_fill_a_replay_buffer_and_batches_reach_reward_signals() -> None:
    trajectories, spec = random_cartpole(steps=100, horizon=16, max_episode_steps=500)
    transitions = trajectory_transitions(trajectories, spec)
    buffer = ReplayBuffer(50, transition_fields(spec))
    buffer.add(transitions)
    assert len(buffer) == 50
    batch = buffer.sample(32, np.random.default_rng(0))
    transitions = signal_batch(batch, spec)
    assert len(transitions) == 32
    np.testing.assert_array_equal(transitions.rewards, batch["rewards"])
    np.testing.assert_array_equal(transitions.next_obs[0], batch["next_obs/0"])
    np.testing.assert_array_equal(transitions.done, batch["done"])
