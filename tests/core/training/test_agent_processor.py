"""The agent processor cuts real environment steps into correct trajectories."""

from __future__ import annotations

import numpy as np
import pytest

from dojo.api import ActionOutput, Trajectory
from dojo.config.settings import EnvSettings
from dojo.envs.base import ActionTuple
from dojo.envs.context import EnvironmentContext
from dojo.envs.gymnasium_env import make_gymnasium_environment
from dojo.stats.reporter import StatsReporter
from dojo.training.agent_processor import AgentProcessor


def collect(
    num_envs: int, steps: int, horizon: int, env_args: list[str] | None = None, slots: int = 8
) -> tuple[list[Trajectory], StatsReporter, AgentProcessor]:
    """Random CartPole play; the action index is stored as an extra to check alignment."""
    settings = EnvSettings(env_args=env_args)
    env = make_gymnasium_environment(
        EnvironmentContext("CartPole-v1", num_envs=num_envs, seed=3, settings=settings)
    )
    env.reset()
    stats = StatsReporter("CartPole", [])
    processor = AgentProcessor(env.behavior_specs["CartPole"], horizon, stats, initial_slots=slots)
    rng = np.random.default_rng(0)
    trajectories: list[Trajectory] = []
    for _ in range(steps):
        decision, terminal = env.get_steps("CartPole")
        trajectories += processor.record_outcome(decision, terminal)
        discrete = rng.integers(0, 2, (len(decision), 1))
        actions = ActionTuple(np.zeros((len(decision), 0), np.float32), discrete)
        extras = {"action_copy": discrete.astype(np.float32)}
        processor.record_actions(decision, ActionOutput(actions, extras))
        env.set_actions("CartPole", actions)
        env.step()
    env.close()
    return trajectories, stats, processor


def test_steps_are_consecutive_and_actions_aligned() -> None:
    trajectories, _, _ = collect(num_envs=4, steps=600, horizon=16)
    assert trajectories
    for t in trajectories:
        obs = np.concatenate([t.obs[0], t.next_obs[0][None]])
        # CartPole integrates x' = x + 0.02 * v: consecutive rows are consecutive states ...
        np.testing.assert_allclose(obs[1:, 0], obs[:-1, 0] + 0.02 * obs[:-1, 1], atol=1e-5)
        # ... and pushing right (action 1) always raises the cart's velocity.
        velocity_up = obs[1:, 1] > obs[:-1, 1]
        np.testing.assert_array_equal(velocity_up, t.actions.discrete[:, 0] == 1)
        np.testing.assert_array_equal(t.extras["action_copy"][:, 0], t.actions.discrete[:, 0])
        assert (t.rewards == 1.0).all()


def test_cut_at_time_horizon_or_episode_end() -> None:
    trajectories, _, _ = collect(num_envs=2, steps=400, horizon=8)
    for t in trajectories:
        assert 1 <= len(t) <= 8
        if not t.done:
            assert len(t) == 8, "an unfinished trajectory is only cut at the time horizon"
    assert any(t.done for t in trajectories) and any(not t.done for t in trajectories)
    total = sum(len(t) for t in trajectories)
    assert 400 * 2 - 2 * 8 <= total <= 400 * 2


def test_episode_statistics_match_the_trajectories() -> None:
    trajectories, stats, _ = collect(num_envs=3, steps=500, horizon=32)
    episode_returns = stats.peek("Environment/Cumulative Reward")
    lengths = stats.peek("Environment/Episode Length")
    assert len(episode_returns) == sum(t.done for t in trajectories) > 10
    assert episode_returns == lengths  # CartPole pays 1 per step
    per_agent: dict[int, float] = {}
    finished: list[float] = []
    for t in trajectories:
        per_agent[t.agent_id] = per_agent.get(t.agent_id, 0.0) + float(t.rewards.sum())
        if t.done:
            finished.append(per_agent.pop(t.agent_id))
    assert sorted(finished) == sorted(episode_returns)


def test_truncation_is_interrupted_and_bootstrappable() -> None:
    trajectories, _, _ = collect(num_envs=2, steps=60, horizon=64, env_args=["max_episode_steps=5"])
    ended = [t for t in trajectories if t.done]
    assert ended and all(t.interrupted for t in ended if len(t) == 5)
    for t in ended:
        # next_obs is the true final observation, continuing the trajectory's dynamics.
        last = t.obs[0][-1]
        np.testing.assert_allclose(t.next_obs[0][0], last[0] + 0.02 * last[1], atol=1e-5)


def test_more_agents_than_preallocated_slots() -> None:
    trajectories, _, processor = collect(num_envs=12, steps=100, horizon=10, slots=2)
    assert processor._capacity >= 12
    assert {t.agent_id for t in trajectories} == set(range(12))


def test_agents_with_a_new_id_every_episode_reuse_slots() -> None:
    """A Unity build sends every episode under a new agent id: finished agents' slots are
    reused, so the per-agent arrays stay as large as the agents alive at once."""
    from dojo.envs.base import DecisionSteps, TerminalSteps
    from dojo.training.agent_memories import AgentMemories

    # The ids dojo-unity's Python player sends; core tests still run without the plugin.
    EpisodeIds = pytest.importorskip("dojo_unity.client").EpisodeIds

    env = make_gymnasium_environment(EnvironmentContext("CartPole-v1", num_envs=4, seed=3))
    env.reset()
    stats = StatsReporter("CartPole", [])
    processor = AgentProcessor(env.behavior_specs["CartPole"], 16, stats, initial_slots=4)
    memories = AgentMemories(2, initial_slots=4)
    ids = EpisodeIds()  # what the Python player sends: Unity's per-episode ids
    rng = np.random.default_rng(0)
    trajectories: list[Trajectory] = []
    seen: set[int] = set()
    for _ in range(1500):
        decision, terminal = env.get_steps("CartPole")
        terminal = TerminalSteps(
            terminal.obs, terminal.reward, terminal.interrupted,
            np.array(ids.ended("CartPole", terminal.agent_id), dtype=np.int64),
        )  # fmt: skip
        decision = DecisionSteps(
            decision.obs, decision.reward,
            np.array(ids.deciding("CartPole", decision.agent_id), dtype=np.int64),
            decision.action_mask,
        )  # fmt: skip
        new = ~np.isin(decision.agent_id, list(seen))
        seen.update(decision.agent_id.tolist())
        trajectories += processor.record_outcome(decision, terminal)
        memories.reset(terminal.agent_id)
        remembered = memories.get(decision.agent_id)
        assert (remembered[new] == 0).all() and (remembered[~new] == 1).all()
        memories.set(decision.agent_id, np.ones((len(decision), 2), np.float32))
        discrete = rng.integers(0, 2, (len(decision), 1))
        actions = ActionTuple(np.zeros((len(decision), 0), np.float32), discrete)
        processor.record_actions(decision, ActionOutput(actions, {}))
        env.set_actions("CartPole", actions)
        env.step()
    env.close()
    assert len(seen) > 100  # many episodes, each under a new id
    assert processor._capacity == 4 and len(memories._memories) == 4
    finished = [t for t in trajectories if t.done]
    assert sum(len(t) for t in finished) > 0
    for t in trajectories:
        obs = np.concatenate([t.obs[0], t.next_obs[0][None]])
        np.testing.assert_allclose(obs[1:, 0], obs[:-1, 0] + 0.02 * obs[:-1, 1], atol=1e-5)


def test_a_new_agent_after_an_episode_end_starts_from_zero_memory() -> None:
    from dojo.training.agent_memories import AgentMemories

    memories = AgentMemories(3, initial_slots=2)
    memories.set(np.array([1, 2]), np.ones((2, 3), np.float32))
    memories.reset(np.array([1]))  # agent 1's episode ended; agent 7 is new
    np.testing.assert_array_equal(memories.get(np.array([7, 2])), [[0, 0, 0], [1, 1, 1]])
    assert len(memories._memories) == 2
