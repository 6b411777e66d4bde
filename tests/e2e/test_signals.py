"""SIGTERM (``docker stop``, systemd, Kubernetes) stops a run like Ctrl+C in both vectorization
modes, sent to the whole process group or to the trainer alone: it saves and exits 0. A stop
also ends a run whose environment hangs in ``step()``, and the run still saves."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch

from .helpers import Completed, LearnProcess
from .test_env_faults_run import (
    RUN_ARGS,
    faulty_config,
    importable_faulty_envs,
    non_finite_weights,
)
from .test_interrupt_and_resume import _running_in_group


def _stop(process: LearnProcess, signum: int, group: bool) -> tuple[Completed, float]:
    """Send ``signum`` to the command's group or to the command alone; the result and the
    seconds it took to exit."""
    started = time.monotonic()
    if group:
        os.killpg(process.process.pid, signum)
    else:
        process.send_signal(signum)
    completed = process.wait()
    return completed, time.monotonic() - started


def _assert_saved(run_dir: Path, behavior: str, completed: Completed) -> None:
    """Exit 0 without an error or a traceback, and a final checkpoint, model and status."""
    assert completed.returncode == 0, completed.describe()
    assert "Traceback" not in completed.output and "error" not in completed.stderr, (
        completed.describe()
    )
    state = torch.load(run_dir / behavior / "checkpoint.pt", weights_only=True)
    step = int(state["global_step"])
    assert step >= 500, completed.describe()
    assert (run_dir / f"{behavior}.onnx").is_file()
    status = json.loads((run_dir / "run_logs" / "training_status.json").read_text())
    assert status[behavior]["final_checkpoint"]["steps"] == step
    assert non_finite_weights(run_dir) == []


@pytest.mark.parametrize(
    ("mode", "group"),
    [("async", True), ("async", False), ("sync", True)],
    ids=["async-group", "async-trainer", "sync-group"],
)
def test_sigterm_saves_and_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, group: bool
) -> None:
    """The environment steps take 2 ms (a simulator): the signal reaches the workers while the
    trainer waits for them, as it mostly does in real runs."""
    importable_faulty_envs(tmp_path, monkeypatch)
    faulty_config(tmp_path, mode, "slow", at=0, max_steps=1_000_000)
    process = LearnProcess(RUN_ARGS, tmp_path)
    try:
        process.wait_for_step_line()
        completed, _ = _stop(process, signal.SIGTERM, group)
        _assert_saved(tmp_path / "results" / "bad", "Faulty", completed)
        assert "Received SIGTERM: saving and stopping." in completed.stdout
        assert _running_in_group(process.process.pid) == []  # no worker left behind
    finally:
        process.kill()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_sigterm_abandons_a_hung_step_and_the_run_saves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Copy 2 sleeps for an hour in its step 300 (total step ~1200): SIGTERM to the group a
    second later ends the run within docker stop's 10 s, saved, with one warning."""
    importable_faulty_envs(tmp_path, monkeypatch)
    faulty_config(tmp_path, mode, "hang", max_steps=1_000_000)
    process = LearnProcess(RUN_ARGS, tmp_path)
    try:
        process.wait_for_text("Step: 1000")
        time.sleep(1.0)
        completed, elapsed = _stop(process, signal.SIGTERM, group=True)
        _assert_saved(tmp_path / "results" / "bad", "Faulty", completed)
        warnings = [line for line in completed.stdout.splitlines() if "[WARNING]" in line]
        assert warnings == [
            "[WARNING] gymnasium:"
            + ("dojo_env_faults:" if mode == "async" else "")
            + "Faulty-v0: step() did not return within 2 s of the stop request: the "
            "environment was abandoned and its unfinished step is not trained on."
        ], completed.describe()
        assert elapsed < 10, elapsed
        assert _running_in_group(process.process.pid) == []
    finally:
        process.kill()
