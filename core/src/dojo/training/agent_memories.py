"""Each agent's recurrent memory between two of its steps (``network_settings.memory``).

A recurrent policy acts on a batch of agents with one forward pass, so the memories live in one
preallocated array ``[slot, memory_size]`` with agents mapped to slots by id, like the agent
processor's trajectories: reading or writing a whole batch is one fancy-indexed operation.
A new agent, and an agent whose episode ended (:meth:`AgentMemories.reset`), starts from zeros.

Trainers own one per policy; on-policy and off-policy trainers use it the same way.
"""

from __future__ import annotations

import numpy as np

from dojo.training.agent_slots import AgentSlots


class AgentMemories:
    """Memories ``[memory_size]`` float32 of every agent of one behavior, keyed by agent id.

    Args:
        memory_size: floats per agent (hidden + cell state).
        initial_slots: agents allocated up front (grown by doubling when more appear).
    """

    def __init__(self, memory_size: int, initial_slots: int = 8) -> None:
        self.memory_size = int(memory_size)
        self._memories = np.zeros((max(1, initial_slots), self.memory_size), np.float32)
        self._index = AgentSlots()

    def _slots(self, agent_ids: np.ndarray) -> np.ndarray:
        """Slot of each agent id; new ids get free (zeroed) slots."""
        slots = self._index.lookup(agent_ids)
        if len(self._index) > len(self._memories):
            size = max(2 * len(self._memories), len(self._index))
            grown = np.zeros((size, self.memory_size), np.float32)
            grown[: len(self._memories)] = self._memories
            self._memories = grown
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
        """Forget the memories of ``agent_ids``: their episodes ended (unknown ids are
        ignored). Their slots are zeroed and reused by the next new agents."""
        self._memories[self._index.release(agent_ids)] = 0.0
