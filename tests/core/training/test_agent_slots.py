"""Agent ids to slots: finished agents' slots are reused, and the cached lookup never hands out
a slot that was released."""

from __future__ import annotations

import numpy as np

from dojo.training.agent_slots import AgentSlots


def test_ever_new_ids_reuse_the_slots_of_released_ones() -> None:
    slots = AgentSlots()
    live = np.array([1, 2, 3])
    next_id = 4
    rng = np.random.default_rng(0)
    for _ in range(2000):
        assigned = slots.lookup(live)
        assert sorted(assigned.tolist()) == sorted(set(assigned.tolist()))  # one slot each
        ended = live[rng.random(len(live)) < 0.3]
        slots.release(ended)
        fresh = np.arange(next_id, next_id + len(ended))
        next_id += len(ended)
        live = np.concatenate([live[~np.isin(live, ended)], fresh])
    assert next_id > 1000 and len(slots) == 3


def test_a_cached_lookup_after_a_release_gives_no_freed_slot() -> None:
    slots = AgentSlots()
    ids = np.array([10, 11])
    first = slots.lookup(ids)  # cached now
    slots.release(np.array([10]))
    new = slots.lookup(np.array([12]), cache=False)  # takes agent 10's slot
    again = slots.lookup(ids)  # the same ids as the cache: 10 comes back as a new agent
    assert new[0] == first[0]
    assert again[1] == first[1] and again[0] not in (first[1], new[0])


def test_an_id_that_comes_back_at_once_gets_its_slot_back() -> None:
    """Gymnasium copies keep their ids across episodes: released and looked up in the same
    step, they keep their slots (and the data stays where it is)."""
    slots = AgentSlots()
    ids = np.array([0, 1, 2, 3])
    before = slots.lookup(ids).copy()
    slots.release(np.array([1, 3]))
    np.testing.assert_array_equal(slots.lookup(ids), before)
