"""Cutting flat experience into padded training sequences for recurrent networks."""

from __future__ import annotations

import numpy as np
import pytest

from dojo.training.sequences import SequenceLayout, sequence_starts


def test_each_trajectory_starts_its_own_sequences() -> None:
    # Trajectories of 5, 3 and 4 steps with sequences of 2: 3 + 2 + 2 sequences.
    starts = sequence_starts([5, 3, 4], 2)
    assert np.flatnonzero(starts).tolist() == [0, 2, 4, 5, 7, 8, 10]


def test_padding_is_zero_and_only_after_the_real_steps() -> None:
    layout = SequenceLayout.from_lengths([5, 3], sequence_length=4)
    steps = np.arange(1, 9, dtype=np.float32)  # 1..5 then 6..8
    padded = layout.pad(steps).reshape(layout.n_sequences, 4)
    # No sequence crosses the end of the first trajectory (an episode end or a cut).
    assert padded.tolist() == [[1, 2, 3, 4], [5, 0, 0, 0], [6, 7, 8, 0]]
    assert layout.valid.tolist() == [
        [True, True, True, True],
        [True, False, False, False],
        [True, True, True, False],
    ]
    assert layout.starts.tolist() == [0, 4, 5]
    assert layout.lengths.tolist() == [4, 1, 3]


def test_padding_keeps_trailing_dimensions_and_dtype() -> None:
    layout = SequenceLayout.from_lengths([3], sequence_length=2)
    obs = np.arange(6, dtype=np.int64).reshape(3, 2)
    padded = layout.pad(obs)
    assert padded.dtype == np.int64
    assert padded.tolist() == [[0, 1], [2, 3], [4, 5], [0, 0]]


def test_positions_select_whole_sequences() -> None:
    layout = SequenceLayout.from_lengths([5, 3], sequence_length=4)
    padded = layout.pad(np.arange(1, 9, dtype=np.float32))
    chosen = layout.positions(np.array([2, 0]))
    assert padded[chosen].tolist() == [6, 7, 8, 0, 1, 2, 3, 4]
    assert layout.valid.reshape(-1)[chosen].sum() == 7


def test_inconsistent_starts_are_refused() -> None:
    with pytest.raises(ValueError, match="first step"):
        SequenceLayout.from_starts(np.array([False, True, False]), 2)
    with pytest.raises(ValueError, match="longer than sequence_length"):
        SequenceLayout.from_starts(np.array([True, False, False]), 2)
