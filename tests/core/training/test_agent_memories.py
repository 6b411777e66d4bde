"""Per-agent recurrent memories between steps."""

from __future__ import annotations

import numpy as np

from dojo.training.agent_memories import AgentMemories


def test_new_agents_start_from_zero_and_memories_follow_their_agent() -> None:
    memories = AgentMemories(memory_size=4, initial_slots=2)
    ids = np.array([7, 3, 11])  # more agents than the initial slots
    assert not memories.get(ids).any()
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    memories.set(ids, values)
    # Another order and a subset: each agent gets its own memory back.
    assert np.array_equal(memories.get(np.array([11, 7])), values[[2, 0]])


def test_reset_zeroes_only_the_agents_whose_episode_ended() -> None:
    memories = AgentMemories(memory_size=2)
    ids = np.array([0, 1, 2])
    memories.set(ids, np.ones((3, 2), np.float32))
    memories.reset(np.array([1, 99]))  # 99 never acted: ignored
    assert memories.get(ids).tolist() == [[1, 1], [0, 0], [1, 1]]


def test_get_returns_a_copy() -> None:
    memories = AgentMemories(memory_size=2)
    ids = np.array([0])
    memories.set(ids, np.ones((1, 2), np.float32))
    stored = memories.get(ids)
    memories.set(ids, np.full((1, 2), 5.0, np.float32))
    assert stored.tolist() == [[1, 1]]
