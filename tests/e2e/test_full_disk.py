"""Results that cannot be written or read: a full disk during training (a small tmpfs), an
unusable ``--results-dir``, an unreadable ``training_status.json`` on ``--resume``.

Each gives exactly one ``error:`` line on stderr, exit code 1 and no traceback; a full disk
leaves the last checkpoint and status intact (``--resume`` continues from them once there is
room), the others leave the results folder untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from .conftest import FinishedRun, copy_run
from .helpers import (
    CARTPOLE,
    LearnProcess,
    cartpole_config,
    learn,
    snapshot,
    write_config,
)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder`` (root only; the test is skipped otherwise)."""
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Write a file into ``folder`` until its file system is full."""
    filler = folder / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb") as file, contextlib.suppress(OSError):
        while True:
            file.write(chunk)
            file.flush()
    return filler


def status_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "run_logs" / "training_status.json").read_text())


def wait_for_checkpoint(run_dir: Path, process: LearnProcess, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError, KeyError):
            if status_of(run_dir)[CARTPOLE]["checkpoints"]:
                return
        assert process.process.poll() is None, process.wait().describe()
        time.sleep(0.05)
    raise AssertionError("no checkpoint within the timeout")


def assert_one_error_line(stderr: str, *fragments: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("first_write", "summary_freq", "checkpoint_interval"),
    [("checkpoint", 100_000, 500), ("summary", 100, 1000)],
)
def test_full_disk_during_training_gives_one_error_and_keeps_the_last_checkpoint(
    tmp_path: Path, first_write: str, summary_freq: int, checkpoint_interval: int
) -> None:
    with tmpfs(tmp_path / "disk", "4m") as disk:
        config = cartpole_config(
            max_steps=200_000, summary_freq=summary_freq, checkpoint_interval=checkpoint_interval
        )
        write_config(tmp_path / "cartpole.yaml", config)
        args = ["cartpole.yaml", "--run-id=full", f"--results-dir={disk}", "--seed=0"]
        run_dir = disk / "full"
        process = LearnProcess(args, tmp_path)
        try:
            wait_for_checkpoint(run_dir, process)
            filler = fill(disk)
            completed = process.wait()
        finally:
            process.kill()
        assert completed.returncode == 1, completed.describe()
        assert "Traceback" not in completed.output, completed.describe()
        expected = "TensorBoard events" if first_write == "summary" else "checkpoint of CartPole"
        assert_one_error_line(completed.stderr, "could not write", expected, "No space left")

        # The last checkpoint and the status that lists it are intact.
        listed = status_of(run_dir)[CARTPOLE]["checkpoints"]
        for entry in listed:
            for path in [entry["file_path"], *entry["auxillary_file_paths"]]:
                assert (run_dir / CARTPOLE / Path(path).name).stat().st_size > 0
        latest = torch.load(run_dir / CARTPOLE / "checkpoint.pt", weights_only=True)
        step = int(latest["global_step"])
        assert step >= listed[-1]["steps"]

        # With room again, --resume continues from it.
        filler.unlink()
        write_config(tmp_path / "cartpole.yaml", cartpole_config(max_steps=step + 500))
        resumed = learn([*args, "--resume"], tmp_path)
        assert resumed.returncode == 0, resumed.describe()
        assert min(resumed.steps()) > step
        assert not list(run_dir.rglob("*.tmp"))


# ---------------------------------------------------------------------- unusable --results-dir
def unusable_results_dirs(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "a_file").write_text("not a folder")
    return {"a file": tmp_path / "a_file", "under a file": tmp_path / "a_file" / "results"}


@pytest.mark.parametrize("case", ["a file", "under a file", "read-only"])
def test_unusable_results_dir_is_refused_before_the_environment_is_built(
    tmp_path: Path, case: str
) -> None:
    write_config(tmp_path / "cartpole.yaml", cartpole_config())
    with contextlib.ExitStack() as stack:
        if case == "read-only":
            results = stack.enter_context(tmpfs(tmp_path / "ro", "1m", read_only=True))
        else:
            results = unusable_results_dirs(tmp_path)[case]
        before = snapshot(tmp_path)
        # An environment that cannot be built: the results folder must be refused first.
        args = ["cartpole.yaml", "--run-id=r", f"--results-dir={results}"]
        completed = learn([*args, "--env=gymnasium:NoSuchEnvironment-v0"], tmp_path)
        assert completed.returncode == 1, completed.describe()
        assert "Traceback" not in completed.output
        reason = "read-only" if case == "read-only" else "not a folder"
        assert_one_error_line(completed.stderr, "--results-dir", reason)
        assert snapshot(tmp_path) == before


# ---------------------------------------------------------------------- training_status.json
@pytest.mark.parametrize(
    "content",
    [
        b'{"metadata": {}, "CartPole": {"checkpoints": [{"steps": 1\xff\xfe}]}}',
        b'{"metadata": {"stats_format_version": "0.3.0"}, "CartPole": {"checkpoints": 7}}',
        b'{"metadata": {}, "CartPole": {"checkpoints": [{"steps": "1000", "file_path": "x"}]}}',
        b'{"metadata": {}, "CartPole": ["not", "an", "object"]}',
    ],
    ids=["not-utf8", "checkpoints-not-a-list", "steps-a-string", "behavior-not-an-object"],
)
def test_unreadable_training_status_is_one_error_before_anything_is_written(
    tmp_path: Path, cartpole_run: FinishedRun, content: bytes
) -> None:
    run = copy_run(cartpole_run, tmp_path)
    (run.run_dir / "run_logs" / "training_status.json").write_bytes(content)
    before = snapshot(run.run_dir)
    args = [run.config.name, f"--run-id={run.run_id}", "--results-dir=results", "--resume"]
    completed = learn(args, run.cwd)
    assert completed.returncode == 1, completed.describe()
    assert "Traceback" not in completed.output
    assert_one_error_line(completed.stderr, "training_status.json", "not a valid training status")
    assert snapshot(run.run_dir) == before
