"""Fixtures of the end-to-end tests: finished ``mlagents-learn`` runs shared by several tests.

A run costs seconds (most of it importing torch), so one small CartPole run is shared by every
test that only reads its results; a test that changes a run works on a copy (:func:`copy_run`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from .helpers import CARTPOLE, Completed, cartpole_config, learn, write_config


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "install: builds a fresh virtual environment and pip-installs dojo (~1 min)"
    )


@dataclass(frozen=True)
class FinishedRun:
    """A run made by ``mlagents-learn CONFIG --run-id=RUN_ID --results-dir=results`` in ``cwd``."""

    cwd: Path
    run_id: str
    config: Path
    completed: Completed
    behavior: str = CARTPOLE

    @property
    def results(self) -> Path:
        return self.cwd / "results"

    @property
    def run_dir(self) -> Path:
        return self.results / self.run_id

    @property
    def behavior_dir(self) -> Path:
        return self.run_dir / self.behavior


def copy_run(run: FinishedRun, cwd: Path) -> FinishedRun:
    """``run``'s working directory (config and results, file times kept) copied to ``cwd``.

    Paths inside the results (``training_status.json``) are relative to the working directory,
    as ML-Agents writes them, so they stay valid in the copy.
    """
    shutil.copytree(run.cwd, cwd, dirs_exist_ok=True)
    return FinishedRun(cwd, run.run_id, cwd / run.config.name, run.completed, run.behavior)


@pytest.fixture(scope="session")
def cartpole_run(tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    """3000 steps of PPO on CartPole: summaries every 500 steps, a checkpoint every 1000, two
    kept. Read-only: copy it with :func:`copy_run` before running anything in it."""
    cwd = tmp_path_factory.mktemp("cartpole_run")
    config = write_config(cwd / "cartpole.yaml", cartpole_config())
    args = [config.name, "--run-id=cartpole", "--seed=0", "--results-dir=results"]
    completed = learn(args, cwd)
    assert completed.returncode == 0, completed.describe()
    return FinishedRun(cwd, "cartpole", config, completed)
