"""Soft Actor-Critic (Haarnoja et al. 2018, arXiv:1801.01290 and arXiv:1812.05905).

Reading order: :meth:`SACTrainer.act` (one forward pass for all waiting agents; tanh-squashed
Gaussian and/or masked categorical actions), :meth:`SACTrainer.update` (one gradient step on one
replayed batch), then its two halves in their reference form, plain torch and autograd:
:meth:`SACTrainer._target_and_policy_half` with :meth:`SACTrainer._policy_step_reference` (the
policy loss and the entropy coefficients) and :meth:`SACTrainer._critic_step_reference` (twin-Q
regression to a soft target). Each ``_fast`` method beside its reference computes the same step
faster. Storage, cadence and reward signals live in
:class:`~dojo.training.off_policy.OffPolicyTrainer`.

Algorithm: SAC with twin Q networks and *target Q networks* (the "v2" formulation of
arXiv:1812.05905, as Stable-Baselines3 and CleanRL), not ML-Agents' separate value network
with a target value network: it learns at least as fast and needs no extra network.
Where users see it, it follows ML-Agents:

- one output group per reward signal, each with its own gamma; the policy maximises the mean
  over signals of the first Q network (ML-Agents' policy loss uses Q1 only, which also saves
  the second network's backward pass);
- discrete actions: per-action Q values per branch; a joint action's value is the mean over
  branches; one entropy coefficient per branch;
- target entropy: ``-continuous_size`` for continuous actions (ML-Agents' scale 1.0), and
  ``0.05 * log(branch size)`` per branch (ML-Agents uses 0.2: see
  :data:`DISCRETE_TARGET_ENTROPY_SCALE`);
- stats ``Losses/Q1 Loss``, ``Losses/Q2 Loss``, ``Losses/Policy Loss``, ``Losses/Value Loss``
  (here: the mean of the two Q losses, the critic's regression loss), ``Policy/Continuous
  Entropy Coeff``, ``Policy/Discrete Entropy Coeff``, ``Policy/Learning Rate``,
  ``Policy/<Signal> Value`` (mean Q of the replayed actions);
- checkpoint keys ``Policy``, ``global_step``, ``Optimizer:q_network``,
  ``Optimizer:target_network``, ``Optimizer:value_optimizer`` (the Q networks' Adam),
  ``Optimizer:policy_optimizer`` (the policy's and entropy coefficients' Adam),
  ``Optimizer:entropy_coefficients``; no ``Optimizer:value_network`` (there is no value
  network).

Two forms of the update, chosen once when the trainer is built by
``hyperparameters.implementation`` (:func:`~dojo_sac.fused_update.choose_implementation`; the
run's settings printout shows the form that runs):

- ``reference``: plain layers (``speed_kernels=False``) and autograd; every network SAC trains;
- ``fast``: the same losses, gradients derived by hand (:mod:`dojo_sac.fused_update`; an update
  4.8 -> 4.4 ms on Pendulum) on networks whose layers run through dojo's kernels
  (``speed_kernels=True``: both twins in a few batched products); feed-forward networks with
  continuous actions only and vector observations. ``tests/sac/test_implementations.py``
  checks that whole updates of both give the same parameters;
- ``auto`` (the default): ``fast`` where it applies, else ``reference``.

Speed (one update per environment step makes the update the whole cost of a run), in both
forms: the update is split in two halves that share no parameters and run on two cores at once
(:data:`PARALLEL_HALVES`). A helper thread samples the policy's actions at the next states
(handing them over at once), then computes the policy and entropy losses with their gradients
and steps their Adam; the calling thread meanwhile runs the critic forward pass, the two target
twins at the handed-over actions, the soft TD target and the critic's backward pass, waits for
the helper (the policy loss reads the Q weights) and steps the critics' Adam. The calling thread
has 8 of the update's 14 large matrix products, the helper 6 and the policy's many small
operations; in the fast form the helper, once done with the policy, also takes the second
twin's hidden-layer weight gradient (Pendulum, six alternating pairs of 3,000-step runs: 199
against 188 steps/s without it). Other splits measured worse: the target twins on the helper
left the calling thread waiting about 1 ms per update; one target twin on each thread made the
update 4.8 instead of 4.4 ms. PyTorch releases the GIL inside its kernels, so the two threads'
products overlap; every gradient is taken at the pre-update parameters, exactly as in a
sequential update. Gradients go into a :class:`~dojo.torch_layer.adam.GradientAdam` (the fused
Adam kernel without the ``Optimizer`` bookkeeping); the target networks move with one
``torch._foreach_lerp_``; ReLU replaces tanh (25x cheaper on 256-wide layers on CPU).

Recurrent memory (``network_settings.memory``): acting carries each agent's actor memory
(:class:`~dojo.training.agent_memories.AgentMemories`) and stores the memory it acted from, as
PPO does; updates replay whole sequences in their own code paths
(:mod:`dojo_sac.recurrent_update`, reference form only; the feed-forward update never sees
them).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from dojo.api import (
    ActionOutput,
    ActionTuple,
    Actor,
    CheckpointLoader,
    DecisionSteps,
    GradientAdam,
    OffPolicyTrainer,
    TrainablePolicy,
    allowed_action_mask,
    decayed_value,
    export_actor,
)
from dojo.training.agent_memories import AgentMemories
from dojo_sac import fused_update
from dojo_sac.networks import TwinQNetwork
from dojo_sac.recurrent_update import RecurrentUpdate

MIN_LEARNING_RATE = 1e-10
#: Run the critic and policy halves of an update on two threads (on machines with 2+ cores).
PARALLEL_HALVES = len(os.sched_getaffinity(0)) >= 2 if hasattr(os, "sched_getaffinity") else False
# Target entropy: -1 x continuous size (ML-Agents, SB3).
CONTINUOUS_TARGET_ENTROPY_SCALE = 1.0
# ML-Agents uses 0.2 * log(branch size) per branch. dojo aims lower: with 0.2 the discrete policy
# stays random enough (about 5% of CartPole steps go the wrong way) that returns plateaued near
# 250; 0.05 * log(size) lets it become nearly deterministic where the task allows.
DISCRETE_TARGET_ENTROPY_SCALE = 0.05


class CriticStep(NamedTuple):
    """The critic half's result: the Q networks' gradients (in the order of their
    parameters), each twin's loss ``[2]`` and the smaller twin's mean value per signal
    ``[signals]``."""

    grads: Sequence[torch.Tensor]
    q_losses: torch.Tensor
    q_values: torch.Tensor


class _NextStep(NamedTuple):
    """The current policy at the replayed next states.

    Attributes:
        inputs: the target twins' input (features and continuous actions).
        log_prob: the continuous actions' log-probabilities ``[n]``, or ``None``.
        discrete_log_probs: every branch's log-probabilities, or ``None``.
    """

    inputs: torch.Tensor
    log_prob: torch.Tensor | None
    discrete_log_probs: torch.Tensor | None


class SACTrainer(RecurrentUpdate, OffPolicyTrainer):
    """SAC for continuous, discrete (multi-branch, masked) and hybrid action specs."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        torch.manual_seed(self.context.seed)
        spec = self.behavior_spec
        action_spec = spec.action_spec
        network = self.settings.network_settings
        hp = self.settings.hyperparameters
        #: ``"reference"`` or ``"fast"``: the form of the update (see the module docstring).
        self.implementation = fused_update.choose_implementation(
            hp.implementation, self.behavior_name, spec, network
        )
        # The run prints these settings: they say which form runs.
        self.hp = dataclasses.replace(hp, implementation=self.implementation)
        self.settings = dataclasses.replace(self.settings, hyperparameters=self.hp)
        fast = self.implementation == "fast"
        self.actor = Actor(
            spec.observation_specs,
            action_spec,
            network,
            conditional_sigma=True,
            tanh_squash=True,
            activation="relu",
            initialization="uniform",
            speed_kernels=fast,
        )
        names = list(self.reward_signals)
        self.q_network = TwinQNetwork(
            spec.observation_specs, action_spec, network, names, speed_kernels=fast
        )
        self.target_network = TwinQNetwork(
            spec.observation_specs, action_spec, network, names, speed_kernels=fast
        )
        self.target_network.load_state_dict(self.q_network.state_dict())
        self.target_network.requires_grad_(False)
        self.gammas = torch.tensor([s.gamma for s in self.reward_signals.values()])

        self.continuous_size = action_spec.continuous_size
        self.branches = tuple(action_spec.discrete_branches)
        # log(alpha): index 0 for continuous actions (if any), then one per branch.
        n_coefficients = (1 if self.continuous_size else 0) + len(self.branches)
        self.log_entropy_coefficients = torch.nn.Parameter(
            torch.full((n_coefficients,), math.log(float(self.hp.init_entcoef)))
        )
        targets = []
        if self.continuous_size:
            targets.append(-CONTINUOUS_TARGET_ENTROPY_SCALE * self.continuous_size)
        targets += [DISCRETE_TARGET_ENTROPY_SCALE * math.log(b) for b in self.branches]
        self.target_entropy = torch.tensor(targets, dtype=torch.float32)

        self._policy_parameters = [*self.actor.parameters(), self.log_entropy_coefficients]
        self._q_parameters = list(self.q_network.parameters())
        self._target_parameters = list(self.target_network.parameters())
        #: Every trained parameter: the policy's, the entropy coefficients, the Q networks'.
        self.parameters = self._policy_parameters + self._q_parameters
        self.policy_optimizer = GradientAdam(self._policy_parameters)
        self.q_optimizer = GradientAdam(self._q_parameters)
        self.learning_rate = float(self.hp.learning_rate)
        self._helper = (
            ThreadPoolExecutor(1, thread_name_prefix="sac-policy") if PARALLEL_HALVES else None
        )
        self.deterministic = bool(network.deterministic)
        # The update's two steps, in the chosen form.
        if fast:
            assert fused_update.networks_fit(self.actor, self.q_network)
            self._critic_step = self._critic_step_fast
            self._policy_step = self._policy_step_fast
        else:
            self._critic_step = self._critic_step_reference
            self._policy_step = self._policy_step_reference
        self._agent_memories = AgentMemories(self.memory_size) if self.memory_size else None
        self._stats: list[torch.Tensor] = []
        if self.branches:
            model = self.actor.action_model
            # Q outputs [sum(branches)] -> padded [branches, max_branch], as the policy's.
            self._padded_index = model._padded_index if model._needs_padding else None
            self._max_branch = model.max_branch

    # ------------------------------------------------------------------ acting
    def act(self, decision_steps: DecisionSteps) -> ActionOutput:
        n = len(decision_steps)
        obs = [torch.from_numpy(o) for o in decision_steps.obs]
        masks = allowed_action_mask(decision_steps.action_mask)
        extras: dict[str, np.ndarray] = {}
        if self._agent_memories is None:
            with self.policy_lock:
                continuous, discrete, _log_prob, entropy = self.actor.act(
                    obs, masks, self.deterministic
                )
        else:
            memories = self._agent_memories.get(decision_steps.agent_id)
            with self.policy_lock:
                sample, after = self.actor.act_with_memories(
                    obs, masks, torch.from_numpy(memories), self.deterministic
                )
            continuous, discrete, _log_prob, entropy = sample
            self._agent_memories.set(decision_steps.agent_id, after.numpy())
            # The memory the agent acted from: replayed sequences start from it.
            extras["memory"] = memories
        # Squashed samples are the environment actions (in [-1, 1]).
        continuous_np = np.empty((n, 0), np.float32) if continuous is None else continuous.numpy()
        discrete_np = np.empty((n, 0), np.int64) if discrete is None else discrete.numpy()
        return ActionOutput(ActionTuple(continuous_np, discrete_np), extras, float(entropy.mean()))

    def end_episodes(self, agent_ids: np.ndarray) -> None:
        if self._agent_memories is not None:
            self._agent_memories.reset(agent_ids)

    def observe(self, transitions: dict[str, np.ndarray]) -> None:
        if self.settings.network_settings.normalize:
            n_obs = len(self.behavior_spec.observation_specs)
            tensors = [torch.from_numpy(transitions[f"obs/{i}"]) for i in range(n_obs)]
            with self.policy_lock:
                self.actor.update_normalization(tensors)
                self.q_network.update_normalization(tensors)
                self.target_network.load_state_dict(
                    {
                        k: v
                        for k, v in self.q_network.state_dict().items()
                        if k.startswith("encoder.")
                    },
                    strict=False,
                )

    # ------------------------------------------------------------------ learning
    def _policy(
        self, obs: list[torch.Tensor], masks: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """Reparameterised continuous actions, their log-probabilities ``[n]``, and every
        branch's log-probabilities ``[n, branches, max_branch]``."""
        return self._policy_of(self.actor.hidden(obs), masks)

    def _policy_of(
        self, hidden: torch.Tensor, masks: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """:meth:`_policy` from the actor's features ``hidden`` ``[n, hidden_size]``."""
        model = self.actor.action_model
        dist = model.distribution(hidden, masks)
        continuous = log_prob = None
        if dist.mean is not None:
            continuous, log_prob, _ = model.sample_continuous(dist)
        return continuous, log_prob, dist.discrete_log_probs

    def _branch_values(self, q: torch.Tensor) -> torch.Tensor:
        """Per-action values ``[..., sum(branches)]`` -> ``[..., branches, max_branch]`` (padding
        slots hold a copy of a real value; the policy gives them probability 0)."""
        if self._padded_index is not None:
            q = torch.index_select(q, -1, self._padded_index)
        return q.unflatten(-1, (len(self.branches), self._max_branch))

    def _soft_value(
        self,
        q: torch.Tensor,
        continuous_log_prob: torch.Tensor | None,
        discrete_log_probs: torch.Tensor | None,
        alpha: torch.Tensor,
    ) -> torch.Tensor:
        """``E_a[Q(s, a) - sum alpha log pi(a|s)]`` per signal, ``[n, signals]``, from values
        ``q`` ``[n, signals, outputs]`` at the sampled continuous action."""
        if discrete_log_probs is None:
            value = q[..., 0]
        else:
            probs = discrete_log_probs.exp().unsqueeze(1)  # [n, 1, branches, max]
            per_branch = (probs * self._branch_values(q)).sum(-1)  # [n, signals, branches]
            entropy_term = (probs * discrete_log_probs.unsqueeze(1)).sum(-1)  # [n, 1, branches]
            branch_alpha = alpha[1:] if self.continuous_size else alpha
            value = (per_branch - branch_alpha * entropy_term).mean(-1)
        if continuous_log_prob is not None:
            value = value - alpha[0] * continuous_log_prob.unsqueeze(-1)
        return value

    def update(self, batch: dict[str, np.ndarray]) -> None:
        n_obs = len(self.behavior_spec.observation_specs)
        data = {key: torch.from_numpy(value) for key, value in batch.items()}
        obs = [data[f"obs/{i}"] for i in range(n_obs)]
        next_obs = [data[f"next_obs/{i}"] for i in range(n_obs)]
        alpha = self.log_entropy_coefficients.detach().exp()
        if self.memory_size:
            target_ready: Future[torch.Tensor] = Future()
            sequences = self._replayed_sequences(data, obs, next_obs)
            policy_half = partial(
                self._recurrent_target_and_policy_half, data, sequences, alpha, target_ready
            )
            critic_half = partial(self._recurrent_critic_half, data, sequences, target_ready)
        else:
            next_ready: Future[_NextStep] = Future()
            policy_half = partial(
                self._target_and_policy_half, data, obs, next_obs, alpha, next_ready
            )
            critic_half = partial(self._critic_step, data, obs, alpha, next_ready)
        if self._helper is None:
            policy_loss = policy_half()
            critic = critic_half()
        else:
            policy_done = self._helper.submit(policy_half)
            try:
                critic = critic_half()
            finally:
                policy_loss = policy_done.result()  # re-raises the helper's error
        # Both halves took their gradients at the old parameters; the critics move last
        # because the policy loss read their weights.
        q_grads, q_losses, q_values = critic
        with self.policy_lock:
            self.q_optimizer.step(q_grads, self.learning_rate)
        with torch.no_grad():
            torch._foreach_lerp_(self._target_parameters, self._q_parameters, float(self.hp.tau))
        self._stats.append(torch.cat([q_losses, policy_loss, q_values, alpha]))

    # ------------------------------------------------------------------ the policy half
    def _target_and_policy_half(
        self,
        data: dict[str, torch.Tensor],
        obs: list[torch.Tensor],
        next_obs: list[torch.Tensor],
        alpha: torch.Tensor,
        next_ready: Future[_NextStep],
    ) -> torch.Tensor:
        """The policy's actions at the next states (handed over to the critic half through
        ``next_ready`` as soon as they exist), then the policy and entropy-coefficient step.
        Returns the policy loss ``[1]``."""
        try:
            with torch.no_grad():
                next_ready.set_result(self._next_step(data, next_obs))
        except BaseException as err:
            next_ready.set_exception(err)
            raise
        return self._policy_step(data, obs, alpha)

    def _next_step(self, data: dict[str, torch.Tensor], next_obs: list[torch.Tensor]) -> _NextStep:
        """The current policy's actions at the next states, as the target twins' input."""
        continuous, log_prob, discrete_log_probs = self._policy(next_obs, data.get("next_masks"))
        inputs = self.target_network.inputs(next_obs, continuous)
        return _NextStep(inputs, log_prob, discrete_log_probs)

    def _policy_step_reference(
        self, data: dict[str, torch.Tensor], obs: list[torch.Tensor], alpha: torch.Tensor
    ) -> torch.Tensor:
        """Step the policy on ``E_a[alpha log pi(a|s) - Q1(s, a)]`` and the entropy
        coefficients towards their target entropies, through autograd. Returns the policy
        loss ``[1]``."""
        continuous, log_prob, discrete_log_probs = self._policy(obs, data.get("masks"))
        # The policy sees the first Q network through detached weights: no Q gradients.
        q1 = self.q_network.first(obs, continuous, frozen=True)
        policy_loss = self._policy_losses(q1, log_prob, discrete_log_probs, alpha).mean()
        # Entropy coefficients: move each entropy towards its target.
        with torch.no_grad():
            entropies = []
            if log_prob is not None:
                entropies.append(log_prob.mean())
            if discrete_log_probs is not None:
                branch_neg_entropy = (discrete_log_probs.exp() * discrete_log_probs).sum(-1)
                entropies.extend(branch_neg_entropy.mean(0).unbind())
        return self._step_policy(policy_loss, entropies)

    def _policy_losses(
        self,
        q1: torch.Tensor,
        log_prob: torch.Tensor | None,
        discrete_log_probs: torch.Tensor | None,
        alpha: torch.Tensor,
    ) -> torch.Tensor:
        """Each sample's policy loss ``[n]``: ``E_a[alpha log pi(a|s) - Q1(s, a)]`` (the
        expectation exact over discrete branches, one reparameterised continuous sample)."""
        if discrete_log_probs is None:
            return alpha[0] * log_prob - q1[..., 0].mean(-1)
        probs = discrete_log_probs.exp()
        branch_alpha = alpha[1:] if self.continuous_size else alpha
        q1_branches = self._branch_values(q1).mean(1)  # mean over signals: [n, br, max]
        per_branch = (probs * (branch_alpha[:, None] * discrete_log_probs - q1_branches)).sum(-1)
        losses = per_branch.sum(-1)
        if log_prob is not None:
            losses = losses + alpha[0] * log_prob
        return losses

    def _step_policy(
        self, policy_loss: torch.Tensor, entropies: list[torch.Tensor]
    ) -> torch.Tensor:
        """Step the policy and the entropy coefficients, each entropy coefficient moving its
        entropy (``entropies``: mean ``log pi`` per coefficient) towards its target. Returns the
        policy loss ``[1]``."""
        gap = torch.stack(entropies) + self.target_entropy  # log pi + target
        entropy_loss = -(self.log_entropy_coefficients * gap).sum()
        grads = torch.autograd.grad(policy_loss + entropy_loss, self._policy_parameters)
        with self.policy_lock:
            self.policy_optimizer.step(grads, self.learning_rate)
        return policy_loss.detach()[None]

    def _policy_step_fast(
        self, data: dict[str, torch.Tensor], obs: list[torch.Tensor], alpha: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`_policy_step_reference` with the gradients derived by hand
        (:func:`~dojo_sac.fused_update.policy_gradients`; continuous actions only)."""
        result = fused_update.policy_gradients(self.actor, self.q_network, obs, alpha[0])
        # d(entropy loss)/d(log alpha) = -(log pi + target), as autograd gets it above.
        gap = result.mean_log_prob + self.target_entropy
        with self.policy_lock:
            self.policy_optimizer.step([*result.grads, -gap], self.learning_rate)
        return result.policy_loss

    # ------------------------------------------------------------------ the critic half
    def _critic_step_reference(
        self,
        data: dict[str, torch.Tensor],
        obs: list[torch.Tensor],
        alpha: torch.Tensor,
        next_ready: Future[_NextStep],
    ) -> CriticStep:
        """Both Q networks regress on the soft target (from the target twins at the policy's
        next actions, ``next_ready``) at the replayed actions, through autograd."""
        q_taken = self._taken(self.q_network(obs, data.get("continuous")), data)
        target = self._soft_target_from(data, alpha, next_ready)
        # 0.5 * squared error, averaged over the batch and the reward signals (ML-Agents).
        q_losses = 0.5 * (q_taken - target).square().mean(dim=(1, 2))  # [2]
        grads = torch.autograd.grad(q_losses.sum(), self._q_parameters)
        return CriticStep(grads, q_losses.detach(), q_taken.detach().min(0).values.mean(0))

    def _soft_target_from(
        self, data: dict[str, torch.Tensor], alpha: torch.Tensor, next_ready: Future[_NextStep]
    ) -> torch.Tensor:
        """The soft TD target ``[n, signals]`` from the smaller target twin at the policy's
        next actions (waits for them: ``next_ready``)."""
        with torch.no_grad():
            next_step = next_ready.result()
            target_q = self.target_network.twins_of(next_step.inputs).min(dim=0).values
            return self._soft_target(
                data, target_q, next_step.log_prob, next_step.discrete_log_probs, alpha
            )

    def _soft_target(
        self,
        data: dict[str, torch.Tensor],
        target_q: torch.Tensor,
        next_log_prob: torch.Tensor | None,
        next_discrete: torch.Tensor | None,
        alpha: torch.Tensor,
    ) -> torch.Tensor:
        """``r + gamma * (1 - done) * V(s')``, ``[n, signals]``, from the smaller target twin's
        values ``target_q`` ``[n, signals, outputs]`` at the policy's next actions."""
        rewards = torch.stack([data[f"rewards/{name}"] for name in self.reward_signals], dim=1)
        next_value = self._soft_value(target_q, next_log_prob, next_discrete, alpha)
        not_done = (1.0 - data["done"]).unsqueeze(1)
        return rewards + self.gammas * not_done * next_value

    def _taken(self, q: torch.Tensor, data: dict[str, torch.Tensor]) -> torch.Tensor:
        """The replayed actions' values ``[2, n, signals]`` of both twins' outputs ``q``
        ``[2, n, signals, outputs]``."""
        if not self.branches:
            return q[..., 0]
        chosen = self._branch_values(q).gather(
            -1, data["discrete"][None, :, None, :, None].expand(2, -1, q.shape[2], -1, 1)
        )
        return chosen.squeeze(-1).mean(-1)

    def _critic_step_fast(
        self,
        data: dict[str, torch.Tensor],
        obs: list[torch.Tensor],
        alpha: torch.Tensor,
        next_ready: Future[_NextStep],
    ) -> CriticStep:
        """:meth:`_critic_step_reference` with the gradients derived by hand
        (:func:`~dojo_sac.fused_update.critic_gradients`; continuous actions only)."""
        forward = fused_update.critic_forward(self.q_network, obs, data["continuous"])
        target = self._soft_target_from(data, alpha, next_ready)
        # The helper (done with the policy by then) takes one twin's largest product.
        submit = None if self._helper is None else self._helper.submit
        result = fused_update.critic_gradients(self.q_network, forward, target, submit)
        return CriticStep(result.grads, result.q_losses, result.q_values)

    # ------------------------------------------------------------------ cadence and stats
    def advance(self) -> None:
        lr = decayed_value(
            self.hp.learning_rate_schedule,
            self.hp.learning_rate,
            MIN_LEARNING_RATE,
            self.step,
            int(self.settings.max_steps),
        )
        self.learning_rate = lr
        super().advance()
        if self._stats:
            self._report(lr)

    def _report(self, lr: float) -> None:
        means = torch.stack(self._stats).mean(0).tolist()
        self._stats.clear()
        stats = self.context.stats
        stats.add_stat("Losses/Q1 Loss", means[0])
        stats.add_stat("Losses/Q2 Loss", means[1])
        stats.add_stat("Losses/Value Loss", 0.5 * (means[0] + means[1]))
        stats.add_stat("Losses/Policy Loss", means[2])
        k = 3
        for signal in self.reward_signals.values():
            stats.add_stat(f"Policy/{signal.stat_name} Value", means[k])
            k += 1
        if self.continuous_size:
            stats.add_stat("Policy/Continuous Entropy Coeff", means[k])
            k += 1
        if self.branches:
            stats.add_stat("Policy/Discrete Entropy Coeff", float(np.mean(means[k:])))
        stats.add_stat("Policy/Learning Rate", lr)

    # ------------------------------------------------------------------ artifacts
    def trainable_policy(self) -> TrainablePolicy:
        """The actor, for add-ons (behavioral cloning), changed in place under the lock."""
        return TrainablePolicy(
            actor=self.actor,
            parameters=list(self.actor.parameters()),
            learning_rate=lambda: self.learning_rate,
            lock=self.policy_lock,
            device=self.context.device,
        )

    def checkpoint_state(self) -> dict[str, Any]:
        return {
            "Policy": self.actor.state_dict(),
            "Optimizer:q_network": self.q_network.state_dict(),
            "Optimizer:target_network": self.target_network.state_dict(),
            "Optimizer:value_optimizer": self.q_optimizer.state_dict(),
            "Optimizer:policy_optimizer": self.policy_optimizer.state_dict(),
            "Optimizer:entropy_coefficients": self.log_entropy_coefficients.detach().clone(),
            **{key: torch.tensor(value) for key, value in self.cadence_state().items()},
        }

    def restore_checkpoint_state(self, checkpoint: CheckpointLoader, reset_step: bool) -> None:
        # Non-strict, as ML-Agents: what no longer fits the networks keeps its initial values
        # (the target network's equal the Q networks', as after construction), and an
        # optimizer is restored only when all the parameters it steps were.
        state = checkpoint.state
        actor_loaded = checkpoint.module("Policy", self.actor)
        q_loaded = checkpoint.module("Optimizer:q_network", self.q_network)
        checkpoint.module("Optimizer:target_network", self.target_network)
        coefficients_loaded = checkpoint.tensor(
            "Optimizer:entropy_coefficients", self.log_entropy_coefficients
        )
        if not reset_step:
            checkpoint.optimizer("Optimizer:value_optimizer", self.q_optimizer, q_loaded)
            checkpoint.optimizer(
                "Optimizer:policy_optimizer",
                self.policy_optimizer,
                actor_loaded and coefficients_loaded,
            )
            self.step = checkpoint.step()
            # Only a buffer saved with this very checkpoint (save_resume_files).
            self.load_replay_buffer(Path(checkpoint.source).parent, step=self.step)
        counters = {
            key: int(state[key])
            for key in ("update_steps", "reward_signal_update_steps")
            if key in state
        }
        self.load_cadence_state(counters, reset_step)

    def close(self) -> None:
        if self._helper is not None:
            self._helper.shutdown()
        super().close()

    def export_onnx(self, path: Path) -> None:
        with self.policy_lock:
            export_actor(self.actor, self.behavior_spec, path)
