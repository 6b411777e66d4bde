"""``behavioral_cloning`` trains with the real ``mlagents-learn``, on PPO and SAC alike.

The demonstrations are recorded by a hand-coded CartPole expert (:mod:`tests.imitation.experts`);
dojo-imitation is installed in the virtual environment, so the plain command finds the section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tests.core.plugins.helpers import (
    CARTPOLE_BEHAVIOR,
    SHORT_SAC_BEHAVIOR,
    run_command,
    scalars,
    write_config,
)
from tests.imitation.experts import record_cartpole_demo

ENV = {"env_path": "gymnasium:CartPole-v1"}
LOSS = "Losses/Pretraining Loss"
SAC_CARTPOLE = {**SHORT_SAC_BEHAVIOR, "max_steps": 1500, "summary_freq": 500}


@pytest.fixture(scope="module")
def expert_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demos") / "ExpertCartPole.demo"
    record_cartpole_demo(path, steps=2000)
    return path


def _learn(cwd: Path, behavior: dict[str, Any], run_id: str, *args: str):
    config = write_config(cwd / f"{run_id}.yaml", behavior, env_settings=ENV)
    return run_command(
        "mlagents-learn", config, f"--run-id={run_id}", "--seed=1", *args, site=None, cwd=cwd,
        timeout=300,
    )  # fmt: skip


def _decreasing(values: list[float]) -> bool:
    return values[-1] < values[0]


def test_cloning_on_ppo_lowers_the_loss_and_checkpoints_and_resumes(
    expert_demo: Path, tmp_path: Path
) -> None:
    behavior = {
        **CARTPOLE_BEHAVIOR,
        "max_steps": 2000,
        "behavioral_cloning": {"demo_path": str(expert_demo), "strength": 1.0},
    }
    run = _learn(tmp_path, behavior, "bc", "--num-envs=4")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    folder = tmp_path / "results" / "bc" / "CartPole"
    losses = [value for _step, value in scalars(folder)[LOSS]]
    assert len(losses) >= 3 and _decreasing(losses), losses
    # PPO updates every 256 steps: 7 updates in 2000 steps, one cloning update after each.
    checkpoint = torch.load(folder / "checkpoint.pt", weights_only=True)
    state = checkpoint["AddOn:behavioral_cloning"]
    assert int(state["updates"]) == 7
    assert state["optimizer"]["state"]  # Adam's moments

    longer = {**behavior, "max_steps": 2600}
    resumed = _learn(tmp_path, longer, "bc", "--num-envs=4", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "did not fit" not in resumed.stdout + resumed.stderr
    after = torch.load(folder / "checkpoint.pt", weights_only=True)
    assert int(after["AddOn:behavioral_cloning"]["updates"]) > 7


def test_cloning_on_sac(expert_demo: Path, tmp_path: Path) -> None:
    behavior = {
        **SAC_CARTPOLE,
        "behavioral_cloning": {"demo_path": str(expert_demo), "batch_size": 256, "num_epoch": 1},
    }
    run = _learn(tmp_path, behavior, "sac-bc")
    assert run.returncode == 0, run.stderr[-3000:]
    folder = tmp_path / "results" / "sac-bc" / "CartPole"
    losses = [value for _step, value in scalars(folder)[LOSS]]
    assert len(losses) >= 2 and _decreasing(losses), losses
    checkpoint = torch.load(folder / "checkpoint.pt", weights_only=True)
    assert int(checkpoint["AddOn:behavioral_cloning"]["updates"]) >= 10


def _single_error(run) -> str:
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert run.returncode == 1, run.stderr[-3000:]
    assert len(errors) == 1 and "Traceback" not in run.stderr, run.stderr[-3000:]
    return errors[0]


def test_a_demonstration_of_another_spec_is_one_error_naming_both(tmp_path: Path) -> None:
    demo = tmp_path / "Wide.demo"
    record_cartpole_demo(demo, steps=50, observation_size=6)
    behavior = {**CARTPOLE_BEHAVIOR, "behavioral_cloning": {"demo_path": str(demo)}}
    error = _single_error(_learn(tmp_path, behavior, "wide"))
    assert "behaviors.CartPole.behavioral_cloning.demo_path" in error
    assert "observations [6], 0 continuous actions and discrete branches [2]" in error
    assert "observations [4], 0 continuous actions and discrete branches [2]" in error
    assert not (tmp_path / "results").exists()


def test_a_missing_demonstration_is_one_error(tmp_path: Path) -> None:
    behavior = {**CARTPOLE_BEHAVIOR, "behavioral_cloning": {"demo_path": "no/such.demo"}}
    error = _single_error(_learn(tmp_path, behavior, "missing"))
    assert "behaviors.CartPole.behavioral_cloning.demo_path: no/such.demo: no such .demo" in error
    assert not (tmp_path / "results").exists()
