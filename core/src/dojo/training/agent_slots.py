"""Agent ids -> dense slot indices, for per-agent arrays that grow as agents appear.

Environments report agents by id in batches, usually in the same order step after step; the
last lookup is cached so that steady state costs one array comparison instead of a dictionary
lookup per agent.
"""

from __future__ import annotations

import numpy as np


class AgentSlots:
    """Gives each agent id a slot ``0, 1, 2, ...`` in order of first appearance."""

    def __init__(self) -> None:
        self._slot_of: dict[int, int] = {}
        self._cached_ids: np.ndarray | None = None
        self._cached_slots: np.ndarray | None = None

    def __len__(self) -> int:
        """Slots handed out so far (per-agent arrays need at least this many rows)."""
        return len(self._slot_of)

    def lookup(self, agent_ids: np.ndarray, cache: bool = True) -> np.ndarray:
        """Slot of each id ``[n]`` int64; new ids get the next free slots. ``cache=False``
        leaves the cached lookup alone (for batches other than the usual decision batch)."""
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
                slot = self._slot_of[agent_id] = len(self._slot_of)
            slots[i] = slot
        if cache:
            self._cached_ids = agent_ids.copy()
            self._cached_slots = slots
        return slots

    def known(self, agent_ids: np.ndarray) -> list[int]:
        """Slots of the ids that have one (unknown ids are skipped)."""
        return [self._slot_of[a] for a in agent_ids.tolist() if a in self._slot_of]
