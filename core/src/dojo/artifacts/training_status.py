"""``run_logs/training_status.json``: checkpoints and resumable state, as ML-Agents writes it.

The file maps each behavior to its checkpoint list, its final checkpoint and any other state a
component needs back on ``--resume`` (``elo`` for self-play); environment parameters keep their
curriculum ``lesson_num`` under their own name. A ``metadata`` entry records the format and the
versions that wrote it::

    {
      "3DBall": {
        "checkpoints": [{"steps": 500000, "file_path": "results/run/3DBall/3DBall-500000.onnx",
                         "reward": 100.0, "creation_time": 1700000000.0,
                         "auxillary_file_paths": ["results/run/3DBall/3DBall-500000.pt"]}],
        "final_checkpoint": {...same fields...}
      },
      "difficulty": {"lesson_num": 2},
      "metadata": {"stats_format_version": "0.3.0", "mlagents_version": "0.1.0",
                   "torch_version": "2.3.0"}
    }

``auxillary`` is misspelt on purpose: it is ML-Agents' key, and ML-Agents tools read it.
The checkpoint list also decides which old checkpoint files to delete (``keep_checkpoints``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from dojo.api import CheckpointInfo
from dojo.artifacts.atomic import atomic_write_text
from dojo.artifacts.timers import package_version
from dojo.errors import RunError

logger = logging.getLogger("dojo")

#: Version of the training_status.json layout (ML-Agents' ``STATUS_FORMAT_VERSION``).
STATUS_FORMAT_VERSION = "0.3.0"

METADATA = "metadata"
CHECKPOINTS = "checkpoints"
FINAL_CHECKPOINT = "final_checkpoint"
LESSON_NUM = "lesson_num"
ELO = "elo"


def checkpoint_entry(checkpoint: CheckpointInfo) -> dict[str, Any]:
    """The JSON entry of ``checkpoint``: the ONNX file first, the ``.pt`` as auxiliary file.

    A checkpoint without an ONNX export is recorded by its ``.pt`` file alone.
    """
    if checkpoint.onnx_path is not None:
        file_path, auxiliary = str(checkpoint.onnx_path), [str(checkpoint.pt_path)]
    else:
        file_path, auxiliary = str(checkpoint.pt_path), []
    return {
        "steps": int(checkpoint.step),
        "file_path": file_path,
        "reward": None if checkpoint.reward is None else float(checkpoint.reward),
        "creation_time": float(checkpoint.creation_time),
        "auxillary_file_paths": auxiliary,
    }


def _metadata() -> dict[str, str]:
    import dojo

    return {
        "stats_format_version": STATUS_FORMAT_VERSION,
        "mlagents_version": dojo.__version__,
        "torch_version": package_version("torch"),
    }


class TrainingStatus:
    """The state written to ``training_status.json``, owned by one run.

    Thread-safe: threaded trainers add checkpoints from their own threads.
    """

    def __init__(self) -> None:
        self._state: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------------------------------
    # Files
    # ---------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrainingStatus:
        """Read the status a previous run saved (used by ``--resume``).

        A missing file gives an empty status and a warning (ML-Agents does the same: the run
        resumes, but lessons, ELO and the checkpoint list start over).

        Raises:
            RunError: the file is not valid JSON or has no ``metadata`` (written by an
                incompatible version).
        """
        status = cls()
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            logger.warning(
                "Training status file %s not found. Not all functions will resume properly.", path
            )
            return status
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as err:
            raise RunError(f"{path}: not a valid training status file: {err}") from err
        if not isinstance(loaded, dict) or not isinstance(loaded.get(METADATA), dict):
            raise RunError(
                f"{path}: metadata not found; the run was saved by an incompatible version "
                "of ML-Agents or dojo. Start a new run id, or use --initialize-from to keep "
                "the weights only."
            )
        _check_compatibility(path, loaded[METADATA])
        status._state.update(loaded)
        return status

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the status to ``path`` atomically, with fresh metadata (JSON, indent 4)."""
        with self._lock:
            self._state[METADATA] = _metadata()
            text = json.dumps(self._state, indent=4)
        atomic_write_text(path, text)

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the state (without fresh metadata; :meth:`save` adds it)."""
        with self._lock:
            return json.loads(json.dumps(self._state))

    # ---------------------------------------------------------------------------------------
    # Checkpoints
    # ---------------------------------------------------------------------------------------

    def checkpoints(self, behavior: str) -> list[dict[str, Any]]:
        """The checkpoint entries of ``behavior``, oldest first (a copy)."""
        with self._lock:
            return [dict(entry) for entry in self._state.get(behavior, {}).get(CHECKPOINTS, [])]

    def final_checkpoint(self, behavior: str) -> dict[str, Any] | None:
        """The final checkpoint entry of ``behavior``, or ``None``."""
        with self._lock:
            entry = self._state.get(behavior, {}).get(FINAL_CHECKPOINT)
            return None if entry is None else dict(entry)

    def add_checkpoint(
        self, behavior: str, checkpoint: CheckpointInfo, keep_checkpoints: int
    ) -> list[Path]:
        """Record a new checkpoint and delete the oldest beyond ``keep_checkpoints``.

        The files of a dropped checkpoint (its ``.onnx`` and its ``.pt``) are deleted from disk;
        files already gone are skipped. ``keep_checkpoints <= 0`` keeps every checkpoint, as in
        ML-Agents.

        Returns:
            The files deleted, oldest checkpoint first.
        """
        with self._lock:
            checkpoints = self._state.setdefault(behavior, {}).setdefault(CHECKPOINTS, [])
            checkpoints.append(checkpoint_entry(checkpoint))
            dropped = []
            if keep_checkpoints > 0:
                while len(checkpoints) > keep_checkpoints:
                    dropped.append(checkpoints.pop(0))
        deleted: list[Path] = []
        for entry in dropped:
            for file_path in [entry["file_path"], *entry.get("auxillary_file_paths", [])]:
                path = Path(file_path)
                try:
                    path.unlink()
                except FileNotFoundError:
                    logger.debug("Checkpoint at %s could not be found.", path)
                    continue
                logger.debug("Removed checkpoint model %s.", path)
                deleted.append(path)
        return deleted

    def set_final_checkpoint(self, behavior: str, checkpoint: CheckpointInfo) -> None:
        """Record ``behavior``'s final model (``results/<run-id>/<Behavior>.onnx``)."""
        entry = checkpoint_entry(checkpoint)
        with self._lock:
            self._state.setdefault(behavior, {})[FINAL_CHECKPOINT] = entry

    # ---------------------------------------------------------------------------------------
    # Other per-behavior / per-parameter state
    # ---------------------------------------------------------------------------------------

    def set_field(self, category: str, key: str, value: Any) -> None:
        """Store a JSON-serialisable ``value`` (e.g. ``("difficulty", "lesson_num", 2)``)."""
        if category == METADATA:
            raise ValueError("'metadata' is written by save() and cannot be set")
        with self._lock:
            self._state.setdefault(category, {})[key] = value

    def get_field(self, category: str, key: str, default: Any = None) -> Any:
        """The value stored by :meth:`set_field` (or loaded from the file), else ``default``."""
        with self._lock:
            return self._state.get(category, {}).get(key, default)


def _check_compatibility(path: str | os.PathLike[str], saved: dict[str, Any]) -> None:
    """Warn (never fail) when the file was written by other versions."""
    current = _metadata()
    if saved.get("stats_format_version") != current["stats_format_version"]:
        logger.warning(
            "%s has format version %s, this version of dojo writes %s. Some things may not "
            "resume properly.",
            path,
            saved.get("stats_format_version"),
            current["stats_format_version"],
        )
    if saved.get("mlagents_version") != current["mlagents_version"]:
        logger.warning(
            "Checkpoint was saved by version %s (this is %s). Some things may not resume properly.",
            saved.get("mlagents_version"),
            current["mlagents_version"],
        )
    if saved.get("torch_version") != current["torch_version"]:
        logger.warning(
            "PyTorch checkpoint was saved with PyTorch %s (this is %s). Model may not resume "
            "properly.",
            saved.get("torch_version"),
            current["torch_version"],
        )
