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
The checkpoint list also decides which old checkpoint files to delete (``keep_checkpoints``),
after the status that no longer lists them was saved; a file of the behavior's folder that the
saved status does not list was left by an interrupted checkpoint (``--resume`` removes it).
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


def entry_files(entry: dict[str, Any]) -> list[str]:
    """The files of a checkpoint entry: its ``file_path`` then its auxiliary files."""
    return [entry["file_path"], *entry.get("auxillary_file_paths", [])]


def delete_checkpoint_files(paths: list[Path]) -> list[Path]:
    """Delete checkpoint files no longer listed in the saved status; files already gone are
    skipped, a file that cannot be deleted is left with a warning (``--resume`` tries again).
    Returns the files deleted."""
    deleted: list[Path] = []
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            logger.debug("Checkpoint at %s could not be found.", path)
            continue
        except OSError as err:
            logger.warning("Could not delete the old checkpoint %s: %s", path, err.strerror or err)
            continue
        logger.debug("Removed checkpoint model %s.", path)
        deleted.append(path)
    return deleted


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
            RunError: the file cannot be read, is not UTF-8 JSON, has no ``metadata`` (written
                by an incompatible version) or holds entries of the wrong type.
        """
        status = cls()
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            logger.warning(
                "Training status file %s not found. Not all functions will resume properly.", path
            )
            return status
        except UnicodeDecodeError as err:
            raise RunError(
                f"{path}: not a valid training status file (not UTF-8 text: {err.reason} at "
                f"byte {err.start}). {_REPAIR_HINT}"
            ) from err
        except OSError as err:
            raise RunError(f"{path}: cannot be read: {err.strerror or err}") from err
        try:
            loaded = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as err:
            raise RunError(f"{path}: not a valid training status file: {err}") from err
        if not isinstance(loaded, dict) or not isinstance(loaded.get(METADATA), dict):
            raise RunError(
                f"{path}: metadata not found; the run was saved by an incompatible version "
                "of ML-Agents or dojo. Start a new run id, or use --initialize-from to keep "
                "the weights only."
            )
        problem = _type_problem(loaded)
        if problem is not None:
            raise RunError(f"{path}: not a valid training status file: {problem}. {_REPAIR_HINT}")
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
        """Record a new checkpoint and drop the oldest beyond ``keep_checkpoints`` from the list.

        Nothing is deleted here: the caller saves the status first and then deletes the files
        returned (:func:`delete_checkpoint_files`), so that a run killed in between never
        leaves a status that lists deleted files. ``keep_checkpoints <= 0`` keeps every
        checkpoint, as in ML-Agents.

        Returns:
            The files of the dropped checkpoints (each ``.onnx`` then its ``.pt``), oldest
            first.
        """
        with self._lock:
            checkpoints = self._state.setdefault(behavior, {}).setdefault(CHECKPOINTS, [])
            checkpoints.append(checkpoint_entry(checkpoint))
            dropped = []
            if keep_checkpoints > 0:
                while len(checkpoints) > keep_checkpoints:
                    dropped.append(checkpoints.pop(0))
        return [Path(file) for entry in dropped for file in entry_files(entry)]

    def listed_files(self, behavior: str) -> set[str]:
        """Names (without folders) of every file ``behavior``'s checkpoint entries and final
        checkpoint refer to."""
        with self._lock:
            state = self._state.get(behavior, {})
            entries = [*state.get(CHECKPOINTS, [])]
            if state.get(FINAL_CHECKPOINT) is not None:
                entries.append(state[FINAL_CHECKPOINT])
            return {Path(file).name for entry in entries for file in entry_files(entry)}

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


_REPAIR_HINT = (
    "Restore the file from a backup, delete it to resume without it (the checkpoint list, "
    "lessons and ELO start over), or use --force to start the run again"
)


def _type_problem(loaded: dict[str, Any]) -> str | None:
    """What in a loaded status has the wrong type (``"CartPole.checkpoints[0].steps: expected
    an integer, found str"``), or ``None``."""
    for category, value in loaded.items():
        if not isinstance(value, dict):
            return f"{category}: expected an object, found {_json_type(value)}"
        if category == METADATA:
            continue
        checkpoints = value.get(CHECKPOINTS, [])
        if not isinstance(checkpoints, list):
            return f"{category}.{CHECKPOINTS}: expected a list, found {_json_type(checkpoints)}"
        for index, entry in enumerate(checkpoints):
            problem = _entry_problem(entry)
            if problem is not None:
                return f"{category}.{CHECKPOINTS}[{index}]{problem}"
        final = value.get(FINAL_CHECKPOINT)
        problem = None if final is None else _entry_problem(final)
        if problem is not None:
            return f"{category}.{FINAL_CHECKPOINT}{problem}"
        for key, kind, name in ((LESSON_NUM, int, "an integer"), (ELO, (int, float), "a number")):
            found = value.get(key)
            if key in value and (not isinstance(found, kind) or isinstance(found, bool)):
                return f"{category}.{key}: expected {name}, found {_json_type(found)}"
    return None


def _entry_problem(entry: Any) -> str | None:
    """``.<key>: expected ..., found ...`` for a checkpoint entry of the wrong shape."""
    if not isinstance(entry, dict):
        return f": expected an object, found {_json_type(entry)}"
    steps = entry.get("steps")
    if not isinstance(steps, int) or isinstance(steps, bool):
        return f".steps: expected an integer, found {_json_type(steps)}"
    if not isinstance(entry.get("file_path"), str):
        return f".file_path: expected a string, found {_json_type(entry.get('file_path'))}"
    auxiliary = entry.get("auxillary_file_paths", [])
    if not isinstance(auxiliary, list) or not all(isinstance(p, str) for p in auxiliary):
        return ".auxillary_file_paths: expected a list of strings"
    for key in ("reward", "creation_time"):
        found = entry.get(key)
        if found is not None and (not isinstance(found, (int, float)) or isinstance(found, bool)):
            return f".{key}: expected a number, found {_json_type(found)}"
    return None


def _json_type(value: Any) -> str:
    """The JSON name of ``value``'s type."""
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "an object"})
    return names.get(type(value), type(value).__name__)


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
