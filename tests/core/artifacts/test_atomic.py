"""Atomic writes: the old file survives any failure and no temporary file is left."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dojo.artifacts.atomic import atomic_write, atomic_write_bytes, atomic_write_text


def test_writes_text_and_bytes(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "a.json", '{"x": "é"}\n')
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "a.json").read_bytes() == '{"x": "é"}\n'.encode()
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.bin"]


def test_replaces_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "status.json"
    target.write_text("old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert list(tmp_path.iterdir()) == [target]


def test_failure_mid_write_keeps_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "timers.json"
    target.write_text("old content")
    with pytest.raises(RuntimeError, match="disk full"), atomic_write(target) as file:
        file.write("half of the new")
        raise RuntimeError("disk full")
    assert target.read_text() == "old content"
    assert list(tmp_path.iterdir()) == [target]


def test_failed_rename_keeps_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "timers.json"
    target.write_text("old content")

    def failing_replace(src: object, dst: object) -> None:
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="rename failed"):
        atomic_write_text(target, "new content")
    assert target.read_text() == "old content"
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_mode_follows_umask_and_existing_file(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.txt"
    atomic_write_text(fresh, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask

    kept = tmp_path / "kept.txt"
    kept.write_text("x")
    kept.chmod(0o640)
    atomic_write_text(kept, "y")
    assert kept.stat().st_mode & 0o777 == 0o640
