"""A run whose environment turns bad mid-run (a wrong observation or reward, a crash in reset, a
killed worker) stops with one error line and no traceback, and every checkpoint and model it
leaves holds finite weights."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from tests.core.envs.test_env_faults import FAULTY_ENVS

from .helpers import Completed, LearnProcess, cartpole_config, learn, write_config

RUN_ARGS = ["config.yaml", "--run-id=bad", "--results-dir=results", "--seed=3"]
PYTHONPATH = os.environ.get("PYTHONPATH", "")


def importable_faulty_envs(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Write the ``dojo_env_faults`` module into ``cwd`` and put it on the ``PYTHONPATH`` of
    the commands the test runs (in front of what was there)."""
    (cwd / "dojo_env_faults.py").write_text(FAULTY_ENVS)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(cwd), PYTHONPATH])))


def faulty_config(cwd: Path, mode: str, fault: str, at: int = 300, **behavior: Any) -> Path:
    """A CartPole run on ``Faulty-v0`` (copy 2 turns bad at its step ``at``), checkpointing
    every 200 steps; call :func:`importable_faulty_envs` too."""
    settings = {"checkpoint_interval": 200, "max_steps": 3000, **behavior}
    config = cartpole_config(**settings)
    config["behaviors"] = {"Faulty": config["behaviors"]["CartPole"]}
    config["env_settings"] = {
        "env_path": "gymnasium:dojo_env_faults:Faulty-v0",
        "num_envs": 4,
        "vectorization_mode": mode,
        "env_args": [f"fault={fault}", f"at={at}"],
    }
    return write_config(cwd / "config.yaml", config)


def non_finite_weights(run_dir: Path) -> list[str]:
    """Every ``.pt`` and ``.onnx`` file of the run holding a NaN or infinite float (``name:
    tensor``); each ``.pt`` must load with ``weights_only=True``."""
    bad = []
    for path in sorted(run_dir.rglob("*.pt")):
        state = torch.load(path, map_location="cpu", weights_only=True)
        bad += [f"{path.name}: {name}" for name in _non_finite_tensors(state, "")]
    for path in sorted(run_dir.rglob("*.onnx")):
        for tensor in onnx.load(str(path)).graph.initializer:
            array = numpy_helper.to_array(tensor)
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                bad.append(f"{path.name}: {tensor.name}")
    return bad


def _non_finite_tensors(value: Any, name: str) -> list[str]:
    if isinstance(value, torch.Tensor):
        finite = not value.is_floating_point() or bool(torch.isfinite(value).all())
        return [] if finite else [name]
    if isinstance(value, dict):
        return [n for k, v in value.items() for n in _non_finite_tensors(v, f"{name}.{k}")]
    if isinstance(value, (list, tuple)):
        return [n for i, v in enumerate(value) for n in _non_finite_tensors(v, f"{name}.{i}")]
    return []


def assert_one_error(completed: Completed, said: str) -> None:
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert completed.returncode == 1, completed.describe()
    assert len(errors) == 1 and "Traceback" not in completed.output, completed.describe()
    assert said in errors[0], errors[0]


def assert_finite_checkpoints(run_dir: Path, completed: Completed) -> None:
    checkpoints = list((run_dir / "Faulty").glob("*.pt"))
    assert len(checkpoints) >= 3, completed.describe()  # checkpoint.pt and two or more steps
    assert non_finite_weights(run_dir) == []


@pytest.mark.parametrize(
    ("mode", "fault", "said"),
    [
        ("sync", "short_obs", "copy 2 returned a wrong observation at step"),
        ("async", "dict_obs", "copy 2 returned a wrong observation at step"),
        ("async", "string_reward", "copy 2 returned a wrong reward at step"),
        ("sync", "raise_reset", "copy 2 failed in step(): RuntimeError: the simulator crashed"),
    ],
)
def test_an_environment_turning_bad_mid_run_is_one_error_and_checkpoints_stay_finite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, fault: str, said: str
) -> None:
    importable_faulty_envs(tmp_path, monkeypatch)
    faulty_config(tmp_path, mode, fault)

    completed = learn(RUN_ARGS, tmp_path)

    assert_one_error(completed, said)
    assert_finite_checkpoints(tmp_path / "results" / "bad", completed)


def test_a_killed_worker_is_one_error_and_checkpoints_stay_finite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    importable_faulty_envs(tmp_path, monkeypatch)
    faulty_config(tmp_path, "async", "none", max_steps=1_000_000)
    process = LearnProcess(RUN_ARGS, tmp_path)
    try:
        process.wait_for_text("Step: 1000")
        signal_worker(process.process.pid, 1, signal.SIGKILL)
        completed = process.wait()
    finally:
        process.kill()

    assert_one_error(completed, "worker process ended: copy 1 (exit code -9)")
    assert_finite_checkpoints(tmp_path / "results" / "bad", completed)


def worker_pids(parent: int) -> list[int]:
    """The environment worker processes of ``parent`` (Linux ``/proc``), oldest first."""
    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue  # ended meanwhile
        if int(fields[1]) == parent and b"spawn_main" in command:
            workers.append((int(fields[19]), int(stat.parent.name)))  # start time, pid
    return [pid for _, pid in sorted(workers)]


def signal_worker(parent: int, index: int, signum: int) -> None:
    """Send ``signum`` to the ``index``-th worker process that ``parent`` started."""
    os.kill(worker_pids(parent)[index], signum)
