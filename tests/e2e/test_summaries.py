"""Summaries and checkpoints of a run whose batches of trajectories cross several boundaries:
16 Acrobot copies cut at ``time_horizon`` 256 hand over 4096 steps at once, and every multiple
of ``summary_freq`` (1000) and of ``checkpoint_interval`` (2000) still gets its own point, as
in ML-Agents, which checks after every trajectory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import Completed, event_files, learn, read_scalars, write_config

BEHAVIOR = "Acrobot"
MAX_STEPS = 20000
SUMMARY_FREQ = 1000
CHECKPOINT_INTERVAL = 2000
TIME_HORIZON = 256
CONFIG = {
    "behaviors": {
        BEHAVIOR: {
            "trainer_type": "ppo",
            "hyperparameters": {"batch_size": 64, "buffer_size": 4096, "num_epoch": 4},
            "network_settings": {"hidden_units": 64, "num_layers": 2, "normalize": True},
            "max_steps": MAX_STEPS,
            "time_horizon": TIME_HORIZON,
            "summary_freq": SUMMARY_FREQ,
            "checkpoint_interval": CHECKPOINT_INTERVAL,
            "keep_checkpoints": 20,
        }
    },
    "env_settings": {"env_path": "gymnasium:Acrobot-v1", "num_envs": 16},
}
SUMMARY_STEPS = list(range(SUMMARY_FREQ, MAX_STEPS + 1, SUMMARY_FREQ))


@pytest.fixture(scope="module")
def acrobot_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Completed]:
    cwd = tmp_path_factory.mktemp("acrobot")
    write_config(cwd / "acrobot.yaml", CONFIG)
    completed = learn(["acrobot.yaml", "--run-id=acrobot", "--seed=0"], cwd)
    assert completed.returncode == 0, completed.describe()
    return cwd / "results" / "acrobot", completed


def test_every_multiple_of_summary_freq_is_a_tensorboard_point(
    acrobot_run: tuple[Path, Completed],
) -> None:
    run_dir, completed = acrobot_run
    scalars = read_scalars(run_dir / BEHAVIOR)
    # Every trajectory has value estimates, so every summary has this tag.
    assert [step for step, _ in scalars["Policy/Extrinsic Value Estimate"]] == SUMMARY_STEPS
    assert completed.steps() == SUMMARY_STEPS, completed.stdout
    for tag, points in scalars.items():
        # Other tags only where the summary holds values of theirs (Acrobot-v1 episodes last
        # up to 500 steps, so some summaries hold no episode), and only at multiples.
        steps = [step for step, _ in points]
        assert set(steps) <= set(SUMMARY_STEPS) and len(steps) == len(set(steps)), tag


def episodes_per_point(behavior_dir: Path) -> dict[int, int]:
    """Step -> number of episodes in that summary, from the ``Environment/Cumulative
    Reward_hist`` histograms (one value per finished episode)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    counts: dict[int, int] = {}
    for path in event_files(behavior_dir):
        accumulator = EventAccumulator(str(path), size_guidance={"histograms": 0})
        accumulator.Reload()
        for event in accumulator.Histograms("Environment/Cumulative Reward_hist"):
            counts[event.step] = int(event.histogram_value.num)
    return counts


def test_each_point_holds_only_the_episodes_up_to_its_boundary(
    acrobot_run: tuple[Path, Completed],
) -> None:
    # The untrained policy does not swing up within 500 steps: the 16 copies end their first
    # episodes together at environment step 500 (agent steps 4096 + 16 x 244), one trajectory
    # each. Four of those trajectories reach 5000, the next four 6000, then 7000 and 8000: each
    # of these points holds four episodes, not the first all sixteen.
    run_dir, _ = acrobot_run
    counts = episodes_per_point(run_dir / BEHAVIOR)
    assert [counts.get(step, 0) for step in (1000, 2000, 3000, 4000)] == [0, 0, 0, 0]
    assert [counts.get(step, 0) for step in (5000, 6000, 7000, 8000)] == [4, 4, 4, 4]
    lengths = dict(read_scalars(run_dir / BEHAVIOR)["Environment/Episode Length"])
    assert [lengths[step] for step in (5000, 6000, 7000, 8000)] == [500.0] * 4


def test_a_checkpoint_is_taken_at_every_multiple_of_checkpoint_interval(
    acrobot_run: tuple[Path, Completed],
) -> None:
    run_dir, _ = acrobot_run
    status = json.loads((run_dir / "run_logs" / "training_status.json").read_text())
    steps = [entry["steps"] for entry in status[BEHAVIOR]["checkpoints"]]
    boundaries = list(range(CHECKPOINT_INTERVAL, MAX_STEPS + 1, CHECKPOINT_INTERVAL))
    periodic, final = steps[: len(boundaries)], steps[len(boundaries) :]
    for step, boundary in zip(periodic, boundaries, strict=True):
        # Saved right after the trajectory that crossed the boundary.
        assert boundary <= step < boundary + TIME_HORIZON, (step, boundary)
    assert len(final) <= 1 and all(step >= MAX_STEPS for step in final), steps
