"""Saving and loading torch state (``checkpoint.pt``, ``<Behavior>-<step>.pt``).

A checkpoint is a dict of state dicts and plain values (ML-Agents' keys: ``Policy``,
``global_step``, ``Optimizer:...``, ``Module:...``). Writes are atomic: the data goes to a
temporary file in the destination folder, is flushed to disk, then renamed over the destination,
so an interrupted save never leaves a truncated checkpoint. Loading uses
``torch.load(weights_only=True)``: a checkpoint cannot execute code.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import torch

from dojo.errors import RunError


def save_state(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Atomically write ``state`` (tensors, state dicts, numbers, strings) to ``path``; its
    folder is created if missing. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        # O_EXCL: never write through a stale file or symlink; 0o666 is reduced by the umask.
        fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def load_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_state` (onto the CPU).

    Raises:
        RunError: the file does not exist, or is not a readable checkpoint (truncated, corrupt,
            or containing objects other than tensors and plain values).
    """
    path = Path(path)
    if not path.is_file():
        raise RunError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        # torch.load reports corruption as RuntimeError, UnpicklingError, EOFError, ... alike.
        raise RunError(
            f"checkpoint {path} cannot be read (corrupt, truncated or not a dojo checkpoint): {err}"
        ) from err
    if not isinstance(state, dict):
        raise RunError(
            f"checkpoint {path} holds a {type(state).__name__}, not a dict of saved states"
        )
    return state
