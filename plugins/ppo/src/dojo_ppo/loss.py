"""PPO's loss (Schulman et al. 2017, arXiv:1707.06347, eq. 9), in one readable function.

The trainer's reference implementation (:meth:`dojo_ppo.trainer.PPOTrainer.update`)
differentiates :func:`ppo_loss` with autograd. The fast implementation
(:mod:`dojo_ppo.fused_loss`) computes the same loss and its gradients by hand; the tests in
``tests/ppo/`` hold it equal to this function, step by step and over whole updates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import torch

#: Weight of the value loss in the total (ML-Agents, Stable-Baselines3 and CleanRL: 0.5).
VALUE_LOSS_WEIGHT = 0.5


class PPOLoss(NamedTuple):
    """The total PPO minimises and its parts (scalar tensors): ``total = policy
    + VALUE_LOSS_WEIGHT * value - beta * entropy``."""

    total: torch.Tensor
    policy: torch.Tensor
    value: torch.Tensor
    entropy: torch.Tensor


def ppo_loss(
    log_prob: torch.Tensor,
    old_log_prob: torch.Tensor,
    advantages: torch.Tensor,
    entropy: torch.Tensor,
    values: Mapping[str, torch.Tensor],
    returns: Mapping[str, torch.Tensor],
    epsilon: float,
    beta: float,
) -> PPOLoss:
    """PPO's loss on one minibatch of ``n`` steps.

    Args:
        log_prob: ``[n]`` log-probability of the taken actions under the current policy.
        old_log_prob: ``[n]`` the same under the policy that acted (stored in the rollout).
        advantages: ``[n]`` normalised advantages.
        entropy: ``[n]`` entropy of the current policy at each step.
        values: value head (reward signal name) -> ``[n]`` current value estimates.
        returns: value head -> ``[n]`` returns the head learns (GAE's targets).
        epsilon: clipping range of the probability ratio.
        beta: strength of the entropy bonus.
    """
    # Clipped surrogate objective (eq. 7): the ratio earns no more once it leaves
    # [1 - epsilon, 1 + epsilon] in the advantage's direction.
    ratio = torch.exp(log_prob - old_log_prob)
    clipped_ratio = torch.clamp(ratio, 1 - epsilon, 1 + epsilon)
    policy_loss = -torch.min(ratio * advantages, clipped_ratio * advantages).mean()

    # Value loss, averaged over the reward signals' heads. Not clipped to the old values as in
    # ML-Agents: a value can then move only epsilon per update, which held back learning
    # wherever returns are large (Acrobot-v1, seeds 0-2: -100 reached at 90-100k steps
    # unclipped; at 190k once, never twice, clipped).
    value_loss = torch.stack(
        [(returns[name] - value).square().mean() for name, value in values.items()]
    ).mean()

    # Entropy bonus: exploration.
    mean_entropy = entropy.mean()
    total = policy_loss + VALUE_LOSS_WEIGHT * value_loss - beta * mean_entropy
    return PPOLoss(total, policy_loss, value_loss, mean_entropy)
