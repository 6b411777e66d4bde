"""Shared base of off-policy trainers (SAC, ...): store transitions, update from replayed batches.

This base owns what every off-policy algorithm needs and nothing it does not: the replay buffer
(:mod:`dojo.training.replay_buffer`), turning trajectories into transitions, the update cadence
(``buffer_init_steps``, ``steps_per_update``, ``reward_signal_steps_per_update`` as ML-Agents
counts them), reward-signal evaluation on sampled batches, the per-episode
``Policy/<Signal> Reward`` statistics, and persisting the buffer (``save_replay_buffer``: with
every checkpoint, through :meth:`~dojo.api.Trainer.save_resume_files`, tagged with its step).
A subclass implements :meth:`OffPolicyTrainer.update` (one gradient step on one batch) and the
policy methods of :class:`~dojo.api.Trainer` (``act``, checkpoints, export).

Transitions. Step ``t`` of a trajectory becomes ``(obs_t, action_t, reward_t, next_obs_t,
done_t)`` where ``next_obs_t`` is ``obs_{t+1}``, or the trajectory's ``next_obs`` at its last
step (the true final observation when the episode ended). ``done`` is 1 only when the episode
really ended (terminated): a trajectory cut at ``time_horizon`` or an episode truncated by a time
limit (``interrupted``) is bootstrapped from ``next_obs``.

Recurrent policies (``network_settings.memory``). Each transition also stores ``memory``, the
actor memory the agent acted from (``Trajectory.extras["memory"]``), and ``steps_left``, the
steps from it to the end of its trajectory (1 at the last). Updates then replay
``batch_size // sequence_length`` sequences (:meth:`OffPolicyTrainer.sample_sequences`): each
starts at a transition drawn uniformly, runs over the next ``sequence_length`` transitions of
the same trajectory (written consecutively, so consecutive in the ring) and is zero padded past
the trajectory's end; the stored memory of its first transition is its starting memory. Any
transition can start a sequence because every one stores the memory it acted from (ML-Agents
samples only sequences aligned at multiples of ``sequence_length``).

Reward signals on batches. Every sampled batch is shown to each reward signal as a
:class:`~dojo.api.SignalBatch` of the sampled transitions, so learned signals score experience
with their current networks, as ML-Agents does.
"""

from __future__ import annotations

import logging
import math
from abc import abstractmethod
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dojo.api import SignalBatch, Trainer, Trajectory
from dojo.envs.base import BehaviorSpec
from dojo.training.replay_buffer import REPLAY_BUFFER_FILE, FieldSpec, ReplayBuffer, saved_step

logger = logging.getLogger("dojo")


def transition_fields(spec: BehaviorSpec, memory_size: int = 0) -> dict[str, FieldSpec]:
    """The replay fields of a behavior: ``obs/<i>``, ``next_obs/<i>`` per observation,
    ``continuous`` (the actions sent to the environment) and ``discrete`` when the action spec
    has them, ``masks`` / ``next_masks`` (float, 1 = allowed) with branches, ``rewards``
    (environment rewards) and ``done`` (1.0 when the episode terminated at that step); for a
    recurrent policy (``memory_size`` > 0) also ``memory`` (the actor memory acted from) and
    ``steps_left`` (steps to the end of the trajectory, 1 at its last)."""
    fields: dict[str, FieldSpec] = {}
    for i, obs_spec in enumerate(spec.observation_specs):
        fields[f"obs/{i}"] = FieldSpec.of(obs_spec.shape)
        fields[f"next_obs/{i}"] = FieldSpec.of(obs_spec.shape)
    action_spec = spec.action_spec
    if action_spec.continuous_size:
        fields["continuous"] = FieldSpec.of((action_spec.continuous_size,))
    if action_spec.discrete_size:
        fields["discrete"] = FieldSpec.of((action_spec.discrete_size,), np.int64)
        width = sum(action_spec.discrete_branches)
        fields["masks"] = FieldSpec.of((width,))
        fields["next_masks"] = FieldSpec.of((width,))
    fields["rewards"] = FieldSpec.of(())
    fields["done"] = FieldSpec.of(())
    if memory_size:
        fields["memory"] = FieldSpec.of((memory_size,))
        fields["steps_left"] = FieldSpec.of((), np.int64)
    return fields


def trajectory_transitions(
    trajectories: Sequence[Trajectory], spec: BehaviorSpec, memory_size: int = 0
) -> dict[str, np.ndarray]:
    """The transitions of ``trajectories`` as replay rows (see :func:`transition_fields`);
    with ``memory_size`` each trajectory carries ``extras["memory"]`` ``[T, memory_size]``.

    ``next_masks`` of a trajectory's last step repeats that step's own mask (the mask of the
    following decision is not part of the trajectory).
    """
    fields: dict[str, np.ndarray] = {}
    for i in range(len(spec.observation_specs)):
        fields[f"obs/{i}"] = np.concatenate([t.obs[i] for t in trajectories])
        fields[f"next_obs/{i}"] = np.concatenate(
            [np.concatenate([t.obs[i][1:], t.next_obs[i][None]]) for t in trajectories]
        )
    action_spec = spec.action_spec
    if action_spec.continuous_size:
        fields["continuous"] = np.concatenate([t.actions.continuous for t in trajectories])
    if action_spec.discrete_size:
        fields["discrete"] = np.concatenate([t.actions.discrete for t in trajectories])
        width = sum(action_spec.discrete_branches)
        masks = [
            np.ones((len(t), width), np.float32)
            if t.action_mask is None
            else np.logical_not(t.action_mask).astype(np.float32)
            for t in trajectories
        ]
        fields["masks"] = np.concatenate(masks)
        fields["next_masks"] = np.concatenate([np.concatenate([m[1:], m[-1:]]) for m in masks])
    fields["rewards"] = np.concatenate([t.rewards for t in trajectories]).astype(np.float32)
    done = np.zeros(sum(len(t) for t in trajectories), np.float32)
    ends = np.cumsum([len(t) for t in trajectories]) - 1
    done[ends] = [float(t.done and not t.interrupted) for t in trajectories]
    fields["done"] = done
    if memory_size:
        fields["memory"] = np.concatenate([t.extras["memory"] for t in trajectories])
        fields["steps_left"] = np.concatenate(
            [np.arange(len(t), 0, -1, dtype=np.int64) for t in trajectories]
        )
    return fields


def signal_batch(batch: dict[str, np.ndarray], spec: BehaviorSpec) -> SignalBatch:
    """A sampled batch of transitions as the :class:`~dojo.api.SignalBatch` reward signals take."""
    n_obs = len(spec.observation_specs)
    n = len(batch["rewards"])
    return SignalBatch(
        obs=[batch[f"obs/{i}"] for i in range(n_obs)],
        next_obs=[batch[f"next_obs/{i}"] for i in range(n_obs)],
        continuous=batch.get("continuous", np.zeros((n, 0), np.float32)),
        discrete=batch.get("discrete", np.zeros((n, 0), np.int64)),
        rewards=batch["rewards"],
        done=batch["done"],
    )


class OffPolicyTrainer(Trainer):
    """Stores every transition in a replay buffer and updates from sampled batches.

    Hyperparameters read from ``settings.hyperparameters``: ``batch_size``, ``buffer_size``
    (replay capacity), ``buffer_init_steps``, ``steps_per_update``,
    ``reward_signal_steps_per_update`` and ``save_replay_buffer``.

    Cadence (ML-Agents): after ``step`` agent steps, ``(step - buffer_init_steps) /
    steps_per_update`` updates are due in total; :meth:`advance` performs the missing ones, each on
    a fresh batch, skipping (but counting) those due while the buffer holds fewer than
    ``batch_size`` transitions. Reward signals are updated the same way with
    ``reward_signal_steps_per_update``.

    Attributes:
        replay: the :class:`ReplayBuffer`.
        update_steps: policy updates counted so far (saved in checkpoints by subclasses through
            :meth:`cadence_state`).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        hp = self.settings.hyperparameters
        memory = self.settings.network_settings.memory
        #: Floats of actor memory stored per transition (0 without ``network_settings.memory``).
        self.memory_size = 0 if memory is None else int(memory.memory_size)
        #: Steps per replayed sequence (1 without memory).
        self.sequence_length = 1 if memory is None else int(memory.sequence_length)
        self.replay = ReplayBuffer(
            int(hp.buffer_size), transition_fields(self.behavior_spec, self.memory_size)
        )
        self.rng = np.random.default_rng(self.context.seed)
        self.update_steps = 0
        self.reward_signal_update_steps = 0
        self._episode_signal_rewards: dict[str, dict[int, float]] = {
            name: defaultdict(float) for name in self.reward_signals
        }

    # ------------------------------------------------------------------ hooks for subclasses
    @abstractmethod
    def update(self, batch: dict[str, np.ndarray]) -> None:
        """One gradient update on a sampled batch (:meth:`sample_batch`, or
        :meth:`sample_sequences` for a recurrent policy); report losses."""

    def observe(self, transitions: dict[str, np.ndarray]) -> None:
        """Called with new transitions before they are stored (e.g. to update normalisers)."""

    # ------------------------------------------------------------------ collecting
    def process_trajectories(self, trajectories: list[Trajectory]) -> None:
        self.step += sum(len(t) for t in trajectories)
        if not self.context.training or not trajectories:
            return
        self._report_signal_rewards(trajectories)
        transitions = trajectory_transitions(trajectories, self.behavior_spec, self.memory_size)
        self.observe(transitions)
        self.replay.add(transitions)

    def _report_signal_rewards(self, trajectories: list[Trajectory]) -> None:
        """``Policy/<Signal> Reward``: each signal's episode total (times its strength)."""
        for name, signal in self.reward_signals.items():
            totals = self._episode_signal_rewards[name]
            for trajectory in trajectories:
                batch = SignalBatch.from_trajectory(trajectory)
                values = np.asarray(signal.evaluate(batch), dtype=np.float64)
                totals[trajectory.agent_id] += float(values.sum()) * signal.strength
                if trajectory.done:
                    self.context.stats.add_stat(
                        f"Policy/{signal.stat_name} Reward", totals.pop(trajectory.agent_id)
                    )

    # ------------------------------------------------------------------ updating
    def _due(self, steps_per_update: float) -> int:
        """Updates due in total at the current step."""
        hp = self.settings.hyperparameters
        return max(0, math.floor((self.step - int(hp.buffer_init_steps)) / steps_per_update))

    def sample_batch(self) -> dict[str, np.ndarray]:
        """``batch_size`` replayed transitions plus ``rewards/<signal>``: each reward signal's
        rewards for them, times its strength."""
        batch = self.replay.sample(int(self.settings.hyperparameters.batch_size), self.rng)
        transitions = signal_batch(batch, self.behavior_spec)
        for name, signal in self.reward_signals.items():
            rewards = np.asarray(signal.evaluate(transitions), dtype=np.float32)
            batch[f"rewards/{name}"] = rewards * np.float32(signal.strength)
        return batch

    def sample_sequences(self) -> dict[str, np.ndarray]:
        """A recurrent policy's batch: ``batch_size // sequence_length`` (at least 1) replayed
        sequences of ``L = sequence_length`` steps laid out flat, sequence-major: every field
        ``[n * L, ...]``, zero past each trajectory's end (masks: all allowed, so padding stays
        finite), plus ``memory`` ``[n, memory_size]`` (each sequence's starting memory),
        ``valid`` ``[n * L]`` (1.0 for real steps, 0.0 for padding) and ``rewards/<signal>``
        as :meth:`sample_batch` (padding scored too: mask it with ``valid``)."""
        length = self.sequence_length
        count = max(1, int(self.settings.hyperparameters.batch_size) // length)
        runs = self.replay.sample_runs(count, length, self.rng)
        valid = np.arange(length)[None, :] < runs.pop("steps_left")[:, :1]  # [n, L]
        memory = runs.pop("memory")[:, 0]
        batch: dict[str, np.ndarray] = {}
        for name, array in runs.items():
            padding = 1 if name in ("masks", "next_masks") else 0
            array[~valid] = padding
            batch[name] = array.reshape(count * length, *array.shape[2:])
        batch["memory"] = memory
        batch["valid"] = valid.reshape(-1).astype(np.float32)
        transitions = signal_batch(batch, self.behavior_spec)
        for name, signal in self.reward_signals.items():
            rewards = np.asarray(signal.evaluate(transitions), dtype=np.float32)
            batch[f"rewards/{name}"] = rewards * np.float32(signal.strength)
        return batch

    def advance(self) -> None:
        if not self.context.training:
            return
        hp = self.settings.hyperparameters
        batch_size = int(hp.batch_size)
        ready = self.replay.size >= batch_size
        due = self._due(float(hp.steps_per_update))
        sample = self.sample_batch if self.memory_size == 0 else self.sample_sequences
        updated = False
        while self.update_steps < due:
            if ready:
                self.update(sample())
                updated = True
            self.update_steps += 1
        if updated:
            self.run_add_ons()
        due = self._due(float(hp.reward_signal_steps_per_update))
        # Signals without networks of their own (extrinsic) need no batches of their own.
        learning = [s for s in self.reward_signals.values() if s.learns]
        while self.reward_signal_update_steps < due:
            if ready and learning:
                batch = signal_batch(self.sample_batch(), self.behavior_spec)
                for signal in learning:
                    for key, value in signal.update(batch).items():
                        self.context.stats.add_stat(key, value)
            self.reward_signal_update_steps += 1

    # ------------------------------------------------------------------ persistence
    def cadence_state(self) -> dict[str, int]:
        """Counters to put in a checkpoint so a resumed run keeps the update cadence."""
        return {
            "update_steps": self.update_steps,
            "reward_signal_update_steps": self.reward_signal_update_steps,
        }

    def load_cadence_state(self, state: dict[str, Any], reset_step: bool) -> None:
        """Restore :meth:`cadence_state` (after ``step`` was restored). Without saved counters
        the updates already due are considered done: a resumed run never catches up in a
        burst. ``reset_step`` (``--initialize-from``) starts counting from 0."""
        if reset_step:
            self.update_steps = self.reward_signal_update_steps = 0
            return
        hp = self.settings.hyperparameters
        self.update_steps = int(state.get("update_steps", self._due(float(hp.steps_per_update))))
        self.reward_signal_update_steps = int(
            state.get(
                "reward_signal_update_steps",
                self._due(float(hp.reward_signal_steps_per_update)),
            )
        )

    def replay_buffer_path(self, folder: Path | None = None) -> Path:
        """``<artifact folder>/last_replay_buffer.npz``."""
        return Path(folder if folder is not None else self.context.artifact_path) / (
            REPLAY_BUFFER_FILE
        )

    def save_replay_buffer(self, folder: Path | None = None) -> Path:
        """Write the replay buffer and the step it belongs to next to the checkpoints; returns
        the file."""
        with self.policy_lock:
            path = self.replay.save(self.replay_buffer_path(folder), step=self.step)
        logger.debug("Saved the replay buffer (%d transitions) to %s", self.replay.size, path)
        return path

    def save_resume_files(self, folder: Path) -> list[Path]:
        """With ``save_replay_buffer``: the replay buffer, saved with every checkpoint."""
        if not (self.context.training and bool(self.settings.hyperparameters.save_replay_buffer)):
            return []
        return [self.save_replay_buffer(folder)]

    def load_replay_buffer(self, folder: Path, step: int | None = None) -> bool:
        """Load ``<folder>/last_replay_buffer.npz`` if it exists and, when ``step`` is given,
        was saved at that step (the checkpoint's); returns whether it did.

        A buffer saved at another step (a run killed between writing the buffer and its
        checkpoint), or with no step recorded (an older dojo), is not loaded: a warning says
        so and training starts with an empty buffer.
        """
        path = self.replay_buffer_path(folder)
        if not path.is_file():
            return False
        if step is not None:
            saved = saved_step(path)
            if saved != step:
                when = "at an unknown step" if saved is None else f"at step {saved}"
                logger.warning(
                    "%s: the replay buffer in %s was saved %s, the checkpoint at step %d (the "
                    "run was stopped between the two writes), so it is not loaded: training "
                    "continues with an empty replay buffer, which refills as it collects.",
                    self.behavior_name,
                    path,
                    when,
                    step,
                )
                return False
        self.replay.load(path)
        logger.info("Loaded the replay buffer (%d transitions) from %s", self.replay.size, path)
        return True
