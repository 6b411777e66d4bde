"""SAC's update on replayed sequences, for ``network_settings.memory``, mixed into
:class:`~dojo_sac.trainer.SACTrainer` (it uses the trainer's networks, losses and optimizers).
Recurrent networks have the reference form of the update only (plain layers and autograd).

An update replays whole sequences (:meth:`~dojo.training.off_policy.OffPolicyTrainer.
sample_sequences`) with padding masked out of the Q, policy and entropy losses. Since
``next_obs`` of a step is the next step's observation, the states of a sequence and their next
states are one *extended* sequence ``[s_0, s'_0, s'_1, ..., s'_{L-1}]`` of ``L + 1`` steps: one
LSTM pass over it gives the features of every state (steps ``0..L-1``) and of every next state
(steps ``1..L``), the latter with the memory after the step, as the target needs. The actor
starts it from the stored memory; the Q networks, whose LSTM sits before the action input
(:mod:`dojo_sac.networks`), from zeros.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any, NamedTuple

import torch


class _ReplayedSequences(NamedTuple):
    """A recurrent update's sequences (``n`` of ``L`` steps, flat and sequence-major).

    Attributes:
        obs: the states, per observation ``[n * L, ...]``.
        extended: the first state then every next state, per observation ``[n * (L + 1), ...]``.
        memories: the actor's starting memory of each sequence ``[n, memory_size]``.
        valid: ``[n * L]``, 1.0 for real steps and 0.0 for padding.
        n_valid: the number of real steps (a 0-d tensor).
    """

    obs: list[torch.Tensor]
    extended: list[torch.Tensor]
    memories: torch.Tensor
    valid: torch.Tensor
    n_valid: torch.Tensor


class RecurrentUpdate:
    """The ``_recurrent_*`` halves of :meth:`~dojo_sac.trainer.SACTrainer.update`."""

    # Provided by SACTrainer.
    sequence_length: int
    actor: Any
    q_network: Any
    target_network: Any
    _q_parameters: list[torch.Tensor]

    def _replayed_sequences(
        self,
        data: dict[str, torch.Tensor],
        obs: list[torch.Tensor],
        next_obs: list[torch.Tensor],
    ) -> _ReplayedSequences:
        """The sequences of a :meth:`~dojo.training.off_policy.OffPolicyTrainer.
        sample_sequences` batch."""
        memories = data["memory"]
        n, length = memories.shape[0], self.sequence_length
        extended = [
            torch.cat(
                [o.unflatten(0, (n, length))[:, :1], next_o.unflatten(0, (n, length))], dim=1
            ).flatten(0, 1)
            for o, next_o in zip(obs, next_obs, strict=True)
        ]
        valid = data["valid"]
        return _ReplayedSequences(obs, extended, memories, valid, valid.sum())

    def _states_and_next_states(
        self, features: torch.Tensor, n: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Features ``[n * (L + 1), f]`` of extended sequences -> those of the states and of
        the next states, each ``[n * L, f]``."""
        steps = features.unflatten(0, (n, self.sequence_length + 1))
        return steps[:, :-1].flatten(0, 1), steps[:, 1:].flatten(0, 1)

    def _recurrent_target_and_policy_half(
        self,
        data: dict[str, torch.Tensor],
        sequences: _ReplayedSequences,
        alpha: torch.Tensor,
        target_ready: Future[torch.Tensor],
    ) -> torch.Tensor:
        """:meth:`_target_and_policy_half` on sequences: one actor LSTM pass over the extended
        sequences from the stored memories; padding counts in no loss."""
        n = sequences.memories.shape[0]
        hidden = self.actor.hidden(sequences.extended, sequences.memories, self.sequence_length + 1)
        hidden, next_hidden = self._states_and_next_states(hidden, n)
        try:
            target_ready.set_result(
                self._recurrent_soft_target(data, sequences, next_hidden.detach(), alpha)
            )
        except BaseException as err:
            target_ready.set_exception(err)
            raise
        continuous, log_prob, discrete_log_probs = self._policy_of(hidden, data.get("masks"))
        with torch.no_grad():
            features = self.q_network.sequence_features(sequences.obs, n, self.sequence_length)
        q1 = self.q_network.twin(0, self.q_network.with_actions(features, continuous), frozen=True)
        valid, n_valid = sequences.valid, sequences.n_valid
        losses = self._policy_losses(q1, log_prob, discrete_log_probs, alpha)
        policy_loss = (losses * valid).sum() / n_valid
        with torch.no_grad():
            entropies = []
            if log_prob is not None:
                entropies.append((log_prob * valid).sum() / n_valid)
            if discrete_log_probs is not None:
                branch_neg_entropy = (discrete_log_probs.exp() * discrete_log_probs).sum(-1)
                entropies.extend(((branch_neg_entropy * valid[:, None]).sum(0) / n_valid).unbind())
        return self._step_policy(policy_loss, entropies)

    def _recurrent_soft_target(
        self,
        data: dict[str, torch.Tensor],
        sequences: _ReplayedSequences,
        next_hidden: torch.Tensor,
        alpha: torch.Tensor,
    ) -> torch.Tensor:
        """:meth:`_soft_target` of sequences from the actor's next-state features; the target
        networks' LSTM runs over the extended sequences."""
        n = sequences.memories.shape[0]
        with torch.no_grad():
            next_continuous, next_log_prob, next_discrete = self._policy_of(
                next_hidden, data.get("next_masks")
            )
            features = self.target_network.sequence_features(
                sequences.extended, n, self.sequence_length + 1
            )
            _, next_features = self._states_and_next_states(features, n)
            inputs = self.target_network.with_actions(next_features, next_continuous)
            target_q = self.target_network.twins_of(inputs).min(dim=0).values
            return self._soft_target(data, target_q, next_log_prob, next_discrete, alpha)

    def _recurrent_critic_half(
        self,
        data: dict[str, torch.Tensor],
        sequences: _ReplayedSequences,
        target_ready: Future[torch.Tensor],
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor]:
        """:meth:`_critic_step_reference` on sequences, padding masked out of the losses and
        values. Returns the gradients, the losses and the values (a
        :class:`~dojo_sac.trainer.CriticStep`'s fields)."""
        n = sequences.memories.shape[0]
        features = self.q_network.sequence_features(sequences.obs, n, self.sequence_length)
        inputs = self.q_network.with_actions(features, data.get("continuous"))
        q_taken = self._taken(self.q_network.twins_of(inputs), data)  # [2, n * L, signals]
        target = target_ready.result()
        valid, n_valid = sequences.valid, sequences.n_valid
        squared = (q_taken - target).square().mean(dim=2)  # [2, n * L]
        q_losses = 0.5 * (squared * valid).sum(dim=1) / n_valid
        grads = torch.autograd.grad(q_losses.sum(), self._q_parameters)
        values = (q_taken.detach().min(0).values * valid[:, None]).sum(0) / n_valid
        return grads, q_losses.detach(), values
