"""Cutting trajectories into the fixed-length sequences a recurrent network trains on.

A trajectory of ``T`` steps becomes ``ceil(T / sequence_length)`` sequences: steps ``[0, L)``,
``[L, 2L)``, ... and a last, shorter one that is zero padded *at its end*. Sequences never cross
a trajectory (so never an episode end: trajectories end with their episode), which is why each
one can start from the memory stored at its first step. Padding after the real steps cannot
change what the LSTM outputs for them; :attr:`SequenceLayout.valid` marks the real steps so the
losses ignore the padding.

Experience stays stored flat, one row per step in trajectory order (the rollout and replay
buffers need no change); a bool per step, :func:`sequence_starts`, records where each sequence
begins, and :class:`SequenceLayout` rebuilds the padded ``[n_sequences * L]`` layout from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def sequence_starts(lengths: Sequence[int] | np.ndarray, sequence_length: int) -> np.ndarray:
    """``[sum(lengths)]`` bool, ``True`` at steps ``0, L, 2L, ...`` of each trajectory of the
    given lengths (concatenated in order)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    position = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return position % int(sequence_length) == 0


@dataclass(frozen=True)
class SequenceLayout:
    """Where each step of flat experience goes in ``[n_sequences, sequence_length]``.

    Attributes:
        sequence_length: ``L``, steps per (padded) sequence.
        starts: ``[n_sequences]`` flat index of each sequence's first step.
        lengths: ``[n_sequences]`` real steps of each sequence (1 to ``L``).
        valid: ``[n_sequences, L]`` bool, ``True`` for real steps, ``False`` for padding.
    """

    sequence_length: int
    starts: np.ndarray
    lengths: np.ndarray
    valid: np.ndarray

    @classmethod
    def from_starts(cls, starts: np.ndarray, sequence_length: int) -> SequenceLayout:
        """The layout of flat steps given the :func:`sequence_starts` flags.

        Raises:
            ValueError: the first step does not start a sequence, or a sequence is longer
                than ``sequence_length``.
        """
        starts = np.asarray(starts, dtype=bool)
        first = np.flatnonzero(starts)
        if len(starts) and (not len(first) or first[0] != 0):
            raise ValueError("the first step of the experience must start a sequence")
        lengths = np.diff(np.append(first, len(starts)))
        if len(lengths) and lengths.max() > sequence_length:
            raise ValueError(
                f"a sequence of {int(lengths.max())} steps is longer than sequence_length "
                f"({sequence_length})"
            )
        valid = np.arange(sequence_length)[None, :] < lengths[:, None]
        return cls(int(sequence_length), first, lengths, valid)

    @classmethod
    def from_lengths(
        cls, lengths: Sequence[int] | np.ndarray, sequence_length: int
    ) -> SequenceLayout:
        """The layout of trajectories of ``lengths`` steps, concatenated in order."""
        return cls.from_starts(sequence_starts(lengths, sequence_length), sequence_length)

    @property
    def n_sequences(self) -> int:
        return len(self.starts)

    def pad(self, array: np.ndarray) -> np.ndarray:
        """``array`` ``[n_steps, ...]`` laid out as ``[n_sequences * L, ...]``, each sequence's
        steps consecutive and zeros after its last real step."""
        out = np.zeros((self.valid.size, *array.shape[1:]), dtype=array.dtype)
        out[self.valid.reshape(-1)] = array
        return out

    def positions(self, sequences: np.ndarray) -> np.ndarray:
        """Indices into :meth:`pad`'s output of every step (padding included) of
        ``sequences`` ``[k]``, ``[k * L]``, sequence by sequence."""
        offsets = np.arange(self.sequence_length)
        return (np.asarray(sequences)[:, None] * self.sequence_length + offsets).reshape(-1)
