"""The run's results folder: checks before anything is written, and its layout."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from dojo.artifacts.atomic import remove_temporary_files
from dojo.artifacts.training_status import TrainingStatus
from dojo.config.settings import CheckpointSettings
from dojo.errors import RunError

logger = logging.getLogger("dojo")


def run_directory(checkpoint: CheckpointSettings) -> Path:
    """``<results_dir>/<run_id>``."""
    return Path(checkpoint.results_dir) / checkpoint.run_id


def check_run_directory(checkpoint: CheckpointSettings) -> Path:
    """Refuse a run whose folder contradicts ``--resume``, ``--force`` or ``--initialize-from``,
    or cannot be written.

    Nothing is created or changed here.

    Returns:
        The run folder.

    Raises:
        RunError: the run id exists without ``--resume``/``--force``, ``--resume`` names a run
            that does not exist, ``--initialize-from`` names a missing run, or the run folder
            cannot be created or written (``--results-dir`` is a file, is under a file, or is
            read-only).
    """
    run_dir = run_directory(checkpoint)
    check_writable(run_dir, checkpoint.results_dir)
    if checkpoint.resume:
        if not (run_dir / "run_logs" / "training_status.json").exists() and not run_dir.is_dir():
            raise RunError(
                f"Previous data from this run ID was not found: {run_dir} does not exist. "
                "Train a new run by removing the --resume flag."
            )
    elif run_dir.exists() and not checkpoint.force:
        if not has_checkpoint(run_dir):
            raise RunError(
                f"Previous data from this run ID was found in {run_dir}, but no checkpoint: "
                "that run stopped before its first one (or is still starting). Use --resume "
                "to start it again from step 0 in the same folder, --force to overwrite its "
                "data, or another --run-id."
            )
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


def check_writable(run_dir: Path, results_dir: str | os.PathLike[str]) -> None:
    """Refuse a run folder that cannot be created or written, before anything is built.

    The run folder itself when it exists (with ``run_logs`` and its behaviors' folders), else
    the nearest folder on its way that exists, must be a writable folder.

    Raises:
        RunError: naming ``--results-dir`` and the path at fault.
    """
    existing = next((p for p in (run_dir, *run_dir.parents) if os.path.lexists(p)), Path("."))
    where = f"--results-dir {str(results_dir)!r}"
    if not existing.is_dir():
        what = "the run folder" if existing == run_dir else "a folder on its way"
        raise RunError(
            f"{where}: cannot create the run folder {run_dir}: {existing} ({what}) is a file, "
            "not a folder. Choose another --results-dir or --run-id."
        )
    folders = [existing]
    if existing == run_dir:
        folders += [p for p in sorted(run_dir.iterdir()) if p.is_dir()]
    for folder in folders:
        if not os.access(folder, os.W_OK | os.X_OK):
            raise RunError(
                f"{where}: cannot write in {folder} ({_unwritable_reason(folder)}). Choose a "
                "writable --results-dir, or change the folder's permissions."
            )


def _unwritable_reason(folder: Path) -> str:
    with contextlib.suppress(OSError):
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read-only file system"
    return "permission denied"


def has_checkpoint(run_dir: Path) -> bool:
    """Whether any behavior of the run in ``run_dir`` saved a ``checkpoint.pt``."""
    return any(run_dir.glob("*/checkpoint.pt"))


def remove_interrupted_writes(run_dir: Path, status: TrainingStatus) -> list[Path]:
    """Delete what checkpoints interrupted by a kill left in ``run_dir`` (``--resume``).

    That is every temporary file of an atomic write (``.<name>.<random>.tmp``), and every
    ``<B>/<B>-<step>.pt`` / ``.onnx`` that the saved ``status`` does not list: written
    before a kill and never recorded, or no longer listed but not yet deleted
    (:mod:`dojo.training.checkpoints` saves the status before deleting). ``checkpoint.pt``,
    replay buffers and event files are kept. Returns the files deleted.
    """
    removed = remove_temporary_files(run_dir)
    for folder in sorted(p for p in run_dir.iterdir() if p.is_dir()):
        listed = status.listed_files(folder.name)
        pattern = re.compile(rf"{re.escape(folder.name)}-\d+\.(pt|onnx)")
        for path in sorted(folder.iterdir()):
            if pattern.fullmatch(path.name) and path.name not in listed and path.is_file():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    for path in removed:
        logger.info("Removed %s, left by a checkpoint that a stopped run did not finish.", path)
    return removed


def clear_run_directory(run_dir: Path) -> None:
    """``--force``: delete the previous run's files from ``run_dir`` (its checkpoints, models,
    status and logs), so that nothing of it mixes with the new run. The players' logs in
    ``run_logs`` belong to this run's environment (started before) and are kept."""
    if not run_dir.is_dir():
        return
    for path in sorted(run_dir.iterdir()):
        if path.name == "run_logs" and path.is_dir() and not path.is_symlink():
            for log in sorted(path.iterdir()):
                if not re.fullmatch(r"Player-\d+\.log", log.name):
                    _remove(log)
            continue
        _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


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
