"""The run's results folder: checks before anything is written, and its layout."""

from __future__ import annotations

from pathlib import Path

from dojo.config.settings import CheckpointSettings
from dojo.errors import RunError


def run_directory(checkpoint: CheckpointSettings) -> Path:
    """``<results_dir>/<run_id>``."""
    return Path(checkpoint.results_dir) / checkpoint.run_id


def check_run_directory(checkpoint: CheckpointSettings) -> Path:
    """Refuse a run whose folder contradicts ``--resume``, ``--force`` or ``--initialize-from``.

    Nothing is created or changed here.

    Returns:
        The run folder.

    Raises:
        RunError: the run id exists without ``--resume``/``--force``, ``--resume`` names a run
            that does not exist, or ``--initialize-from`` names a missing run.
    """
    run_dir = run_directory(checkpoint)
    if checkpoint.resume:
        if not (run_dir / "run_logs" / "training_status.json").exists() and not run_dir.is_dir():
            raise RunError(
                f"Previous data from this run ID was not found: {run_dir} does not exist. "
                "Train a new run by removing the --resume flag."
            )
    elif run_dir.exists() and not checkpoint.force:
        raise RunError(
            f"Previous data from this run ID was found in {run_dir}. Either specify a new run ID "
            "(--run-id), use --resume to resume this run, or use --force to overwrite its data."
        )
    if checkpoint.initialize_from is not None:
        source = Path(checkpoint.results_dir) / checkpoint.initialize_from
        if not source.is_dir():
            raise RunError(
                f"--initialize-from {checkpoint.initialize_from!r}: "
                f"no previous run found at {source}."
            )
    return run_dir


def initialize_path(
    checkpoint: CheckpointSettings, behavior_name: str, init_path: str | None
) -> Path:
    """Checkpoint to warm-start ``behavior_name`` from (``--initialize-from`` / ``init_path``)."""
    source = Path(checkpoint.results_dir) / str(checkpoint.initialize_from)
    if init_path is None:
        return source / behavior_name / "checkpoint.pt"
    path = Path(init_path)
    if path.is_absolute() or path.parent != Path("."):
        return path
    return source / behavior_name / path
