"""Writes a behavior's checkpoints and models in ML-Agents' layout and keeps the status list.

Layout (``results/<run-id>/``): ``<B>/checkpoint.pt`` (latest state, overwritten),
``<B>/<B>-<step>.pt`` and ``<B>/<B>-<step>.onnx`` (the last ``keep_checkpoints`` kept), and
``<B>.onnx`` (the final model). Every file is written atomically.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from dojo.api import CheckpointInfo, Trainer
from dojo.artifacts.atomic import atomic_write_bytes
from dojo.artifacts.training_status import TrainingStatus

logger = logging.getLogger("dojo")


class CheckpointWriter:
    """Saves trainers' checkpoints under ``run_dir`` and records them in the status file."""

    def __init__(self, run_dir: Path, status: TrainingStatus) -> None:
        self.run_dir = Path(run_dir)
        self.status = status

    def behavior_dir(self, behavior_name: str) -> Path:
        return self.run_dir / behavior_name

    def save(self, trainer: Trainer, reward: float | None, final: bool = False) -> CheckpointInfo:
        """Write ``checkpoint.pt``, ``<B>-<step>.pt`` and ``<B>-<step>.onnx`` for ``trainer``.

        With ``final`` the ONNX model is also copied to ``results/<run-id>/<B>.onnx``.
        """
        name = trainer.behavior_name
        folder = self.behavior_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        step = int(trainer.step)
        pt_path = folder / f"{name}-{step}.pt"
        onnx_path = folder / f"{name}-{step}.onnx"
        info = CheckpointInfo(name, step, pt_path, onnx_path, reward, time.time(), final)
        already_saved = any(c["steps"] == step for c in self.status.checkpoints(name))
        if not (already_saved and pt_path.exists() and onnx_path.exists()):
            trainer.save_checkpoint(folder / "checkpoint.pt")
            trainer.save_checkpoint(pt_path)
            trainer.export_onnx(onnx_path)
            self.status.add_checkpoint(name, info, int(trainer.settings.keep_checkpoints))
            logger.info("Exported %s", onnx_path)
        if final:
            final_path = self.run_dir / f"{name}.onnx"
            atomic_write_bytes(final_path, onnx_path.read_bytes())
            final_info = CheckpointInfo(
                name, step, pt_path, final_path, reward, info.creation_time, True
            )
            self.status.set_final_checkpoint(name, final_info)
            logger.info("Copied %s to %s.", onnx_path, final_path)
            return final_info
        return info
