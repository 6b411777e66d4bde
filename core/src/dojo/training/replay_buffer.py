"""A fixed-capacity replay buffer for off-policy trainers (SAC, ...): a preallocated ring of arrays.

Each field (``"obs/0"``, ``"next_obs/0"``, ``"continuous"``, ``"rewards"``, ``"done"``, ...) is
one numpy array ``[capacity, *shape]`` allocated when the buffer is built; adding transitions
writes rows (wrapping around, oldest first overwritten) and sampling is one fancy index per
field. No Python object exists per transition, so memory is bounded by ``capacity`` whatever
the run length (``np.zeros`` maps untouched pages lazily, so a large ``buffer_size`` costs only
the rows actually filled until the ring wraps).

Persistence (SAC's ``save_replay_buffer``): :meth:`ReplayBuffer.save` writes the filled rows in
insertion order to an uncompressed ``.npz`` file, atomically (temporary file + rename), with
the trainer step they belong to (``__step__``), so a resumed run never takes a buffer from
another step than its checkpoint for the right one.
ML-Agents writes ``last_replay_buffer.hdf5``; dojo writes ``last_replay_buffer.npz`` because
h5py is not a dependency, and names the file after its real format.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dojo.artifacts.atomic import atomic_write
from dojo.errors import ConfigError, RunError

#: File name of a persisted replay buffer in a behavior's artifact folder.
REPLAY_BUFFER_FILE = "last_replay_buffer.npz"
#: Archive member holding the trainer step the saved contents belong to.
STEP_KEY = "__step__"


@dataclass(frozen=True)
class FieldSpec:
    """Shape of one row (without the leading transition axis) and its dtype."""

    shape: tuple[int, ...]
    dtype: np.dtype

    @classmethod
    def of(cls, shape: tuple[int, ...], dtype: type | np.dtype = np.float32) -> FieldSpec:
        return cls(tuple(int(s) for s in shape), np.dtype(dtype))


class ReplayBuffer:
    """The last ``capacity`` transitions, one preallocated array per field.

    Args:
        capacity: maximum number of transitions kept (``buffer_size``).
        fields: field name -> :class:`FieldSpec` of one row.

    Attributes:
        size: transitions currently held (at most ``capacity``).
        position: the row the next transition is written to.
    """

    def __init__(self, capacity: int, fields: Mapping[str, FieldSpec]) -> None:
        if capacity < 1:
            raise ValueError(f"a replay buffer needs a capacity of at least 1, not {capacity}")
        if not fields:
            raise ValueError("a replay buffer needs at least one field")
        self.capacity = int(capacity)
        self.fields = dict(fields)
        try:
            self._data = {
                name: np.zeros((self.capacity, *spec.shape), dtype=spec.dtype)
                for name, spec in self.fields.items()
            }
        except MemoryError as err:  # even lazily mapped, the ring must fit in the address space
            row = sum(int(np.prod(spec.shape)) * spec.dtype.itemsize for spec in fields.values())
            raise ConfigError(
                f"hyperparameters.buffer_size {self.capacity}: the replay buffer needs "
                f"{self.capacity * row / 1e9:,.1f} GB ({row} bytes per transition), more memory "
                "than this machine can reserve. Lower buffer_size (the run never keeps more "
                "transitions than max_steps)."
            ) from err
        self.size = 0
        self.position = 0

    def __len__(self) -> int:
        return self.size

    @property
    def nbytes(self) -> int:
        """Bytes allocated for the arrays (fixed at construction)."""
        return sum(array.nbytes for array in self._data.values())

    def add(self, rows: Mapping[str, np.ndarray]) -> None:
        """Append ``n`` transitions: every field, each array ``[n, *shape]``.

        When more than ``capacity`` rows are given only the last ``capacity`` are kept; when the
        ring is full the oldest rows are overwritten.
        """
        if set(rows) != set(self._data):
            missing = sorted(set(self._data) - set(rows))
            extra = sorted(set(rows) - set(self._data))
            raise ValueError(f"replay rows must have every field: missing {missing}, extra {extra}")
        lengths = {len(array) for array in rows.values()}
        if len(lengths) != 1:
            raise ValueError(f"replay fields have different numbers of rows: {sorted(lengths)}")
        (n,) = lengths
        if n == 0:
            return
        skip = max(0, n - self.capacity)
        n -= skip
        start = self.position
        first = min(n, self.capacity - start)  # rows before the end of the ring
        for name, array in rows.items():
            store = self._data[name]
            source = array[skip:]
            store[start : start + first] = source[:first]
            if first < n:
                store[: n - first] = source[first:]
        self.position = (start + n) % self.capacity
        self.size = min(self.capacity, self.size + n)

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``batch_size`` transitions drawn uniformly with replacement: field -> ``[b, *shape]``.

        The arrays are fresh copies (safe to hand to torch with ``torch.from_numpy``).
        """
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        index = rng.integers(0, self.size, size=batch_size)
        return {name: array[index] for name, array in self._data.items()}

    def sample_runs(
        self, count: int, length: int, rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        """``count`` runs of ``length`` consecutively written rows, each starting at a held row
        drawn uniformly with replacement: field -> ``[count, length, *shape]`` (copies).

        A run may reach past the newest row into rows the ring has not written yet or holds
        from long ago: the caller knows from its own fields (e.g. steps left in a trajectory)
        which rows belong together and masks the others.
        """
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        # Held rows are physical rows [0, size) (the whole ring once full); writing order is
        # physical order modulo the capacity.
        starts = rng.integers(0, self.size, size=count)
        index = (starts[:, None] + np.arange(length)) % self.capacity
        return {name: array[index] for name, array in self._data.items()}

    # ------------------------------------------------------------------ persistence
    def ordered(self) -> dict[str, np.ndarray]:
        """The held transitions, oldest first: field -> ``[size, *shape]`` (copies)."""
        if self.size < self.capacity:
            return {name: array[: self.size].copy() for name, array in self._data.items()}
        order = np.concatenate(
            [np.arange(self.position, self.capacity), np.arange(0, self.position)]
        )
        return {name: array[order] for name, array in self._data.items()}

    def state(self) -> dict[str, np.ndarray]:
        """Everything needed to rebuild the contents: the fields (oldest first)."""
        return self.ordered()

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Replace the contents with ``state`` (from :meth:`state`); a saved buffer larger than
        ``capacity`` keeps its newest rows.

        Raises:
            RunError: the fields or their row shapes do not match this buffer's.
        """
        if set(state) != set(self._data):
            raise RunError(
                f"the saved replay buffer has fields {sorted(state)}, this trainer expects "
                f"{sorted(self._data)} (was it saved for another behavior or action spec?)"
            )
        for name, array in state.items():
            spec = self.fields[name]
            if tuple(array.shape[1:]) != spec.shape:
                raise RunError(
                    f"the saved replay buffer's field {name!r} has rows of shape "
                    f"{tuple(array.shape[1:])}, this trainer expects {spec.shape}"
                )
        self.size = 0
        self.position = 0
        self.add(
            {
                name: np.asarray(array, dtype=self.fields[name].dtype)
                for name, array in state.items()
            }
        )

    def save(self, path: str | os.PathLike[str], step: int | None = None) -> Path:
        """Atomically write the contents to ``path`` (an uncompressed ``.npz``); returns it.

        ``step``, the trainer's step the contents belong to, is stored with them
        (:func:`saved_step`) so that a resumed run can tell whether they match its checkpoint.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = self.state()
        if step is not None:
            arrays[STEP_KEY] = np.asarray(int(step), dtype=np.int64)
        with atomic_write(path, binary=True) as file:
            # Keys may hold "/", which np.savez keeps as archive member names.
            np.savez(file, **arrays)
        return path

    def load(self, path: str | os.PathLike[str]) -> None:
        """Replace the contents with a file written by :meth:`save`.

        Raises:
            RunError: the file cannot be read or does not match this buffer.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as archive:
                state = {name: archive[name] for name in archive.files if name != STEP_KEY}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise RunError(f"replay buffer {path} cannot be read: {err}") from err
        self.load_state(state)


def saved_step(path: str | os.PathLike[str]) -> int | None:
    """The step recorded in a replay buffer file by :meth:`ReplayBuffer.save`, or ``None`` when
    it has none (written by an older dojo).

    Raises:
        RunError: the file cannot be read.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            if STEP_KEY not in archive.files:
                return None
            return int(archive[STEP_KEY])
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise RunError(f"replay buffer {path} cannot be read: {err}") from err
