"""Shared base of on-policy trainers (PPO, POCA, A2C ...): collect, then update.

A subclass turns each batch of trajectories into per-step training arrays
(:meth:`OnPolicyTrainer.prepare_trajectories`) and consumes a full rollout in
:meth:`OnPolicyTrainer.update`; this base owns the rollout storage, the step counter, the
per-episode reward-signal statistics and the update cadence (``buffer_size``).
"""

from __future__ import annotations

from abc import abstractmethod
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np

from dojo.api import SignalBatch, Trainer, Trajectory


class Rollout:
    """Experience collected since the last update: per-field lists of ``[n, ...]`` arrays."""

    def __init__(self) -> None:
        self._parts: dict[str, list[np.ndarray]] = defaultdict(list)
        self.size = 0

    def append(self, fields: Mapping[str, np.ndarray]) -> None:
        """Add steps; every array of ``fields`` has the same first dimension."""
        n = 0
        for key, array in fields.items():
            self._parts[key].append(array)
            n = len(array)
        self.size += n

    def take(self) -> dict[str, np.ndarray]:
        """Concatenate everything collected and start empty."""
        data = {key: np.concatenate(parts) for key, parts in self._parts.items()}
        self._parts = defaultdict(list)
        self.size = 0
        return data


class OnPolicyTrainer(Trainer):
    """Collects trajectories until ``hyperparameters.buffer_size`` steps, then updates.

    Subclasses implement :meth:`prepare_trajectories`, :meth:`update` and the policy methods of
    :class:`~dojo.api.Trainer` (``act``, checkpoints, export).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rollout = Rollout()
        #: Held while parameters change, so a threaded update never races with ``act``.
        self._episode_signal_rewards: dict[str, dict[int, float]] = {
            name: defaultdict(float) for name in self.reward_signals
        }

    @property
    def buffer_size(self) -> int:
        return int(self.settings.hyperparameters.buffer_size)

    @property
    def threaded_lookahead(self) -> int:
        # One rollout: the next one is collected while the last one trains.
        return self.buffer_size

    def signal_rewards(self, trajectory: Trajectory) -> dict[str, np.ndarray]:
        """Each reward signal's rewards for ``trajectory``, scaled by its strength.

        Also accumulates ``Policy/<Signal> Reward`` per agent and reports it when the agent's
        episode ends.
        """
        rewards = {}
        batch = SignalBatch.from_trajectory(trajectory)
        for name, signal in self.reward_signals.items():
            values = np.asarray(signal.evaluate(batch), dtype=np.float32) * signal.strength
            rewards[name] = values
            totals = self._episode_signal_rewards[name]
            totals[trajectory.agent_id] += float(values.sum())
            if trajectory.done:
                self.context.stats.add_stat(
                    f"Policy/{signal.stat_name} Reward", totals.pop(trajectory.agent_id)
                )
        return rewards

    @abstractmethod
    def prepare_trajectories(self, trajectories: list[Trajectory]) -> Mapping[str, np.ndarray]:
        """Per-step training arrays (advantages, returns, ...) for a batch of trajectories."""

    @abstractmethod
    def update(self, rollout: dict[str, np.ndarray]) -> None:
        """Improve the policy from one full rollout; report losses to the stats."""

    def process_trajectories(self, trajectories: list[Trajectory]) -> None:
        if not self.context.training or not trajectories:  # a wrapper may keep them all
            self.step += sum(len(t) for t in trajectories)
            return
        self.rollout.append(self.prepare_trajectories(trajectories))
        self.step += sum(len(t) for t in trajectories)

    def advance(self) -> None:
        if self.context.training and self.rollout.size >= self.buffer_size:
            self.update(self.rollout.take())
            self.run_add_ons()
