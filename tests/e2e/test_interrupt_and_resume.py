"""Ctrl+C and SIGTERM save the run like a normal end, and ``--resume`` continues it."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest
import torch

from .helpers import (
    CARTPOLE,
    Completed,
    LearnProcess,
    cartpole_config,
    learn,
    read_scalars,
    write_config,
)

RUN_ARGS = ["long.yaml", "--run-id=long", "--seed=0", "--results-dir=results"]


def _interrupted_run(cwd: Path, signum: int) -> Completed:
    """Start a run that would take long (max_steps 10^6), stop it with ``signum`` once the
    first progress line is printed."""
    write_config(cwd / "long.yaml", cartpole_config(max_steps=1_000_000))
    process = LearnProcess(RUN_ARGS, cwd)
    try:
        process.wait_for_step_line()
        process.send_signal(signum)
        return process.wait()
    finally:
        process.kill()


def _global_step(checkpoint: Path) -> int:
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    return int(state["global_step"])


def _assert_saved(cwd: Path, completed: Completed) -> int:
    """Exit code 0 and every artifact of a finished run; returns the saved step."""
    assert completed.returncode == 0, completed.describe()
    assert "Traceback" not in completed.output
    run_dir = cwd / "results" / "long"
    step = _global_step(run_dir / CARTPOLE / "checkpoint.pt")
    assert step >= 500, "stopped after the first summary at step 500"
    assert (run_dir / "CartPole.onnx").is_file()
    assert (run_dir / CARTPOLE / f"CartPole-{step}.onnx").is_file()
    status = json.loads((run_dir / "run_logs" / "training_status.json").read_text())
    assert status["CartPole"]["final_checkpoint"]["steps"] == step
    assert (run_dir / "configuration.yaml").is_file()
    assert (run_dir / "run_logs" / "timers.json").is_file()
    return step


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Completed]:
    cwd = tmp_path_factory.mktemp("ctrl_c")
    return cwd, _interrupted_run(cwd, signal.SIGINT)


def test_ctrl_c_saves_and_exits_0(interrupted: tuple[Path, Completed]) -> None:
    cwd, completed = interrupted
    step = _assert_saved(cwd, completed)
    assert max(completed.steps()) <= step


def test_ctrl_c_with_environment_workers_saves_and_leaves_no_process(tmp_path: Path) -> None:
    config = cartpole_config(max_steps=1_000_000)
    config["env_settings"]["vectorization_mode"] = "async"
    write_config(tmp_path / "long.yaml", config)
    process = LearnProcess(RUN_ARGS, tmp_path)
    try:
        process.wait_for_step_line()
        process.interrupt()  # the whole process group, workers included, as a terminal does
        completed = process.wait()
        _assert_saved(tmp_path, completed)
        assert "worker" not in completed.stderr, completed.describe()
        # Every worker has ended with the command: nothing of its group runs any more.
        assert _running_in_group(process.process.pid) == []
    finally:
        process.kill()


def _running_in_group(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are not zombies (Linux ``/proc``)."""
    running = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            running.append(int(stat.parent.name))
    return running


def test_sigterm_saves_and_exits_0(tmp_path: Path) -> None:
    completed = _interrupted_run(tmp_path, signal.SIGTERM)
    _assert_saved(tmp_path, completed)


def test_resume_continues_from_the_saved_step(
    interrupted: tuple[Path, Completed], tmp_path: Path
) -> None:
    cwd = tmp_path / "run"
    shutil.copytree(interrupted[0], cwd)  # the interrupted run stays as it was for other tests
    behavior_dir = cwd / "results" / "long" / CARTPOLE
    saved = _global_step(behavior_dir / "checkpoint.pt")
    before = read_scalars(behavior_dir)

    # max_steps must be raised to train further (as in ML-Agents).
    write_config(cwd / "long.yaml", cartpole_config(max_steps=saved + 1500))
    resumed = learn([*RUN_ARGS, "--resume"], cwd)

    assert resumed.returncode == 0, resumed.describe()
    assert resumed.steps(), resumed.stdout
    assert resumed.steps()[0] > saved
    assert _global_step(behavior_dir / "checkpoint.pt") > saved
    # The TensorBoard curves go on where they stopped: no step restarts at or below an
    # earlier one, across the event files of both runs.
    after = read_scalars(behavior_dir)
    for tag, points in after.items():
        steps = [step for step, _ in points]
        assert steps == sorted(set(steps)), f"{tag} restarts: {steps}"
        assert points[: len(before.get(tag, []))] == before.get(tag, []), tag
    assert len(after["Environment/Cumulative Reward"]) > len(
        before["Environment/Cumulative Reward"]
    )
