"""Proximal Policy Optimization (Schulman et al. 2017, arXiv:1707.06347) as ML-Agents runs it.

Reading order: :meth:`PPOTrainer.act` (one forward pass for all waiting agents),
:meth:`PPOTrainer.prepare_trajectories` (value estimates and GAE per reward signal),
:meth:`PPOTrainer.update` (``num_epoch`` passes of minibatch steps on the loss, which lives in
:func:`dojo_ppo.loss.ppo_loss`: clipped surrogate, value loss per reward signal, entropy bonus).

``hyperparameters.implementation`` chooses how the update runs
(:mod:`dojo_ppo.implementation`): ``reference`` differentiates ``ppo_loss`` with autograd on
plain torch layers (:meth:`PPOTrainer._update_reference`); ``fast`` takes the same gradients
derived by hand, in numpy (:mod:`dojo_ppo.fused_loss`, with the rollout's forward passes in
:mod:`dojo_ppo.numpy_inference`), for feed-forward networks with discrete actions on the CPU
(CartPole, Acrobot); ``auto``, the default, is ``fast`` where it applies and ``reference``
elsewhere. The trainer's ``settings`` carry the choice, so the run prints it. Both draw the
same minibatches (:mod:`dojo_ppo.minibatches`) and are tested equal over whole updates.

With ``network_settings.memory`` the actor carries each agent's LSTM memory from step to step
(:class:`~dojo.training.agent_memories.AgentMemories`) and stores the memory it acted from with
every step; the critic's memories are rebuilt per trajectory
(:mod:`dojo_ppo.recurrent_values`). Updates then run on whole sequences of ``sequence_length``
steps (:mod:`dojo.training.sequences`), each from its stored starting memories, with the
padding left out of every loss. GAE is unchanged: it runs per trajectory on the values.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from dojo.api import (
    ActionOutput,
    ActionTuple,
    Actor,
    CheckpointLoader,
    Critic,
    DecisionSteps,
    GradientAdam,
    OnPolicyTrainer,
    SignalBatch,
    TrainablePolicy,
    Trajectory,
    allowed_action_mask,
    clip_gradient_norm,
    decayed_value,
    export_actor,
)
from dojo.torch_layer.flat_parameters import flatten_parameters
from dojo.training.agent_memories import AgentMemories
from dojo.training.sequences import SequenceLayout, sequence_starts
from dojo_ppo.fused_loss import (
    Epochs,
    FusedDiscreteLoss,
    FusedLayers,
    encoder_features,
    run_epochs,
)
from dojo_ppo.gae import gae, padded
from dojo_ppo.implementation import choose_implementation, fast_path_refusal
from dojo_ppo.loss import PPOLoss, ppo_loss
from dojo_ppo.minibatches import epoch_minibatches
from dojo_ppo.numpy_inference import NumpyInference
from dojo_ppo.recurrent_values import RecurrentValueEstimator
from dojo_ppo.shared_critic import SharedCritic
from dojo_ppo.update_process import UpdateProcess, shared_lock

# Final values of the linear schedules (ML-Agents' constants; epsilon's: epsilon_final).
MIN_LEARNING_RATE = 1e-10
MIN_BETA = 1e-5
MAX_GRAD_NORM = 0.5
ADAM_EPSILON = 1e-5


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.cpu().numpy()


def _signal_fields(trajectories: list[Trajectory]) -> dict[str, np.ndarray]:
    """Rollout fields that reward signals learn from: next observations, env actions, ends."""
    batches = [SignalBatch.from_trajectory(t) for t in trajectories]
    fields = {
        "signal/continuous": np.concatenate([b.continuous for b in batches]),
        "signal/rewards": np.concatenate([b.rewards for b in batches]),
        "signal/done": np.concatenate([b.done for b in batches]),
    }
    for i in range(len(batches[0].next_obs)):
        fields[f"signal/next_obs/{i}"] = np.concatenate([b.next_obs[i] for b in batches])
    return fields


def _signal_batch(
    rollout: dict[str, np.ndarray], idx: np.ndarray | slice, n_obs: int
) -> SignalBatch:
    """The minibatch ``idx`` of the rollout as a :class:`SignalBatch`."""
    discrete = rollout.get("discrete")
    rewards = rollout["signal/rewards"][idx]
    return SignalBatch(
        obs=[rollout[f"obs/{i}"][idx] for i in range(n_obs)],
        next_obs=[rollout[f"signal/next_obs/{i}"][idx] for i in range(n_obs)],
        continuous=rollout["signal/continuous"][idx],
        discrete=np.zeros((len(rewards), 0), np.int64) if discrete is None else discrete[idx],
        rewards=rewards,
        done=rollout["signal/done"][idx],
    )


class _Sequences(NamedTuple):
    """A recurrent rollout's sequences: layout, starting memories ``[n_sequences, memory]``
    of the actor and the critic, and ``valid`` ``[n_sequences * L]`` (real steps)."""

    layout: SequenceLayout
    memories: torch.Tensor
    critic_memories: torch.Tensor
    valid: torch.Tensor


class _Minibatch(NamedTuple):
    """Rows of the rollout one gradient step reads; for a recurrent policy also its sequences'
    starting memories and which rows are real steps (``None`` otherwise)."""

    rows: torch.Tensor | slice
    memories: torch.Tensor | None = None
    critic_memories: torch.Tensor | None = None
    valid: torch.Tensor | None = None


class PPOTrainer(OnPolicyTrainer):
    """PPO with one value head per reward signal, an unclipped value loss and an entropy bonus."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        torch.manual_seed(self.context.seed)
        spec = self.behavior_spec
        network = self.settings.network_settings
        hp = self.settings.hyperparameters
        refusal = fast_path_refusal(spec, network, hp.shared_critic, self.context.device)
        implementation = choose_implementation(hp.implementation, refusal, self.behavior_name)
        # The settings say which implementation runs (the run prints them).
        self.hp = dataclasses.replace(hp, implementation=implementation)
        self.settings = dataclasses.replace(self.settings, hyperparameters=self.hp)
        fast = implementation == "fast"
        self.actor = Actor(spec.observation_specs, spec.action_spec, network, speed_kernels=fast)
        names = list(self.reward_signals)
        self.critic: Critic | SharedCritic = (
            SharedCritic(self.actor, names)
            if self.hp.shared_critic
            else Critic(spec.observation_specs, network, names, speed_kernels=fast)
        )
        self.device = torch.device(self.context.device)
        self.actor.to(self.device)
        self.critic.to(self.device)
        self.parameters = list(self.actor.parameters()) + list(self.critic.parameters())
        #: The fast implementation: hand-derived loss gradients (see fused_loss), which step
        #: Adam on all parameters at once, kept in one flat buffer...
        self._fused: FusedDiscreteLoss | None = None
        self._flat_parameters: np.ndarray | None = None
        #: ... rollout forward passes in numpy (see numpy_inference) ...
        self._inference: NumpyInference | None = None
        #: ... and, with threaded: true, the update's steps in a child process.
        self._update_process: UpdateProcess | None = None
        self._learning_signals = [s for s in self.reward_signals.values() if s.learns]
        # Reward signals that learn step with every minibatch, in this process.
        in_child = fast and self.threaded and self.context.training and not self._learning_signals
        # Gradients go straight into the fused Adam kernel (or its numpy twin): no Optimizer
        # bookkeeping per minibatch (and no torch._dynamo import, about 80 MB). eps 1e-5 as
        # SB3 and CleanRL.
        if fast:
            assert isinstance(self.critic, Critic)
            flat = flatten_parameters(self.parameters, shared=in_child)
            self._flat_parameters = flat.numpy()
            layers = FusedLayers.of(self.actor, self.critic, self.parameters)
            self._fused = FusedDiscreteLoss(layers)
            self._inference = NumpyInference(self.actor, self.critic, self.context.seed)
        self.optimizer = GradientAdam(self.parameters, eps=ADAM_EPSILON, shared=in_child)
        if in_child:
            self.policy_lock = shared_lock()
            self._update_process = UpdateProcess(
                layers, self.optimizer, flat, self.policy_lock, self.behavior_name
            )
        #: Seeds each update's minibatch order (see minibatches).
        self._shuffles = np.random.default_rng(self.context.seed)
        self.learning_rate = float(self.hp.learning_rate)
        self.deterministic = bool(network.deterministic)
        self._mask_width = sum(spec.action_spec.discrete_branches)
        self.memory_size = self.actor.memory_size
        self.sequence_length = 1
        self._agent_memories: AgentMemories | None = None
        self._value_estimator: RecurrentValueEstimator | None = None
        if network.memory is not None:
            self.sequence_length = int(network.memory.sequence_length)
            self._agent_memories = AgentMemories(self.memory_size)
            self._value_estimator = RecurrentValueEstimator(
                self.critic, self.sequence_length, self.device
            )

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        """A tensor on the training device sharing memory with ``array`` when on the CPU."""
        return torch.from_numpy(array).to(self.device)

    # ------------------------------------------------------------------ acting
    def act(self, decision_steps: DecisionSteps) -> ActionOutput:
        n = len(decision_steps)
        if self._inference is not None:
            with self.policy_lock:
                sample = self._inference.act(
                    decision_steps.obs, decision_steps.action_mask, self.deterministic
                )
            return ActionOutput(
                ActionTuple(np.empty((n, 0), np.float32), sample.discrete),
                {"log_prob": sample.log_prob},
                float(sample.entropy.mean()),
            )
        obs = [self._tensor(o) for o in decision_steps.obs]
        masks = allowed_action_mask(decision_steps.action_mask)
        if masks is not None:
            masks = masks.to(self.device)
        extras: dict[str, np.ndarray] = {}
        if self._agent_memories is None:
            with self.policy_lock:
                sample = self.actor.act(obs, masks, self.deterministic)
        else:
            memories = self._agent_memories.get(decision_steps.agent_id)
            with self.policy_lock:
                sample, after = self.actor.act_with_memories(
                    obs, masks, self._tensor(memories), self.deterministic
                )
            self._agent_memories.set(decision_steps.agent_id, _numpy(after))
            # The memory the agent acted from: training sequences start from it.
            extras["memory"] = memories
        raw, discrete, log_prob, entropy = sample
        continuous = (
            np.empty((n, 0), np.float32) if raw is None else _numpy(self.actor.env_actions(raw))
        )
        discrete_np = np.empty((n, 0), np.int64) if discrete is None else _numpy(discrete)
        extras["log_prob"] = _numpy(log_prob)
        if raw is not None:
            extras["continuous_raw"] = _numpy(raw)
        return ActionOutput(ActionTuple(continuous, discrete_np), extras, float(entropy.mean()))

    def end_episodes(self, agent_ids: np.ndarray) -> None:
        if self._agent_memories is not None:
            self._agent_memories.reset(agent_ids)

    # ------------------------------------------------------------------ collecting
    def prepare_trajectories(self, trajectories: list[Trajectory]) -> Mapping[str, np.ndarray]:
        lengths = np.array([len(t) for t in trajectories], dtype=np.int64)
        width = int(lengths.max())
        obs = [
            np.concatenate([t.obs[i] for t in trajectories])
            for i in range(len(trajectories[0].obs))
        ]
        next_obs = [np.stack([t.next_obs[i] for t in trajectories]) for i in range(len(obs))]
        if self.settings.network_settings.normalize:
            tensors = [self._tensor(o) for o in obs]
            with self.policy_lock:
                self.actor.update_normalization(tensors)
                self.critic.update_normalization(tensors)
        fields: dict[str, np.ndarray] = {}
        if self._inference is not None:
            with self.policy_lock:
                values_np = self._inference.values(obs)
                next_values_np = self._inference.values(next_obs)
        elif self._value_estimator is None:
            with torch.inference_mode():
                values = self.critic([self._tensor(o) for o in obs])
                next_values = self.critic([self._tensor(o) for o in next_obs])
            values_np = {name: _numpy(v) for name, v in values.items()}
            next_values_np = {name: _numpy(v) for name, v in next_values.items()}
        else:
            estimate = self._value_estimator.estimate(trajectories)
            values_np, next_values_np = estimate.values, estimate.next_values
            fields.update(self._sequence_fields(trajectories, lengths, estimate.start_memories))
        bootstrap_mask = np.array(
            [0.0 if (t.done and not t.interrupted) else 1.0 for t in trajectories], np.float32
        )
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        valid = np.arange(width)[None, :] < lengths[:, None]
        advantage_sum = np.zeros((len(trajectories), width), np.float32)
        signal_rewards = [self.signal_rewards(t) for t in trajectories]
        for name, signal in self.reward_signals.items():
            flat_values = values_np[name]
            per_traj = [flat_values[s : s + n] for s, n in zip(starts, lengths, strict=True)]
            value_grid = padded(per_traj, width)
            reward_grid = padded([r[name] for r in signal_rewards], width)
            bootstrap = next_values_np[name] * bootstrap_mask
            advantages, returns = gae(
                reward_grid, value_grid, bootstrap, lengths, signal.gamma, self.hp.lambd
            )
            advantage_sum += advantages
            fields[f"returns/{name}"] = returns[valid]
            fields[f"values/{name}"] = flat_values
            self.context.stats.add_stat(
                f"Policy/{signal.stat_name} Value Estimate", float(flat_values.mean())
            )
        fields["advantages"] = (advantage_sum / max(1, len(self.reward_signals)))[valid]
        if self._learning_signals:
            fields.update(_signal_fields(trajectories))
        for i, o in enumerate(obs):
            fields[f"obs/{i}"] = o
        fields["log_prob"] = np.concatenate([t.extras["log_prob"] for t in trajectories])
        if self.behavior_spec.action_spec.continuous_size:
            fields["continuous"] = np.concatenate(
                [t.extras["continuous_raw"] for t in trajectories]
            )
        if self.behavior_spec.action_spec.discrete_size:
            fields["discrete"] = np.concatenate([t.actions.discrete for t in trajectories])
        if self._mask_width:
            fields["masks"] = np.concatenate(
                [
                    np.ones((len(t), self._mask_width), np.float32)
                    if t.action_mask is None
                    else (~t.action_mask).astype(np.float32)
                    for t in trajectories
                ]
            )
        return fields

    def _sequence_fields(
        self, trajectories: list[Trajectory], lengths: np.ndarray, critic_starts: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Rollout fields of a recurrent policy: where sequences start, and the actor's and the
        critic's memories at those steps (zeros at the other steps, which no one reads)."""
        starts = sequence_starts(lengths, self.sequence_length)
        critic_memory = np.zeros((len(starts), self.critic.memory_size), np.float32)
        critic_memory[starts] = critic_starts
        return {
            "sequence_start": starts,
            "memory": np.concatenate([t.extras["memory"] for t in trajectories]),
            "critic_memory": critic_memory,
        }

    def _as_sequences(
        self, rollout: dict[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], _Sequences]:
        """A recurrent policy's rollout laid out as zero-padded sequences, and the sequences'
        starting memories (:class:`~dojo.training.sequences.SequenceLayout`)."""
        layout = SequenceLayout.from_starts(rollout.pop("sequence_start"), self.sequence_length)
        sequences = _Sequences(
            layout=layout,
            memories=self._tensor(rollout.pop("memory")[layout.starts]),
            critic_memories=self._tensor(rollout.pop("critic_memory")[layout.starts]),
            valid=self._tensor(layout.valid.reshape(-1)),
        )
        padded_rollout = {key: layout.pad(value) for key, value in rollout.items()}
        if "masks" in padded_rollout:
            # Padding rows allow every action: their (ignored) log-probabilities stay finite.
            padded_rollout["masks"][~layout.valid.reshape(-1)] = 1.0
        return padded_rollout, sequences

    def _epoch(
        self, rng: np.random.Generator, size: int, batch_size: int, sequences: _Sequences | None
    ) -> list[_Minibatch]:
        """One pass over the rollout in shuffled minibatches (:mod:`dojo_ppo.minibatches`):
        ``batch_size`` steps each, or, for a recurrent policy, ``batch_size // sequence_length``
        whole sequences each."""
        if sequences is None:
            return [
                _Minibatch(rows if isinstance(rows, slice) else self._tensor(rows))
                for rows in epoch_minibatches(rng, size, batch_size)
            ]
        layout = sequences.layout
        every_sequence = np.arange(layout.n_sequences)
        per_batch = max(1, batch_size // self.sequence_length)
        minibatches = []
        for chosen in epoch_minibatches(rng, layout.n_sequences, per_batch):
            index = every_sequence[chosen]
            rows = self._tensor(layout.positions(index))
            minibatches.append(
                _Minibatch(
                    rows,
                    sequences.memories[index],
                    sequences.critic_memories[index],
                    sequences.valid[rows],
                )
            )
        return minibatches

    # ------------------------------------------------------------------ learning
    def update(self, rollout: dict[str, np.ndarray]) -> None:
        hp = self.hp
        max_steps = int(self.settings.max_steps)
        lr = decayed_value(
            hp.learning_rate_schedule, hp.learning_rate, MIN_LEARNING_RATE, self.step, max_steps
        )
        epsilon = decayed_value(
            hp.epsilon_schedule, hp.epsilon, hp.epsilon_final, self.step, max_steps
        )
        beta = decayed_value(hp.beta_schedule, hp.beta, MIN_BETA, self.step, max_steps)
        self.learning_rate = lr

        advantages = rollout["advantages"]
        rollout["advantages"] = (advantages - advantages.mean()) / (advantages.std() + 1e-10)
        # Both implementations draw the same minibatches from the same seed.
        shuffle_seed = int(self._shuffles.integers(2**63))
        signal_stats: dict[str, list[float]] = defaultdict(list)
        if self._fused is None:
            losses = self._update_reference(rollout, lr, epsilon, beta, shuffle_seed, signal_stats)
        else:
            losses = self._update_fast(rollout, lr, epsilon, beta, shuffle_seed, signal_stats)
        self._report_update(*losses, signal_stats, lr, epsilon, beta)

    def _update_reference(
        self,
        rollout: dict[str, np.ndarray],
        lr: float,
        epsilon: float,
        beta: float,
        shuffle_seed: int,
        signal_stats: dict[str, list[float]],
    ) -> tuple[float, float]:
        """``num_epoch`` passes of minibatch steps: :func:`~dojo_ppo.loss.ppo_loss` through
        autograd, the gradients' joint norm clipped, then Adam. Returns the mean policy and
        value losses."""
        size = len(rollout["advantages"])
        sequences = None
        if self._value_estimator is not None:
            rollout, sequences = self._as_sequences(rollout)
        data = {key: self._tensor(np.ascontiguousarray(value)) for key, value in rollout.items()}
        rng = np.random.default_rng(shuffle_seed)
        losses: list[PPOLoss] = []
        for _ in range(int(self.hp.num_epoch)):
            for minibatch in self._epoch(rng, size, int(self.hp.batch_size), sequences):
                loss, rows = self._minibatch_loss(data, minibatch, epsilon, beta)
                # Unused parameters (e.g. a log std the loss never reached) get zero gradients.
                grads = list(
                    torch.autograd.grad(loss.total, self.parameters, materialize_grads=True)
                )
                # Gradient-norm clipping (as SB3 and CleanRL): many epochs over one small
                # rollout otherwise take steps large enough to undo learning.
                clip_gradient_norm(grads, MAX_GRAD_NORM)
                with self.policy_lock:
                    self.optimizer.step(grads, lr)
                self._update_signals(rows, rollout, signal_stats)
                losses.append(PPOLoss(*(part.detach() for part in loss)))
        return (
            float(torch.stack([loss.policy for loss in losses]).mean()),
            float(torch.stack([loss.value for loss in losses]).mean()),
        )

    def _minibatch_loss(
        self, data: dict[str, torch.Tensor], minibatch: _Minibatch, epsilon: float, beta: float
    ) -> tuple[PPOLoss, torch.Tensor | slice]:
        """:func:`~dojo_ppo.loss.ppo_loss` of one minibatch under the current networks, and
        the rows of ``data`` it covers (a recurrent minibatch's padding left out)."""
        rows = minibatch.rows
        obs = [data[f"obs/{i}"][rows] for i in range(len(self.behavior_spec.observation_specs))]
        masks = data["masks"][rows] if "masks" in data else None
        continuous = data["continuous"][rows] if "continuous" in data else None
        discrete = data["discrete"][rows] if "discrete" in data else None
        log_prob, entropy = self.actor.evaluate(
            obs, masks, continuous, discrete, minibatch.memories, self.sequence_length
        )
        values = self.critic(obs, minibatch.critic_memories, self.sequence_length)
        if minibatch.valid is not None:
            # Sequence padding counts in no loss: keep the real steps only.
            valid = minibatch.valid
            rows, log_prob, entropy = rows[valid], log_prob[valid], entropy[valid]
            values = {name: value[valid] for name, value in values.items()}
        loss = ppo_loss(
            log_prob,
            data["log_prob"][rows],
            data["advantages"][rows],
            entropy,
            values,
            {name: data[f"returns/{name}"][rows] for name in values},
            epsilon,
            beta,
        )
        return loss, rows

    def _update_fast(
        self,
        rollout: dict[str, np.ndarray],
        lr: float,
        epsilon: float,
        beta: float,
        shuffle_seed: int,
        signal_stats: dict[str, list[float]],
    ) -> tuple[float, float]:
        """:meth:`_update_reference`'s update with :mod:`dojo_ppo.fused_loss`'s hand-derived
        gradients (in the update process with ``threaded: true``). Returns the mean policy
        and value losses."""
        assert isinstance(self.critic, Critic) and self._fused is not None
        assert self._flat_parameters is not None
        n_obs = len(self.behavior_spec.observation_specs)
        obs = [torch.from_numpy(np.ascontiguousarray(rollout[f"obs/{i}"])) for i in range(n_obs)]
        actor_x, critic_x = encoder_features(self.actor, self.critic, obs)
        job = Epochs(
            actor_x,
            critic_x,
            np.ascontiguousarray(rollout["discrete"]),
            np.ascontiguousarray(rollout["masks"]) if "masks" in rollout else None,
            np.ascontiguousarray(rollout["log_prob"]),
            np.ascontiguousarray(rollout["advantages"]),
            [np.ascontiguousarray(rollout[f"returns/{name}"]) for name in self.reward_signals],
            int(self.hp.num_epoch),
            int(self.hp.batch_size),
            lr,
            epsilon,
            beta,
            MAX_GRAD_NORM,
            shuffle_seed,
        )
        if self._update_process is not None and self._update_process.ready():
            return self._update_process.run(job)
        return run_epochs(
            self._fused,
            self.optimizer,
            self._flat_parameters,
            self.policy_lock,
            job,
            # Learning reward signals step with every minibatch.
            (lambda rows: self._update_signals(rows, rollout, signal_stats))
            if self._learning_signals
            else None,
        )

    def _report_update(
        self,
        policy_loss: float,
        value_loss: float,
        signal_stats: dict[str, list[float]],
        lr: float,
        epsilon: float,
        beta: float,
    ) -> None:
        stats = self.context.stats
        stats.add_stat("Losses/Policy Loss", policy_loss)
        stats.add_stat("Losses/Value Loss", value_loss)
        for tag, values in signal_stats.items():
            stats.add_stat(tag, float(np.mean(values)))
        stats.add_stat("Policy/Learning Rate", lr)
        stats.add_stat("Policy/Epsilon", epsilon)
        stats.add_stat("Policy/Beta", beta)

    def _update_signals(
        self, idx: Any, rollout: dict[str, np.ndarray], signal_stats: dict[str, list[float]]
    ) -> None:
        """One step of every learning reward signal on this minibatch."""
        n_obs = len(self.behavior_spec.observation_specs)
        for signal in self._learning_signals:
            rows = idx if isinstance(idx, (slice, np.ndarray)) else idx.cpu().numpy()
            batch = _signal_batch(rollout, rows, n_obs)
            for tag, value in signal.update(batch).items():
                signal_stats[tag].append(value)

    def close(self) -> None:
        if self._update_process is not None:
            self._update_process.close()
        super().close()

    # ------------------------------------------------------------------ artifacts
    def trainable_policy(self) -> TrainablePolicy:
        """The actor, for add-ons (behavioral cloning): its parameters are changed in place,
        which the numpy rollout path and the update process both see."""
        return TrainablePolicy(
            actor=self.actor,
            parameters=list(self.actor.parameters()),
            learning_rate=lambda: self.learning_rate,
            lock=self.policy_lock,
            device=str(self.device),
        )

    def checkpoint_state(self) -> dict[str, Any]:
        return {
            "Policy": self.actor.state_dict(),
            "Optimizer:critic": self.critic.state_dict(),
            "Optimizer:value_optimizer": self.optimizer.state_dict(),
        }

    def restore_checkpoint_state(self, checkpoint: CheckpointLoader, reset_step: bool) -> None:
        # Non-strict, as ML-Agents: what no longer fits the networks keeps its initial values,
        # and Adam's moments (one flat buffer over every parameter) are restored only when
        # all the parameters were, else they start from zero with the step count.
        actor_loaded = checkpoint.module("Policy", self.actor)
        critic_loaded = checkpoint.module("Optimizer:critic", self.critic)
        if not reset_step:
            checkpoint.optimizer(
                "Optimizer:value_optimizer", self.optimizer, actor_loaded and critic_loaded
            )

    def export_onnx(self, path: Path) -> None:
        with self.policy_lock:
            actor = self.actor if self.device.type == "cpu" else copy.deepcopy(self.actor).cpu()
        export_actor(actor, self.behavior_spec, path)
