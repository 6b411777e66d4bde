"""Value estimates of a recurrent critic over whole trajectories (``network_settings.memory``).

ML-Agents gives PPO's critic an LSTM of its own, which the policy never runs while acting: the
critic's memory is rebuilt when trajectories arrive, by running the critic over each trajectory
from the memory it had at the trajectory's first step. The run goes sequence by sequence (the
same ``sequence_length`` chunks training uses, see :mod:`dojo.training.sequences`), so the
memory at the start of every sequence is known and stored for training, and the values
computed here are exactly the ones training starts from.

The critic's memory after a trajectory's last step is carried to the agent's next trajectory
(a cut at ``time_horizon`` continues the episode) and forgotten when the episode ends; the
bootstrap value of ``next_obs`` uses that same memory, so a trajectory's bootstrap value equals
the first value of the trajectory that continues it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from dojo.api import Trajectory


class RecurrentCritic(Protocol):
    """What :class:`RecurrentValueEstimator` needs of a critic."""

    memory_size: int

    def values_and_memories(
        self, obs_list: list[torch.Tensor], memories: torch.Tensor | None, sequence_length: int
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]: ...


@dataclass
class TrajectoryValues:
    """Critic outputs for a batch of trajectories, in the order they were given.

    Attributes:
        values: reward signal name -> ``[sum(T)]`` value of every step.
        next_values: reward signal name -> ``[N]`` value of each trajectory's ``next_obs``.
        start_memories: ``[n_sequences, memory_size]`` critic memory before the first step of
            each sequence (in the order of :func:`~dojo.training.sequences.sequence_starts`).
    """

    values: dict[str, np.ndarray]
    next_values: dict[str, np.ndarray]
    start_memories: np.ndarray


class RecurrentValueEstimator:
    """Runs a recurrent critic over trajectories, carrying each agent's critic memory.

    Args:
        critic: the critic (or shared critic) with ``memory_size > 0``.
        sequence_length: steps per training sequence.
        device: where the critic lives.
    """

    def __init__(self, critic: RecurrentCritic, sequence_length: int, device: torch.device) -> None:
        self.critic = critic
        self.sequence_length = int(sequence_length)
        self.device = device
        self._carried: dict[int, np.ndarray] = {}

    def _groups(self, trajectories: list[Trajectory]) -> list[list[int]]:
        """Trajectories evaluated together: those of equal length, when no agent appears twice
        (an agent's trajectories must run in order, each from the previous one's memory)."""
        ids = [t.agent_id for t in trajectories]
        if len(set(ids)) < len(ids):
            return [[i] for i in range(len(trajectories))]
        by_length: dict[int, list[int]] = defaultdict(list)
        for i, trajectory in enumerate(trajectories):
            by_length[len(trajectory)].append(i)
        return list(by_length.values())

    @torch.inference_mode()
    def estimate(self, trajectories: list[Trajectory]) -> TrajectoryValues:
        """Values, bootstrap values and sequence-start memories of ``trajectories``."""
        n = len(trajectories)
        values: list[dict[str, np.ndarray]] = [{} for _ in range(n)]
        next_values: list[dict[str, float]] = [{} for _ in range(n)]
        starts: list[np.ndarray] = [np.empty(0)] * n
        empty = np.zeros(self.critic.memory_size, np.float32)
        for group in self._groups(trajectories):
            members = [trajectories[i] for i in group]
            length = len(members[0])
            obs = [
                torch.from_numpy(np.stack([t.obs[k] for t in members])).to(self.device)
                for k in range(len(members[0].obs))
            ]
            memory = torch.from_numpy(
                np.stack([self._carried.get(t.agent_id, empty) for t in members])
            ).to(self.device)
            chunks: dict[str, list[torch.Tensor]] = defaultdict(list)
            start_memories = []
            for begin in range(0, length, self.sequence_length):
                steps = min(self.sequence_length, length - begin)
                chunk = [
                    o[:, begin : begin + steps].reshape(len(group) * steps, *o.shape[2:])
                    for o in obs
                ]
                start_memories.append(memory)
                chunk_values, memory = self.critic.values_and_memories(chunk, memory, steps)
                for name, value in chunk_values.items():
                    chunks[name].append(value.reshape(len(group), steps))
            next_obs = [
                torch.from_numpy(np.stack([t.next_obs[k] for t in members])).to(self.device)
                for k in range(len(obs))
            ]
            bootstrap, _ = self.critic.values_and_memories(next_obs, memory, 1)
            memory_np = memory.cpu().numpy()
            starts_np = torch.stack(start_memories, dim=1).cpu().numpy()
            grid = {name: torch.cat(parts, dim=1).cpu().numpy() for name, parts in chunks.items()}
            bootstrap_np = {name: value.cpu().numpy() for name, value in bootstrap.items()}
            for j, i in enumerate(group):
                for name in grid:
                    values[i][name] = grid[name][j]
                    next_values[i][name] = float(bootstrap_np[name][j])
                starts[i] = starts_np[j]
                if trajectories[i].done:
                    self._carried.pop(trajectories[i].agent_id, None)
                else:
                    self._carried[trajectories[i].agent_id] = memory_np[j].copy()
        names = list(values[0])
        return TrajectoryValues(
            values={name: np.concatenate([v[name] for v in values]) for name in names},
            next_values={
                name: np.array([v[name] for v in next_values], np.float32) for name in names
            },
            start_memories=np.concatenate(starts),
        )
