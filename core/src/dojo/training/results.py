"""The run's results folder: checks before anything is written, and its layout."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from pathlib import Path

from dojo.config.settings import CheckpointSettings
from dojo.errors import RunError

logger = logging.getLogger("dojo")


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


def missing_folders(folder: Path) -> list[Path]:
    """``folder`` and its parents that do not exist yet, innermost first."""
    missing = []
    for path in (folder, *folder.parents):
        if path.exists():
            break
        missing.append(path)
    return missing


def remove_new_folders(created: list[Path]) -> None:
    """Undo a set-up that failed or was stopped: remove the run folder if this run created it,
    and the parents it created if they are still empty.

    Before training starts the run folder only holds the players' logs (``run_logs/Player-<i>
    .log``); a build that crashed at start-up said why in its log, so a log that is not empty is
    moved to a temporary folder first and its new place is logged.
    """
    if not created:
        return
    logs = [p for p in sorted(created[0].glob("run_logs/Player-*.log")) if p.stat().st_size]
    if logs:
        kept = Path(tempfile.mkdtemp(prefix=f"dojo-{created[0].name}-player-logs-"))
        for log in logs:
            shutil.move(log, kept / log.name)
        logger.warning(
            "Nothing was trained, so no results folder is kept; the player's log is in %s",
            kept / logs[0].name if len(logs) == 1 else kept,
        )
    shutil.rmtree(created[0], ignore_errors=True)
    for parent in created[1:]:
        with contextlib.suppress(OSError):  # not empty: another run uses it now
            parent.rmdir()
