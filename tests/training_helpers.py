"""The training loop in small, for trainer tests: build a trainer and play a real environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dojo.api import RewardSignal, Trainer, TrainerContext, Trajectory
from dojo.config.settings import TrainerSettings
from dojo.envs.base import BehaviorSpec, DecisionSteps
from dojo.envs.context import EnvironmentContext
from dojo.envs.gymnasium_env import make_gymnasium_environment
from dojo.rewards.extrinsic import ExtrinsicRewardSignal
from dojo.stats.reporter import StatsReporter
from dojo.training.agent_processor import AgentProcessor


def build_trainer(
    trainer_class: type[Trainer],
    spec: BehaviorSpec,
    settings: TrainerSettings,
    folder: Path,
    signals: dict[str, RewardSignal] | None = None,
    seed: int = 0,
) -> Any:
    """``trainer_class`` for behavior ``B`` with extrinsic signals unless ``signals`` given."""
    if signals is None:
        signals = {
            name: ExtrinsicRewardSignal(name=name, settings=s, behavior_spec=spec)
            for name, s in settings.reward_signals.items()
        }
    context = TrainerContext(
        folder, seed=seed, device="cpu", training=True, stats=StatsReporter("B", [])
    )
    return trainer_class(
        behavior_name="B",
        behavior_spec=spec,
        settings=settings,
        reward_signals=signals,
        context=context,
    )


def play(
    trainer: Trainer,
    env_id: str,
    steps: int,
    num_envs: int = 4,
    trajectories_seen: list[Trajectory] | None = None,
) -> StatsReporter:
    """Train ``trainer`` on ``env_id`` for ``steps`` vector steps, as the real loop does; the
    trajectories handed to the trainer are also appended to ``trajectories_seen`` if given."""
    env = make_gymnasium_environment(EnvironmentContext(env_id, num_envs=num_envs, seed=0))
    env.reset()
    (name,) = env.behavior_specs
    stats = trainer.context.stats
    processor = AgentProcessor(env.behavior_specs[name], trainer.settings.time_horizon, stats)
    for _ in range(steps):
        decision, terminal = env.get_steps(name)
        trajectories = processor.record_outcome(decision, terminal)
        if trajectories:
            if trajectories_seen is not None:
                trajectories_seen.extend(trajectories)
            trainer.process_trajectories(trajectories)
            trainer.advance()
        if len(terminal):
            trainer.end_episodes(terminal.agent_id)
        output = trainer.act(decision)
        processor.record_actions(decision, output)
        env.set_actions(name, output.actions)
        env.step()
    env.close()
    return stats


def half_masked_decision_steps(n: int = 64) -> DecisionSteps:
    """``n`` agents of a behavior with branches (3, 2): the first half may only pick action 2 of
    branch 0, the second half only action 0 of branch 1 (masks are ``True`` = disabled, as
    environments report them)."""
    mask = np.zeros((n, 5), dtype=bool)
    mask[: n // 2, 0] = mask[: n // 2, 1] = True
    mask[n // 2 :, 4] = True
    return DecisionSteps(
        [np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)],
        np.zeros(n, np.float32),
        np.arange(n),
        mask,
    )
