"""Atomic file writes: readers see the old file or the new one, never half of either.

Run artifacts (``timers.json``, ``training_status.json``, ``configuration.yaml``) are rewritten
while a run is alive and must survive a kill or a full disk at any moment: ``--resume`` reads
them back. Each write goes to a temporary file in the same folder (so the final rename never
crosses a file system), is flushed and fsynced, then renamed over the target with
:func:`os.replace`, which is atomic on POSIX and Windows.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], binary: bool = False) -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` when the ``with`` block ends cleanly.

    If the block raises, the temporary file is deleted and ``path`` is left untouched.

    Args:
        path: the file to (re)write; its folder must exist.
        binary: open in ``"wb"`` mode instead of UTF-8 text mode.

    Yields:
        The open temporary file.
    """
    target = Path(path)
    # A hidden name next to the target; the random part keeps concurrent writers apart.
    temp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # os.open with 0o666 lets the umask decide the mode, like a plain open() would
    # (tempfile.mkstemp would create a 0600 file that stays private after the rename).
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        mode = "wb" if binary else "w"
        encoding = None if binary else "utf-8"
        newline = None if binary else "\n"
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        _copy_mode(target, temp)
        os.replace(temp, target)
    except BaseException:
        # Also on KeyboardInterrupt: never leave a stray temporary file behind.
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_folder(target.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8, ``\\n`` line endings) atomically."""
    with atomic_write(path) as file:
        file.write(text)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically."""
    with atomic_write(path, binary=True) as file:
        file.write(data)


def _copy_mode(target: Path, temp: Path) -> None:
    """Keep the permissions of a file being replaced (a user may have made it read-only)."""
    try:
        mode = target.stat().st_mode
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.chmod(temp, mode & 0o7777)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX only; Windows cannot open folders)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
