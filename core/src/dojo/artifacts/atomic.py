"""Atomic file writes: readers see the old file or the new one, never half of either.

Run artifacts (``timers.json``, ``training_status.json``, ``configuration.yaml``) are rewritten
while a run is alive and must survive a kill or a full disk at any moment: ``--resume`` reads
them back. Each write goes to a temporary file in the same folder (so the final rename never
crosses a file system), is flushed and fsynced, then renamed over the target with
:func:`os.replace`, which is atomic on POSIX and Windows.

:func:`atomic_write` is the one routine every writer of run artifacts goes through (status
files here, checkpoints, ONNX models, replay buffers). Its temporary file is named
``.<target name>.<random>.tmp``: a process killed mid-write leaves such a file, and
:func:`remove_temporary_files` clears them when the run is resumed.
:func:`reporting_write_errors` turns a failed write (a full disk, a read-only folder) into one
:class:`~dojo.errors.ResultsWriteError`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from dojo.errors import ResultsWriteError

#: Temporary files of interrupted writes: ``.<target name>.<random>.tmp``.
TEMPORARY_FILE_PATTERN = ".*.tmp"


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


def remove_temporary_files(folder: Path) -> list[Path]:
    """Delete the temporary files that interrupted writes left anywhere under ``folder``.

    Only names of the form ``.<name>.<random>.tmp`` are touched. Returns the files deleted.
    """
    removed = []
    for path in sorted(Path(folder).rglob(TEMPORARY_FILE_PATTERN)):
        if not path.is_file() or path.is_symlink():
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def os_error_of(err: BaseException) -> OSError | None:
    """The :class:`OSError` behind ``err``: ``err`` itself or one in its chain of causes.

    ``torch.save`` reports a full disk as a ``RuntimeError`` raised while handling the
    ``OSError``; this finds the ``OSError`` either way.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def write_error_message(err: OSError, what: str) -> str:
    """``could not write <what>: <reason>`` (the reason without Python's ``[Errno N]``)."""
    reason = err.strerror or str(err) or type(err).__name__
    return f"could not write {what}: {reason}"


@contextlib.contextmanager
def reporting_write_errors(what: str, hint: str = "") -> Iterator[None]:
    """Turn a failed write inside the block into one :class:`~dojo.errors.ResultsWriteError`.

    Any exception caused by an :class:`OSError` (a full disk, a read-only or removed folder,
    quota, I/O error) becomes ``could not write <what>: <reason>. <hint>``; other exceptions
    pass unchanged.
    """
    try:
        yield
    except ResultsWriteError:
        raise
    except Exception as err:
        cause = os_error_of(err)
        if cause is None:
            raise
        message = write_error_message(cause, what)
        raise ResultsWriteError(f"{message}. {hint}" if hint else message) from err
