"""Each agent's recurrent memory between two of its steps (``network_settings.memory``).

A recurrent policy acts on a batch of agents with one forward pass, so the memories live in one
preallocated array ``[slot, memory_size]`` with agents mapped to slots by id, like the agent
processor's trajectories: reading or writing a whole batch is one fancy-indexed operation.
A new agent, and an agent whose episode ended (:meth:`AgentMemories.reset`), starts from zeros.

Trainers own one per policy; on-policy and off-policy trainers use it the same way.
"""

from __future__ import annotations

import numpy as np


class AgentMemories:
    """Memories ``[memory_size]`` float32 of every agent of one behavior, keyed by agent id.

    Args:
        memory_size: floats per agent (hidden + cell state).
        initial_slots: agents allocated up front (grown by doubling when more appear).
    """

    def __init__(self, memory_size: int, initial_slots: int = 8) -> None:
        self.memory_size = int(memory_size)
        self._memories = np.zeros((max(1, initial_slots), self.memory_size), np.float32)
        self._slot_of: dict[int, int] = {}
        self._cached_ids: np.ndarray | None = None
        self._cached_slots: np.ndarray | None = None

    def _slots(self, agent_ids: np.ndarray) -> np.ndarray:
        """Slot of each agent id; new ids get free (zeroed) slots."""
        cached = self._cached_ids
        if (
            cached is not None
            and cached.shape == agent_ids.shape
            and np.array_equal(cached, agent_ids)
        ):
            return self._cached_slots  # type: ignore[return-value]
        slots = np.empty(len(agent_ids), dtype=np.int64)
        for i, agent_id in enumerate(agent_ids.tolist()):
            slot = self._slot_of.get(agent_id)
            if slot is None:
                slot = len(self._slot_of)
                if slot >= len(self._memories):
                    grown = np.zeros((2 * len(self._memories), self.memory_size), np.float32)
                    grown[: len(self._memories)] = self._memories
                    self._memories = grown
                self._slot_of[agent_id] = slot
            slots[i] = slot
        self._cached_ids = agent_ids.copy()
        self._cached_slots = slots
        return slots

    def get(self, agent_ids: np.ndarray) -> np.ndarray:
        """The memories ``[n, memory_size]`` of ``agent_ids`` (a copy; zeros for new agents)."""
        slots = self._slots(agent_ids)  # first: it may grow the array
        return self._memories[slots]

    def set(self, agent_ids: np.ndarray, memories: np.ndarray) -> None:
        """Store the memories ``[n, memory_size]`` of ``agent_ids`` after their step."""
        slots = self._slots(agent_ids)
        self._memories[slots] = memories

    def reset(self, agent_ids: np.ndarray) -> None:
        """Zero the memories of ``agent_ids``: their episodes ended (unknown ids are ignored)."""
        slots = [self._slot_of[a] for a in agent_ids.tolist() if a in self._slot_of]
        self._memories[slots] = 0.0
