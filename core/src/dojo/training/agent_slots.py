"""Agent ids -> dense slot indices, for per-agent arrays that grow as agents appear.

Environments report agents by id in batches, usually in the same order step after step; the
last lookup is cached so that steady state costs one array comparison instead of a dictionary
lookup per agent.

A Unity build gives an agent a new id for every episode, so ids keep coming: the slot of an
agent whose episode ended is released and handed to the next new id, which keeps the per-agent
arrays as large as the number of agents alive at once, however long the run.
"""

from __future__ import annotations

import numpy as np


class AgentSlots:
    """Gives each agent id a slot; released slots are reused before new ones are opened."""

    def __init__(self) -> None:
        self._slot_of: dict[int, int] = {}
        self._free: list[int] = []  # released slots; the last one is reused first
        self._opened = 0
        self._cached_ids: np.ndarray | None = None
        self._cached_slots: np.ndarray | None = None

    def __len__(self) -> int:
        """Slots opened so far (per-agent arrays need at least this many rows)."""
        return self._opened

    def lookup(self, agent_ids: np.ndarray, cache: bool = True) -> np.ndarray:
        """Slot of each id ``[n]`` int64; new ids get free slots. ``cache=False`` leaves the
        cached lookup alone (for batches other than the usual decision batch)."""
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
                slot = self._slot_of[agent_id] = self._open()
            slots[i] = slot
        if cache:
            self._cached_ids = agent_ids.copy()
            self._cached_slots = slots
        return slots

    def _open(self) -> int:
        if self._free:
            return self._free.pop()
        self._opened += 1
        return self._opened - 1

    def known(self, agent_ids: np.ndarray) -> list[int]:
        """Slots of the ids that have one (unknown ids are skipped)."""
        return [self._slot_of[a] for a in agent_ids.tolist() if a in self._slot_of]

    def release(self, agent_ids: np.ndarray) -> list[int]:
        """Let ``agent_ids`` go (unknown ids are skipped); returns their slots, which the next
        new ids reuse, in the same order (an id that comes back gets its old slot back when no
        other new id came first)."""
        freed = [
            slot
            for slot in (self._slot_of.pop(a, None) for a in agent_ids.tolist())
            if slot is not None
        ]
        if freed:
            self._free.extend(reversed(freed))
            self._cached_ids = self._cached_slots = None
        return freed
