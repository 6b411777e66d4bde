"""Turns batched environment steps of one behavior into per-agent trajectories.

Agents are mapped to *slots* of preallocated arrays ``[slot, step, ...]``; every environment
step writes all agents of the batch with one fancy-indexed assignment per field, so no Python
code runs per agent on the hot path. Python only touches an agent when its trajectory is cut
(every ``time_horizon`` steps, or at the end of its episode).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dojo.api import ActionOutput, Aggregation, Trajectory
from dojo.envs.base import ActionTuple, BehaviorSpec, DecisionSteps, TerminalSteps
from dojo.stats.reporter import StatsReporter
from dojo.training.agent_slots import AgentSlots


@dataclass(frozen=True)
class FinishedEpisode:
    """An episode that ended during one :meth:`AgentProcessor.cut_trajectories` call.

    Attributes:
        cumulative_reward: the sum of the environment's rewards over the episode.
        length: its number of steps (actions taken).
        trajectories_before: how many of the trajectories that call returned were cut up to
            the episode's end, its own last trajectory included: its statistics belong with
            those trajectories (a summary written after them includes it).
    """

    cumulative_reward: float
    length: int
    trajectories_before: int


class AgentProcessor:
    """Collects the experiences of one behavior and cuts them into :class:`Trajectory` objects.

    Call :meth:`record_outcome` with the steps the environment returned (rewards for the
    previous actions, episode ends) and then :meth:`record_actions` with the actions chosen
    for the decision steps. ``record_outcome`` returns the trajectories that became complete
    and reports the statistics of the episodes that ended; :meth:`cut_trajectories` returns
    those episodes instead, for a caller that reports them with their trajectories.

    Args:
        behavior_spec: the behavior's observation and action spec.
        time_horizon: steps after which an unfinished trajectory is cut and bootstrapped.
        stats: reporter for ``Environment/Cumulative Reward`` and ``Environment/Episode Length``.
        initial_slots: slots allocated up front (grown by doubling when more agents appear).
    """

    def __init__(
        self,
        behavior_spec: BehaviorSpec,
        time_horizon: int,
        stats: StatsReporter,
        initial_slots: int = 8,
    ) -> None:
        self.spec = behavior_spec
        self.horizon = int(time_horizon)
        self.stats = stats
        self._index = AgentSlots()
        capacity = max(1, initial_slots)
        h = self.horizon
        action_spec = behavior_spec.action_spec
        mask_width = sum(action_spec.discrete_branches)

        def slots(*shape: int, dtype: type = np.float32) -> np.ndarray:
            return np.zeros((capacity, *shape), dtype=dtype)

        # Per slot and step: what the agent saw and did, and the reward that followed.
        self.obs = [slots(h, *o.shape) for o in behavior_spec.observation_specs]
        self.continuous = slots(h, action_spec.continuous_size)
        self.discrete = slots(h, action_spec.discrete_size, dtype=np.int64)
        self.masks = slots(h, mask_width, dtype=bool) if mask_width else None
        self.rewards = slots(h)
        self._extras: dict[str, np.ndarray] = {}
        # Per slot: trajectory length so far, whether the last action awaits its reward,
        # whether any step carried an action mask, and the running episode statistics.
        self.length = slots(dtype=np.int64)
        self.pending = slots(dtype=bool)
        self.has_mask = slots(dtype=bool)
        self.episode_return = slots(dtype=np.float64)
        self.episode_length = slots(dtype=np.int64)
        self._capacity = capacity

    # ---------------------------------------------------------------- storage
    _PER_SLOT = (
        "continuous", "discrete", "rewards", "length", "pending", "has_mask",
        "episode_return", "episode_length",
    )  # fmt: skip

    def _grow(self, capacity: int) -> None:
        """Reallocate every slot array for ``capacity`` agents, keeping the contents."""

        def grow(array: np.ndarray) -> np.ndarray:
            new = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
            new[: len(array)] = array
            return new

        for name in self._PER_SLOT:
            setattr(self, name, grow(getattr(self, name)))
        self.obs = [grow(o) for o in self.obs]
        if self.masks is not None:
            self.masks = grow(self.masks)
        self._extras = {key: grow(array) for key, array in self._extras.items()}
        self._capacity = capacity

    def _slots(self, agent_ids: np.ndarray, cache: bool = True) -> np.ndarray:
        """Slot index of each agent id (new ids get free slots)."""
        slots = self._index.lookup(agent_ids, cache)
        if len(self._index) > self._capacity:
            self._grow(max(2 * self._capacity, len(self._index)))
        return slots

    # ---------------------------------------------------------------- stepping
    def record_outcome(
        self, decision_steps: DecisionSteps, terminal_steps: TerminalSteps
    ) -> list[Trajectory]:
        """Attach rewards to the previous actions; return the trajectories that are complete
        and report ``Environment/Cumulative Reward`` and ``Environment/Episode Length`` of the
        episodes that ended."""
        finished, episodes = self.cut_trajectories(decision_steps, terminal_steps)
        self.report_episodes(episodes)
        return finished

    def report_episodes(self, episodes: Sequence[FinishedEpisode]) -> None:
        """Add the episodes' return and length to the statistics."""
        for episode in episodes:
            self.stats.add_stat(
                "Environment/Cumulative Reward", episode.cumulative_reward, Aggregation.HISTOGRAM
            )
            self.stats.add_stat("Environment/Episode Length", float(episode.length))

    def cut_trajectories(
        self, decision_steps: DecisionSteps, terminal_steps: TerminalSteps
    ) -> tuple[list[Trajectory], list[FinishedEpisode]]:
        """:meth:`record_outcome` that returns the episodes that ended, in the order of their
        trajectories, instead of reporting them (see :meth:`report_episodes`)."""
        finished: list[Trajectory] = []
        episodes: list[FinishedEpisode] = []
        if len(terminal_steps):
            self._end_episodes(terminal_steps, finished, episodes)
        if len(decision_steps):
            slots = self._slots(decision_steps.agent_id)
            pending = self.pending[slots]
            if pending.all():
                waiting, rewards, rows = slots, decision_steps.reward, None
            else:
                rows = np.flatnonzero(pending)
                waiting, rewards = slots[rows], decision_steps.reward[rows]
            if len(waiting):
                self.rewards[waiting, self.length[waiting] - 1] = rewards
                self.episode_return[waiting] += rewards
                self.pending[waiting] = False
                full = np.flatnonzero(self.length[waiting] >= self.horizon)
                for k in full.tolist():
                    row = k if rows is None else int(rows[k])
                    next_obs = [o[row] for o in decision_steps.obs]
                    finished.append(
                        self._cut(
                            int(waiting[k]),
                            next_obs,
                            False,
                            False,
                            int(decision_steps.agent_id[row]),
                        )
                    )
        return finished, episodes

    def record_actions(self, decision_steps: DecisionSteps, output: ActionOutput) -> None:
        """Store the observations and the actions chosen for ``decision_steps``."""
        if not len(decision_steps):
            return
        slots = self._slots(decision_steps.agent_id)
        t = self.length[slots]
        for store, obs in zip(self.obs, decision_steps.obs, strict=True):
            store[slots, t] = obs
        actions = output.actions
        if self.continuous.shape[-1]:
            self.continuous[slots, t] = actions.continuous
        if self.discrete.shape[-1]:
            self.discrete[slots, t] = actions.discrete
        if self.masks is not None:
            if decision_steps.action_mask is not None:
                self.masks[slots, t] = decision_steps.action_mask
                self.has_mask[slots] = True
            else:
                self.masks[slots, t] = False
        for key, values in output.extras.items():
            store = self._extras.get(key)
            if store is None:
                store = np.zeros((self._capacity, self.horizon, *values.shape[1:]), values.dtype)
                self._extras[key] = store
            store[slots, t] = values
        self.rewards[slots, t] = 0.0
        self.length[slots] = t + 1
        self.pending[slots] = True
        self.episode_length[slots] += 1

    def _end_episodes(
        self,
        terminal_steps: TerminalSteps,
        finished: list[Trajectory],
        episodes: list[FinishedEpisode],
    ) -> None:
        """Cut the trajectories of agents whose episode ended (appended to ``finished``) and
        record their episodes (appended to ``episodes``)."""
        slots = self._slots_uncached(terminal_steps.agent_id)
        for row, slot in enumerate(slots.tolist()):
            reward = float(terminal_steps.reward[row])
            if self.pending[slot]:
                self.rewards[slot, self.length[slot] - 1] = reward
                self.pending[slot] = False
            self.episode_return[slot] += reward
            if self.length[slot] > 0:
                next_obs = [o[row] for o in terminal_steps.obs]
                interrupted = bool(terminal_steps.interrupted[row])
                agent_id = int(terminal_steps.agent_id[row])
                finished.append(self._cut(slot, next_obs, True, interrupted, agent_id))
            episodes.append(
                FinishedEpisode(
                    float(self.episode_return[slot]),
                    int(self.episode_length[slot]),
                    len(finished),
                )
            )
            self.episode_return[slot] = 0.0
            self.episode_length[slot] = 0
        # The slots are clean again (nothing pending, nothing collected): reuse them for the
        # next new agents (a Unity build sends every episode under a new id).
        self._index.release(terminal_steps.agent_id)

    def _slots_uncached(self, agent_ids: np.ndarray) -> np.ndarray:
        """Slots of agents in terminal steps (does not disturb the decision-step cache)."""
        return self._slots(agent_ids, cache=False)

    def _cut(
        self, slot: int, next_obs: list[np.ndarray], done: bool, interrupted: bool, agent_id: int
    ) -> Trajectory:
        n = int(self.length[slot])
        trajectory = Trajectory(
            obs=[store[slot, :n].copy() for store in self.obs],
            next_obs=[np.array(o, dtype=np.float32, copy=True) for o in next_obs],
            actions=ActionTuple(self.continuous[slot, :n].copy(), self.discrete[slot, :n].copy()),
            action_mask=(
                self.masks[slot, :n].copy()
                if self.masks is not None and self.has_mask[slot]
                else None
            ),
            rewards=self.rewards[slot, :n].copy(),
            extras={key: store[slot, :n].copy() for key, store in self._extras.items()},
            done=done,
            interrupted=interrupted,
            agent_id=agent_id,
        )
        self.length[slot] = 0
        self.has_mask[slot] = False
        return trajectory

    def forget(self, agent_ids: np.ndarray) -> None:
        """Discard the unfinished trajectories and episodes of ``agent_ids`` (their environment
        worker restarted); the ids may come back as new agents."""
        slots = self._index.release(agent_ids)
        for name in ("length", "pending", "has_mask", "episode_return", "episode_length"):
            getattr(self, name)[slots] = 0

    def drop_in_flight(self) -> None:
        """Forget unfinished trajectories (e.g. after an environment worker restarted)."""
        self.length[:] = 0
        self.pending[:] = False
        self.episode_return[:] = 0.0
        self.episode_length[:] = 0
