"""The training loop's summaries and checkpoints when one batch of trajectories crosses several
boundaries: a real PPO trainer on real Acrobot copies, all cut at the same environment step."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from dojo.api import StatsSummary, StatsWriter, TrainerContext, Trajectory
from dojo.config.loader import resolve_run_options
from dojo.config.settings import EnvSettings
from dojo.envs.context import EnvironmentContext
from dojo.envs.gymnasium_env import make_gymnasium_environment
from dojo.plugin_host import load_plugins
from dojo.rewards.extrinsic import ExtrinsicRewardSignal
from dojo.stats.reporter import StatsReporter
from dojo.training.agent_processor import AgentProcessor
from dojo.training.trainer_controller import BehaviorRuntime, TrainerController
from dojo_ppo.trainer import PPOTrainer

NUM_ENVS = 8
HORIZON = 128  # 8 copies cut together: batches of 1024 steps
SUMMARY_FREQ = 250  # ... each crossing four multiples
CHECKPOINT_INTERVAL = 500
MAX_STEPS = 4000
EPISODE_STEPS = 200  # Acrobot truncated at 200 steps: every copy ends its episode together


class RecordingWriter(StatsWriter):
    """Keeps every summary: (step, tag -> summary)."""

    def __init__(self) -> None:
        self.summaries: list[tuple[int, Mapping[str, StatsSummary]]] = []

    def write_stats(self, category: str, values: Mapping[str, StatsSummary], step: int) -> None:
        self.summaries.append((step, dict(values)))


class RecordingPPO(PPOTrainer):
    """PPO that remembers the trajectories it was handed, in order."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[Trajectory] = []

    def process_trajectories(self, trajectories: list[Trajectory]) -> None:
        self.seen.extend(trajectories)
        super().process_trajectories(trajectories)


def _train(tmp_path: Path) -> tuple[RecordingPPO, RecordingWriter, list[int]]:
    behavior = {
        "trainer_type": "ppo",
        "hyperparameters": {"batch_size": 256, "buffer_size": 1024, "num_epoch": 1},
        "network_settings": {"hidden_units": 16, "num_layers": 1},
        "max_steps": MAX_STEPS,
        "time_horizon": HORIZON,
        "summary_freq": SUMMARY_FREQ,
        "checkpoint_interval": CHECKPOINT_INTERVAL,
    }
    options = resolve_run_options({"behaviors": {"B": behavior}}, {}, load_plugins(), "test")
    settings = options.behaviors["B"]
    env = make_gymnasium_environment(
        EnvironmentContext(
            "Acrobot-v1",
            num_envs=NUM_ENVS,
            seed=0,
            settings=EnvSettings(env_args=[f"max_episode_steps={EPISODE_STEPS}"]),
        )
    )
    env.reset()
    (name,) = env.behavior_specs
    spec = env.behavior_specs[name]
    writer = RecordingWriter()
    stats = StatsReporter(name, [writer])
    trainer = RecordingPPO(
        behavior_name=name,
        behavior_spec=spec,
        settings=settings,
        reward_signals={
            "extrinsic": ExtrinsicRewardSignal(
                name="extrinsic", settings=settings.reward_signals["extrinsic"], behavior_spec=spec
            )
        },
        context=TrainerContext(tmp_path / name, seed=0, device="cpu", training=True, stats=stats),
    )
    runtime = BehaviorRuntime(
        name=name,
        trainer=trainer,
        processor=AgentProcessor(spec, HORIZON, stats),
        stats=stats,
        next_summary=SUMMARY_FREQ,
        next_checkpoint=CHECKPOINT_INTERVAL,
    )
    checkpoints: list[int] = []
    controller = TrainerController(
        env, {name: runtime}, lambda _name: checkpoints.append(trainer.step), lambda: False
    )
    try:
        assert controller.run() == "completed"
    finally:
        controller.close()
        env.close()
    return trainer, writer, checkpoints


def _expected_episodes_per_summary(trajectories: list[Trajectory]) -> list[int]:
    """Episodes each summary should hold: those ended by the trajectories up to the one that
    crossed its multiple of summary_freq (ML-Agents checks after every trajectory)."""
    counts: list[int] = []
    step, episodes, next_summary = 0, 0, SUMMARY_FREQ
    for trajectory in trajectories:
        step += len(trajectory)
        episodes += trajectory.done
        if step >= next_summary:
            counts.append(episodes)
            episodes = 0
            next_summary = (step // SUMMARY_FREQ + 1) * SUMMARY_FREQ
    return counts


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, RecordingWriter, list[int]]:
    return _train(tmp_path_factory.mktemp("controller"))


def test_every_multiple_of_summary_freq_gets_its_summary(trained) -> None:
    _, writer, _ = trained
    steps = [step for step, _ in writer.summaries]
    assert steps == list(range(SUMMARY_FREQ, MAX_STEPS + 1, SUMMARY_FREQ))


def test_each_summary_holds_the_episodes_up_to_its_boundary(trained) -> None:
    trainer, writer, _ = trained
    expected = _expected_episodes_per_summary(trainer.seen)
    assert sum(expected) >= 2 * NUM_ENVS, "the run ends several episodes"
    for tag in ("Environment/Cumulative Reward", "Environment/Episode Length"):
        found = [values[tag].num if tag in values else 0 for _, values in writer.summaries]
        assert found == expected, tag
    # The trainer's per-episode statistic lands in the same summaries.
    rewards = [
        values["Policy/Extrinsic Reward"].num if "Policy/Extrinsic Reward" in values else 0
        for _, values in writer.summaries
    ]
    assert rewards == expected


def test_a_checkpoint_follows_the_trajectory_that_crosses_each_interval(trained) -> None:
    _, _, checkpoints = trained
    boundaries = list(range(CHECKPOINT_INTERVAL, MAX_STEPS + 1, CHECKPOINT_INTERVAL))
    assert len(checkpoints) == len(boundaries)
    for step, boundary in zip(checkpoints, boundaries, strict=True):
        assert boundary <= step < boundary + HORIZON
