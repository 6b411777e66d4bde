"""PPO's loss and its gradients derived by hand, for the common case of feed-forward networks
with discrete actions.

PPO on small networks (CartPole's 64 x 64) spends most of a run in its update, and most of an
update step in per-operation overhead: running the loss through autograd records and replays
dozens of small nodes, which cost several times the matrix products. For feed-forward actors
and critics on vector observations with discrete actions (equal-sized branches, optional masks)
:class:`FusedDiscreteLoss` computes the same clipped-surrogate, value and entropy losses and
their gradients directly, without recording a graph (PPO CartPole: about 7,200 -> 9,300 env
steps/s).
:func:`supports` says whether a trainer's networks qualify; everything else (memory, continuous
or hybrid actions, visual encoders, a shared critic) keeps the autograd path. The gradients
equal autograd's (``tests/ppo/test_fused_loss.py``).

Derivatives used (per sample, ``N`` samples, branch log-probabilities ``logp = log_softmax(z)``):

- surrogate ``min(r A, clip(r) A)`` with ``r = exp(lp - lp_old)``: ``d/d lp = A r`` where the
  unclipped term is the smaller (or equal) one, else 0;
- ``lp = sum_b logp_b[a_b]``: ``d lp / d z_b = onehot(a_b) - p_b``;
- entropy ``H_b = -sum p_b logp_b``: ``d H_b / d z_b = -p_b (logp_b + H_b)``;
- value loss ``mean_s mean_n (R - v)^2`` (weight 0.5 in the loss): ``d/d v = (v - R) / (S N)``;
- tanh layers: ``d/d pre = g (1 - h^2)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from dojo.torch_layer.action_model import MASKED_LOGIT
from dojo.torch_layer.dense_stack import tanh_
from dojo.torch_layer.networks import Actor, Critic


class FusedResult(NamedTuple):
    """One update step's gradients (in the order of the parameters given) and its losses."""

    grads: list[torch.Tensor]
    policy_loss: torch.Tensor
    value_loss: torch.Tensor


def supports(actor: Actor, critic: object) -> bool:
    """Whether :class:`FusedDiscreteLoss` computes this actor's and critic's loss."""
    if not isinstance(critic, Critic) or actor.memory is not None or critic.memory is not None:
        return False
    model = actor.action_model
    if model.continuous_size or not model.branches or model._needs_padding:
        return False
    if actor.body.activation_name != "tanh" or critic.body.activation_name != "tanh":
        return False
    # Encoders without trained parameters (vector observations): their output is computed once
    # per update, outside the gradient.
    return not any(
        p.requires_grad for p in [*actor.encoder.parameters(), *critic.encoder.parameters()]
    )


def _tanh_layers(x: torch.Tensor, layers: Sequence[torch.nn.Linear]) -> list[torch.Tensor]:
    """The input and every layer's output of a tanh body."""
    outputs = [x]
    for layer in layers:
        h = torch.addmm(layer.bias, outputs[-1], layer.weight.t())
        outputs.append(tanh_(h))
    return outputs


def _backward_tanh_layers(
    grad: torch.Tensor,
    layers: Sequence[torch.nn.Linear],
    outputs: list[torch.Tensor],
    into: dict[int, torch.Tensor],
) -> None:
    """Weight and bias gradients of a tanh body, given the gradient at its output."""
    g = grad
    for i in reversed(range(len(layers))):
        h, below, weight = outputs[i + 1], outputs[i], layers[i].weight
        g = g * (1.0 - h * h)
        # [out, in]; with few inputs (a first layer) BLAS is far faster at below^T @ g.
        if weight.shape[1] < weight.shape[0]:
            into[id(weight)] = (below.t() @ g).t()
        else:
            into[id(weight)] = g.t() @ below
        into[id(layers[i].bias)] = g.sum(0)
        if i:
            g = g @ weight


class FusedDiscreteLoss:
    """PPO's loss and gradients for a qualifying actor and critic (see :func:`supports`).

    Args:
        actor, critic: the networks (read at every call: their current parameters).
        parameters: the order in which :meth:`step` returns gradients.
    """

    def __init__(self, actor: Actor, critic: Critic, parameters: Sequence[torch.Tensor]) -> None:
        self.actor = actor
        self.critic = critic
        self.parameters = list(parameters)
        self.branches = len(actor.action_model.branches)
        self.branch_size = actor.action_model.max_branch

    @torch.no_grad()
    def features(self, obs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The actor's and the critic's encoder outputs (once per update)."""
        return self.actor.encoder(obs), self.critic.encoder(obs)

    @torch.no_grad()
    def step(
        self,
        actor_x: torch.Tensor,
        critic_x: torch.Tensor,
        actions: torch.Tensor,
        masks: torch.Tensor | None,
        old_log_prob: torch.Tensor,
        advantages: torch.Tensor,
        returns: Sequence[torch.Tensor],
        epsilon: float,
        beta: float,
    ) -> FusedResult:
        """Gradients of ``policy_loss + 0.5 value_loss - beta entropy`` for one minibatch:
        encoder outputs ``[N, features]``, actions ``[N, branches]`` int64, masks
        ``[N, sum(branches)]`` (1 = allowed) or ``None``, and one returns tensor per value
        head (in the critic's head order)."""
        n = actor_x.shape[0]
        grads: dict[int, torch.Tensor] = {}  # by id() of the parameter
        # Policy.
        body = list(self.actor.body.layers)
        logits_layer = self.actor.action_model.logits_layer
        assert logits_layer is not None
        hidden = _tanh_layers(actor_x, body)
        logits = torch.addmm(logits_layer.bias, hidden[-1], logits_layer.weight.t())
        if masks is not None:
            logits = logits.masked_fill(masks < 0.5, MASKED_LOGIT)
        logp = torch.log_softmax(logits.view(n, self.branches, self.branch_size), dim=2)
        probs = logp.exp()
        onehot = torch.zeros_like(logp).scatter_(2, actions.unsqueeze(2), 1.0)
        log_prob = (logp * onehot).sum((1, 2))
        ratio = torch.exp(log_prob - old_log_prob)
        unclipped = ratio * advantages
        clipped = torch.clamp(ratio, 1.0 - epsilon, 1.0 + epsilon) * advantages
        policy_loss = -torch.minimum(unclipped, clipped).mean()
        # d loss / d log_prob, then / d logits.
        d_log_prob = (unclipped <= clipped) * unclipped * (-1.0 / n)
        d_logits = (onehot - probs) * d_log_prob[:, None, None]
        if beta:
            entropy = -(probs * logp).sum(2, keepdim=True)  # [N, branches, 1]
            d_logits += probs * (logp + entropy) * (beta / n)
        d_logits = d_logits.view(n, -1)
        grads[id(logits_layer.weight)] = d_logits.t() @ hidden[-1]
        grads[id(logits_layer.bias)] = d_logits.sum(0)
        _backward_tanh_layers(d_logits @ logits_layer.weight, body, hidden, grads)

        # Values: 0.5 x the mean over heads of the mean squared error.
        critic_body = list(self.critic.body.layers)
        critic_hidden = _tanh_layers(critic_x, critic_body)
        features = critic_hidden[-1]
        heads = list(self.critic.value_heads.heads.values())
        scale = 1.0 / (len(heads) * n)
        d_features = torch.zeros_like(features)
        value_loss = torch.zeros(())
        for head, target in zip(heads, returns, strict=True):
            value = torch.addmm(head.bias, features, head.weight.t()).squeeze(1)
            error = value - target
            value_loss += error.square().mean()
            d_value = (error * scale).unsqueeze(1)  # [N, 1]
            grads[id(head.weight)] = (d_value * features).sum(0, keepdim=True)
            grads[id(head.bias)] = d_value.sum(0)
            d_features += d_value * head.weight
        _backward_tanh_layers(d_features, critic_body, critic_hidden, grads)
        ordered = []
        for p in self.parameters:
            grad = grads.get(id(p))
            ordered.append(torch.zeros_like(p) if grad is None else grad)
        return FusedResult(ordered, policy_loss, value_loss / len(heads))
