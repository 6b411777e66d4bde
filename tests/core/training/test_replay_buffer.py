"""The replay buffer: ring order, sampling, bounded memory and persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dojo.errors import RunError
from dojo.training.replay_buffer import FieldSpec, ReplayBuffer

FIELDS = {
    "obs/0": FieldSpec.of((3,)),
    "discrete": FieldSpec.of((2,), np.int64),
    "rewards": FieldSpec.of(()),
}


def rows(start: int, n: int) -> dict[str, np.ndarray]:
    """``n`` transitions numbered ``start ...`` (every field derived from the number)."""
    numbers = np.arange(start, start + n)
    return {
        "obs/0": np.repeat(numbers[:, None], 3, axis=1).astype(np.float32),
        "discrete": np.stack([numbers, -numbers], axis=1).astype(np.int64),
        "rewards": numbers.astype(np.float32),
    }


def test_keeps_the_newest_rows_in_insertion_order_across_the_wrap() -> None:
    buffer = ReplayBuffer(10, FIELDS)
    buffer.add(rows(0, 7))
    assert len(buffer) == 7
    buffer.add(rows(7, 6))  # wraps: 13 added, capacity 10
    assert len(buffer) == 10
    ordered = buffer.ordered()
    np.testing.assert_array_equal(ordered["rewards"], np.arange(3, 13))
    np.testing.assert_array_equal(ordered["discrete"][:, 1], -np.arange(3, 13))
    buffer.add(rows(13, 25))  # more than the capacity at once: only the last 10 are kept
    np.testing.assert_array_equal(buffer.ordered()["rewards"], np.arange(28, 38))


def test_sampled_fields_belong_to_the_same_transitions() -> None:
    buffer = ReplayBuffer(100, FIELDS)
    buffer.add(rows(0, 40))
    batch = buffer.sample(256, np.random.default_rng(0))
    assert batch["obs/0"].shape == (256, 3) and batch["discrete"].dtype == np.int64
    np.testing.assert_array_equal(batch["obs/0"][:, 0], batch["rewards"])
    np.testing.assert_array_equal(batch["discrete"][:, 0], batch["rewards"].astype(np.int64))
    # Only filled rows are drawn, and every one of them can be.
    assert set(batch["rewards"].tolist()) == set(range(40))


def test_memory_is_allocated_once_and_bounded_by_the_capacity() -> None:
    buffer = ReplayBuffer(1000, FIELDS)
    expected = 1000 * (3 * 4 + 2 * 8 + 4)
    assert buffer.nbytes == expected
    for start in range(0, 20_000, 500):
        buffer.add(rows(start, 500))
    assert buffer.nbytes == expected and len(buffer) == 1000


def test_rejects_rows_with_missing_fields_or_unequal_lengths() -> None:
    buffer = ReplayBuffer(10, FIELDS)
    with pytest.raises(ValueError, match="missing"):
        buffer.add({"obs/0": np.zeros((2, 3), np.float32)})
    bad = rows(0, 3)
    bad["rewards"] = bad["rewards"][:2]
    with pytest.raises(ValueError, match="different numbers of rows"):
        buffer.add(bad)


def test_save_and_load_round_trip_after_a_wrap_leaves_no_temporary_file(tmp_path: Path) -> None:
    buffer = ReplayBuffer(10, FIELDS)
    buffer.add(rows(0, 17))
    path = buffer.save(tmp_path / "last_replay_buffer.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["last_replay_buffer.npz"]

    restored = ReplayBuffer(10, FIELDS)
    restored.load(path)
    assert len(restored) == 10
    for name, array in buffer.ordered().items():
        np.testing.assert_array_equal(restored.ordered()[name], array)
        assert restored.ordered()[name].dtype == array.dtype
    # The restored ring continues where the saved one stopped.
    buffer.add(rows(17, 4))
    restored.add(rows(17, 4))
    np.testing.assert_array_equal(restored.ordered()["rewards"], buffer.ordered()["rewards"])


def test_a_smaller_buffer_loads_the_newest_saved_rows(tmp_path: Path) -> None:
    buffer = ReplayBuffer(10, FIELDS)
    buffer.add(rows(0, 8))
    small = ReplayBuffer(5, FIELDS)
    small.load(buffer.save(tmp_path / "b.npz"))
    np.testing.assert_array_equal(small.ordered()["rewards"], np.arange(3, 8))


def test_loading_a_buffer_of_another_shape_or_a_corrupt_file_is_a_clear_error(
    tmp_path: Path,
) -> None:
    buffer = ReplayBuffer(10, FIELDS)
    buffer.add(rows(0, 3))
    path = buffer.save(tmp_path / "b.npz")
    other = ReplayBuffer(10, {**FIELDS, "obs/0": FieldSpec.of((4,))})
    with pytest.raises(RunError, match="obs/0"):
        other.load(path)
    missing = ReplayBuffer(10, {**FIELDS, "done": FieldSpec.of(())})
    with pytest.raises(RunError, match="fields"):
        missing.load(path)
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"not a zip file")
    with pytest.raises(RunError, match="cannot be read"):
        buffer.load(corrupt)
