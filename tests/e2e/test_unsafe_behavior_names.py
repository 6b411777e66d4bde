"""A behavior name becomes folder and file names of the run (``<run>/<B>/``, ``<run>/<B>.onnx``):
an environment announcing ``..`` or a name with a slash must not make dojo write outside the
run folder. The run is refused with one error line before the run folder exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.unity.conftest import serve_script

from .helpers import learn

DOT_DOT_ENV = """
import gymnasium as gym
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

# Gymnasium accepts '..' as the name part of an id; its behavior name is then '..'.
gym.register("..-v0", entry_point=CartPoleEnv, max_episode_steps=500)
"""


@pytest.mark.parametrize("route", ["gymnasium", "unity player"])
def test_a_behavior_named_dot_dot_is_refused_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    (tmp_path / "dotdot_env.py").write_text(DOT_DOT_ENV)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    )
    env = "gymnasium:dotdot_env:..-v0"
    if route == "unity player":  # the Python player announces '..?team=0' over gRPC
        env = str(serve_script(tmp_path, env, prelude="import dotdot_env"))
    results = tmp_path / "results"

    completed = learn([f"--env={env}", "--run-id=run", f"--results-dir={results}"], tmp_path)

    assert completed.returncode == 1, completed.describe()
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in completed.output, completed.describe()
    assert "announced a behavior named '..'" in errors[0]
    assert "names the current or the parent folder" in errors[0]
    assert not results.exists()
    assert not (tmp_path / "...onnx").exists() and not (tmp_path / "..onnx").exists()
