"""``threaded: true``: the environment runs at most one batch (or the trainer's lookahead) ahead
of the update thread, and the thread's failure stops the run instead of hanging it."""

from __future__ import annotations

import threading

import pytest

from dojo.errors import DojoError
from dojo.training.trainer_controller import UpdateThread


class GatedTrainer:
    """The part of a trainer the update thread uses; ``advance`` waits for ``gate`` and raises
    on the batch numbered ``fail_at``."""

    behavior_name = "Walker"

    def __init__(self, fail_at: int | None = None, lookahead: int = 0) -> None:
        self.threaded_lookahead = lookahead
        self.gate = threading.Event()
        self.fail_at = fail_at
        self.batches: list[list] = []

    def process_trajectories(self, trajectories: list) -> None:
        self.batches.append(trajectories)

    def advance(self) -> None:
        self.gate.wait(timeout=30)
        if len(self.batches) == self.fail_at:
            raise RuntimeError("loss is nan")


def submit_in_background(updates: UpdateThread, batch: list) -> threading.Thread:
    thread = threading.Thread(target=updates.submit, args=(batch,), daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("lookahead", "queued"),
    [
        # Off-policy default: one batch may wait beside the one in training.
        (0, ["second"]),
        # An on-policy trainer allows one rollout. Batches here: one trajectory of 5 "steps".
        (10, ["secnd", "third"]),
    ],
    ids=["one-batch", "lookahead"],
)
def test_environment_waits_when_it_is_ahead_of_the_update_by_its_lookahead(
    lookahead: int, queued: list[str]
) -> None:
    trainer = GatedTrainer(lookahead=lookahead)
    updates = UpdateThread(trainer)
    try:
        updates.submit(["first"])  # taken by the update thread, which waits at the gate
        for name in queued:
            updates.submit([name])  # waits in the queue
        last = submit_in_background(updates, ["last"])
        last.join(timeout=0.5)
        assert last.is_alive(), "a batch beyond the lookahead must wait until the update catches up"

        trainer.gate.set()
        last.join(timeout=10)
        assert not last.is_alive()
        updates.drain()
        assert trainer.batches == [["first"], *[[name] for name in queued], ["last"]]
    finally:
        trainer.gate.set()
        updates.stop()


def test_failed_update_is_reported_and_never_blocks_the_environment() -> None:
    trainer = GatedTrainer(fail_at=1)
    trainer.gate.set()
    updates = UpdateThread(trainer)
    try:
        updates.submit(["first"])
        with pytest.raises(DojoError, match="update thread of 'Walker' failed: loss is nan"):
            updates.drain()
        # Later batches are neither trained on nor left blocking the environment.
        with pytest.raises(DojoError, match="Walker"):
            for _ in range(5):
                updates.submit(["more"])
        assert trainer.batches == [["first"]]
    finally:
        updates.stop()
