"""Writes a behavior's checkpoints and models in ML-Agents' layout and keeps the status list.

Layout (``results/<run-id>/``): ``<B>/checkpoint.pt`` (latest state, overwritten),
``<B>/<B>-<step>.pt`` and ``<B>/<B>-<step>.onnx`` (the last ``keep_checkpoints`` kept), and
``<B>.onnx`` (the final model). Every file is written atomically.

Order, so that a run killed at any moment leaves a consistent folder:

1. ``<B>-<step>.pt``, ``<B>-<step>.onnx``, then the trainer's resume files (SAC's replay
   buffer, the long write), then ``checkpoint.pt`` (what ``--resume`` loads; a short write
   right after the resume files, so the two rarely disagree, and a resumed trainer detects it
   when they do);
2. ``run_logs/training_status.json``, listing the new checkpoint and no longer listing those
   beyond ``keep_checkpoints``;
3. only then the files of the dropped checkpoints are deleted.

A kill before step 2 leaves ``<B>-<step>.*`` files the status does not list, a kill inside a
write leaves a ``.*.tmp`` file: ``--resume`` removes both
(:func:`dojo.training.results.remove_interrupted_writes`). A kill during step 3 leaves old
files the status no longer lists, removed the same way.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from dojo.api import CheckpointInfo, Trainer
from dojo.artifacts.atomic import atomic_write_bytes, reporting_write_errors
from dojo.artifacts.training_status import TrainingStatus, delete_checkpoint_files

logger = logging.getLogger("dojo")


def status_path(run_dir: Path) -> Path:
    """``<run_dir>/run_logs/training_status.json``."""
    return Path(run_dir) / "run_logs" / "training_status.json"


class CheckpointWriter:
    """Saves trainers' checkpoints under ``run_dir`` and records them in the status file."""

    def __init__(self, run_dir: Path, status: TrainingStatus) -> None:
        self.run_dir = Path(run_dir)
        self.status = status

    def behavior_dir(self, behavior_name: str) -> Path:
        return self.run_dir / behavior_name

    def save(self, trainer: Trainer, reward: float | None, final: bool = False) -> CheckpointInfo:
        """Write ``<B>-<step>.pt``, ``<B>-<step>.onnx``, the trainer's resume files and
        ``checkpoint.pt`` for ``trainer``, save the status, then delete the checkpoints beyond
        ``keep_checkpoints`` (in that order; see the module's docstring).

        With ``final`` the ONNX model is also copied to ``results/<run-id>/<B>.onnx``.
        """
        name = trainer.behavior_name
        folder = self.behavior_dir(name)
        step = int(trainer.step)
        with reporting_write_errors(
            f"the checkpoint of {name} at step {step} in {folder}", self._intact_hint(name)
        ):
            return self._save(trainer, reward, final, folder, step)

    def _save(
        self, trainer: Trainer, reward: float | None, final: bool, folder: Path, step: int
    ) -> CheckpointInfo:
        name = trainer.behavior_name
        folder.mkdir(parents=True, exist_ok=True)
        pt_path = folder / f"{name}-{step}.pt"
        onnx_path = folder / f"{name}-{step}.onnx"
        info = CheckpointInfo(name, step, pt_path, onnx_path, reward, time.time(), final)
        already_saved = any(c["steps"] == step for c in self.status.checkpoints(name))
        dropped: list[Path] = []
        if not (already_saved and pt_path.exists() and onnx_path.exists()):
            trainer.save_checkpoint(pt_path)
            trainer.export_onnx(onnx_path)
            trainer.save_resume_files(folder)
            trainer.save_checkpoint(folder / "checkpoint.pt")
            dropped = self.status.add_checkpoint(name, info, int(trainer.settings.keep_checkpoints))
            logger.info("Exported %s", onnx_path)
        if final:
            final_path = self.run_dir / f"{name}.onnx"
            atomic_write_bytes(final_path, onnx_path.read_bytes())
            info = CheckpointInfo(name, step, pt_path, final_path, reward, info.creation_time, True)
            self.status.set_final_checkpoint(name, info)
            logger.info("Copied %s to %s.", onnx_path, final_path)
        path = status_path(self.run_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.status.save(path)
        # The files live in the behavior's folder whatever folder the status was written from.
        delete_checkpoint_files([folder / path.name for path in dropped])
        return info

    def _intact_hint(self, name: str) -> str:
        """What a user reads after a failed checkpoint write: what is still there."""
        listed = self.status.checkpoints(name)
        if not listed:
            return "No checkpoint of it was saved before."
        return (
            f"The previous checkpoint (step {listed[-1]['steps']}) and training_status.json "
            "are intact: make room, then continue with --resume."
        )
