"""The policy's action distribution: Gaussian continuous actions, masked multi-branch discrete
actions, or both (hybrid), parameterised by the network body's hidden features.

Conventions (ML-Agents 1.x, so exported models behave the same in Unity):

- continuous actions are sampled from ``N(mean, exp(log_std))``; the log std is one learned
  parameter per action dimension, independent of the observation (initialised to 0, i.e. std 1),
  unless ``conditional_sigma`` makes it a linear function of the hidden features, clamped to
  [-20, 2] (what SAC uses). The *raw* sample is what log-probabilities are computed on; the
  environment receives :func:`continuous_env_action` of it, ``clip(raw, -3, 3) / 3``.
- with ``tanh_squash`` (SAC, as ML-Agents' ``tanh_squash=True``) the sample is ``tanh`` of the
  Gaussian sample: already in [-1, 1], sent to the environment as is, and its log-probability
  carries the change-of-variables correction ``-sum log(1 - tanh(u)^2)``. The reported entropy is
  the entropy of the underlying Gaussian (the squashed one has no closed form; ML-Agents reports
  the same).
- discrete actions: one categorical distribution per branch. An action mask has 1 for an
  allowed action and 0 for a masked one (the ONNX ``action_masks`` convention; the Unity
  protocol's ``True = masked`` is converted by :func:`allowed_action_mask`). Masked logits are
  replaced by -1e8, so masked actions have probability 0 (exactly, in float32).
- ``log_prob`` is the joint log-probability (sum over continuous dimensions and branches) and
  ``entropy`` the joint entropy (also a sum), both ``[n]``.

The hot path avoids ``torch.distributions`` objects (argument validation and per-call object
construction cost more than the math at rollout batch sizes); the formulas are the closed forms,
checked against ``torch.distributions`` in the tests.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from dojo.envs.base import ActionSpec

# ML-Agents clips raw Gaussian samples to +-3 std and divides by 3 before sending them to the
# environment (and in the exported model), so env actions lie in [-1, 1].
ACTION_CLIP = 3.0
MASKED_LOGIT = -1e8
# Added to the padding slots of branches shorter than the longest: far below MASKED_LOGIT, so
# even a fully masked branch never picks a padding slot.
PADDING_LOGIT = -1e9
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_SMALLEST_UNIFORM = float(torch.finfo(torch.float32).tiny)


class ActionSample(NamedTuple):
    """Sampled actions of ``n`` agents and their statistics.

    Attributes:
        continuous: ``[n, continuous_size]`` raw Gaussian sample (unclipped), or, with
            ``tanh_squash``, the squashed sample in [-1, 1]; ``None`` without continuous actions.
        discrete: ``[n, n_branches]`` int64 action indices, or ``None``.
        log_prob: ``[n]`` joint log-probability of the actions (nats).
        entropy: ``[n]`` joint entropy of the action distribution (nats).
    """

    continuous: torch.Tensor | None
    discrete: torch.Tensor | None
    log_prob: torch.Tensor
    entropy: torch.Tensor


class ActionDistribution(NamedTuple):
    """Parameters of the action distribution for ``n`` agents (for SAC-style losses that need
    more than sampled log-probabilities).

    Attributes:
        mean: ``[n, continuous_size]`` Gaussian mean, or ``None``.
        log_std: Gaussian log standard deviation, ``[n, continuous_size]`` with
            ``conditional_sigma``, else the shared ``[continuous_size]`` parameter (it
            broadcasts), or ``None``.
        discrete_log_probs: ``[n, n_branches, max_branch_size]`` log-probabilities of every
            action of every branch, masked actions and padding at ~-1e8 (probability 0), or
            ``None``.
    """

    mean: torch.Tensor | None
    log_std: torch.Tensor | None
    discrete_log_probs: torch.Tensor | None


def continuous_env_action(raw: torch.Tensor) -> torch.Tensor:
    """The environment-facing continuous action, ``clip(raw, -3, 3) / 3`` in [-1, 1], exactly as
    ML-Agents' exported ``continuous_actions``."""
    return torch.clamp(raw, -ACTION_CLIP, ACTION_CLIP) / ACTION_CLIP


def allowed_action_mask(disabled: np.ndarray | None) -> torch.Tensor | None:
    """Convert an environment action mask (``[n, sum(branches)]`` bool, ``True`` = disabled, as
    in :class:`~dojo.envs.base.DecisionSteps`) to the float ``1 = allowed`` mask this module and
    the ONNX ``action_masks`` input use; ``None`` stays ``None`` (nothing masked)."""
    if disabled is None:
        return None
    return torch.from_numpy(np.logical_not(disabled).astype(np.float32))


def _kaiming_linear(in_size: int, out_size: int, gain: float) -> nn.Linear:
    # ML-Agents' output layers: He-normal weights scaled down (small initial actions, near
    # uniform initial discrete policy), zero bias.
    layer = nn.Linear(in_size, out_size)
    nn.init.kaiming_normal_(layer.weight, nonlinearity="linear")
    with torch.no_grad():
        layer.weight.mul_(gain)
    nn.init.zeros_(layer.bias)
    return layer


def sample_discrete(discrete_log_probs: torch.Tensor) -> torch.Tensor:
    """One sampled index per branch, ``[n, n_branches]`` int64, from ``[n, branches, size]``
    log-probabilities.

    Uses the Gumbel-max trick, ``argmax(log p - log(-log u))`` with ``u ~ U[0, 1)``: exact
    categorical samples in a few elementwise ops, several times cheaper than
    ``torch.multinomial`` at rollout batch sizes, and exportable to ONNX (RandomUniformLike,
    Log, ArgMax). Masked actions (log p ~ -1e8) can never win: with ``u`` kept away from 0 the
    Gumbel noise lies in [-4.5, 16.7].
    """
    # u = 0 would give an allowed action -inf and let a masked one win (odds 2**-24 per draw,
    # which a long run reaches).
    uniform = torch.rand_like(discrete_log_probs).clamp_(min=_SMALLEST_UNIFORM)
    # log p + Gumbel noise, with the noise -log(-log u) folded into one subtraction. Axis 2, not
    # -1: negative axes are only valid in ONNX from opset 11.
    return torch.argmax(discrete_log_probs - torch.log(-torch.log(uniform)), dim=2)


class ActionModel(nn.Module):
    """Maps hidden features ``[n, hidden_size]`` to an action distribution over ``action_spec``.

    Args:
        hidden_size: width of the features it receives (the body's output).
        action_spec: continuous size and discrete branch sizes.
        conditional_sigma: make the Gaussian log std a function of the features (SAC) instead of
            a free parameter (PPO).
        tanh_squash: squash continuous samples with ``tanh`` (SAC) instead of clipping them.
    """

    def __init__(
        self,
        hidden_size: int,
        action_spec: ActionSpec,
        conditional_sigma: bool = False,
        tanh_squash: bool = False,
    ) -> None:
        super().__init__()
        self.action_spec = action_spec
        self.continuous_size = action_spec.continuous_size
        self.branches = tuple(int(b) for b in action_spec.discrete_branches)
        self.conditional_sigma = conditional_sigma
        self.tanh_squash = tanh_squash
        if self.continuous_size == 0 and not self.branches:
            raise ValueError("the action spec has neither continuous actions nor branches")

        self.mean_layer: nn.Linear | None = None
        self.log_std_layer: nn.Linear | None = None
        self.log_std: nn.Parameter | None = None
        if self.continuous_size > 0:
            self.mean_layer = _kaiming_linear(hidden_size, self.continuous_size, gain=0.2)
            if conditional_sigma:
                self.log_std_layer = _kaiming_linear(hidden_size, self.continuous_size, gain=0.2)
            else:
                self.log_std = nn.Parameter(torch.zeros(self.continuous_size))

        self.logits_layer: nn.Linear | None = None
        self.max_branch = max(self.branches, default=0)
        # Equal branch sizes need no padding: the flat logits are just reshaped.
        self._needs_padding = len(set(self.branches)) > 1
        if self.branches:
            # One fused layer for every branch: same initial distribution as one layer per
            # branch (fan-in is the hidden size either way), one matmul instead of several.
            # Gain 0.01 (SB3, CleanRL): a near-uniform first policy; 0.1 learned more slowly.
            self.logits_layer = _kaiming_linear(hidden_size, sum(self.branches), gain=0.01)
            index, bias = self._padding_layout()
            self.register_buffer("_padded_index", index, persistent=False)
            self.register_buffer("_padding_bias", bias, persistent=False)

    def _padding_layout(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Gather index and additive bias that turn flat logits ``[n, sum(branches)]`` into the
        padded ``[n, branches * max_branch]`` layout: a padding slot reads its branch's first
        logit and adds PADDING_LOGIT, which leaves it far below any real or masked logit."""
        index: list[int] = []
        bias: list[float] = []
        start = 0
        for size in self.branches:
            padding = self.max_branch - size
            index += list(range(start, start + size)) + [start] * padding
            bias += [0.0] * size + [PADDING_LOGIT] * padding
            start += size
        return torch.tensor(index, dtype=torch.long), torch.tensor(bias)

    # --- distribution --------------------------------------------------------------------------

    def distribution(
        self, hidden: torch.Tensor, masks: torch.Tensor | None = None
    ) -> ActionDistribution:
        """Distribution parameters for features ``[n, hidden_size]`` and optional ``masks``
        ``[n, sum(branches)]`` (1 = allowed)."""
        mean = log_std = discrete_log_probs = None
        # F.linear on the parameters skips nn.Module.__call__: this runs once per env step.
        if self.mean_layer is not None:
            mean = F.linear(hidden, self.mean_layer.weight, self.mean_layer.bias)
            if self.log_std_layer is not None:
                log_std = F.linear(hidden, self.log_std_layer.weight, self.log_std_layer.bias)
                log_std = torch.clamp(log_std, LOG_STD_MIN, LOG_STD_MAX)
            else:
                log_std = self.log_std
        if self.logits_layer is not None:
            logits = F.linear(hidden, self.logits_layer.weight, self.logits_layer.bias)
            if masks is not None:
                # Same value as ML-Agents' ``logits * mask - 1e8 * (1 - mask)``, in two ops
                # (Less + Where in ONNX).
                logits = logits.masked_fill(masks < 0.5, MASKED_LOGIT)
            if self._needs_padding:
                logits = torch.index_select(logits, 1, self._padded_index) + self._padding_bias
            logits = logits.reshape(-1, len(self.branches), self.max_branch)
            discrete_log_probs = torch.log_softmax(logits, dim=2)
        return ActionDistribution(mean, log_std, discrete_log_probs)

    # --- sampling and evaluation ---------------------------------------------------------------

    def sample(
        self,
        hidden: torch.Tensor,
        masks: torch.Tensor | None = None,
        deterministic: bool = False,
    ) -> ActionSample:
        """Sample actions (or take the mean / argmax when ``deterministic``) for ``n`` agents.

        The continuous sample is reparameterised (``mean + std * noise``), so gradients flow
        through it when autograd is on (SAC's actor loss).
        """
        dist = self.distribution(hidden, masks)
        continuous = discrete = None
        log_prob = entropy = None
        if dist.mean is not None:
            continuous, log_prob, entropy = self.sample_continuous(dist, deterministic)
        if dist.discrete_log_probs is not None:
            logp = dist.discrete_log_probs
            discrete = logp.argmax(dim=2) if deterministic else sample_discrete(logp)
            d_log_prob, d_entropy = _categorical_stats(logp, discrete)
            log_prob = d_log_prob if log_prob is None else log_prob + d_log_prob
            entropy = d_entropy if entropy is None else entropy + d_entropy
        return ActionSample(continuous, discrete, log_prob, entropy)

    def sample_continuous(
        self, dist: ActionDistribution, deterministic: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Continuous actions ``[n, c]`` of ``dist`` (reparameterised: differentiable), their
        log-probability ``[n]`` and the Gaussian's entropy ``[n]``; squashed with
        ``tanh_squash``."""
        assert dist.mean is not None and dist.log_std is not None
        if deterministic:
            continuous = dist.mean
            noise = torch.zeros_like(dist.mean)
        else:
            noise = torch.randn_like(dist.mean)
            continuous = torch.addcmul(dist.mean, noise, dist.log_std.exp())
        log_prob, entropy = _gaussian_stats(noise, dist.log_std)
        if self.tanh_squash:
            log_prob = log_prob - _tanh_log_det(continuous)
            continuous = torch.tanh(continuous)
        return continuous, log_prob, entropy

    def evaluate(
        self,
        hidden: torch.Tensor,
        masks: torch.Tensor | None,
        continuous: torch.Tensor | None,
        discrete: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Joint ``log_prob`` ``[n]`` of given actions (raw continuous ``[n, c]``, or squashed
        ones in (-1, 1) with ``tanh_squash``; discrete ``[n, branches]`` int64) and the
        distribution's joint ``entropy`` ``[n]``."""
        dist = self.distribution(hidden, masks)
        log_prob = entropy = None
        if dist.mean is not None:
            if continuous is None:
                raise ValueError("continuous actions are required by this action spec")
            if self.tanh_squash:
                # atanh of an action at +-1 is infinite: stay just inside the open interval.
                limit = 1.0 - 1e-6
                continuous = torch.atanh(torch.clamp(continuous, -limit, limit))
            noise = (continuous - dist.mean) * torch.exp(-dist.log_std)
            log_prob, entropy = _gaussian_stats(noise, dist.log_std)
            if self.tanh_squash:
                log_prob = log_prob - _tanh_log_det(continuous)
        if dist.discrete_log_probs is not None:
            if discrete is None:
                raise ValueError("discrete actions are required by this action spec")
            d_log_prob, d_entropy = _categorical_stats(dist.discrete_log_probs, discrete.long())
            log_prob = d_log_prob if log_prob is None else log_prob + d_log_prob
            entropy = d_entropy if entropy is None else entropy + d_entropy
        return log_prob, entropy


def _gaussian_stats(
    noise: torch.Tensor, log_std: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability and entropy ``[n]`` of a diagonal Gaussian, from the standardised sample
    ``noise = (x - mean) / std`` (``[n, c]``) and ``log_std`` (``[n, c]`` or ``[c]``)."""
    size = noise.shape[-1]
    # log N(x) = -|noise|^2 / 2 - sum(log_std) - c/2 log(2 pi)
    # H = sum(log_std) + c/2 (1 + log(2 pi))
    log_normalizer = log_std.sum(dim=-1) + size * _HALF_LOG_2PI
    log_prob = -0.5 * noise.square().sum(dim=-1) - log_normalizer
    entropy = (log_normalizer + 0.5 * size).expand(noise.shape[0])
    return log_prob, entropy


def _tanh_log_det(raw: torch.Tensor) -> torch.Tensor:
    """``sum log(1 - tanh(raw)^2)`` over the last axis, ``[n]``, in the numerically stable form
    ``2 (log 2 - raw - softplus(-2 raw))`` (no log of a number that rounds to 0)."""
    return (2.0 * (math.log(2.0) - raw - F.softplus(-2.0 * raw))).sum(dim=-1)


def _categorical_stats(
    log_probs: torch.Tensor, actions: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Joint log-probability of ``actions`` ``[n, branches]`` and joint entropy, both ``[n]``,
    from per-branch log-probabilities ``[n, branches, size]``."""
    log_prob = log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1).sum(dim=-1)
    # -p log p from the log-probabilities: masked and padding actions (log p ~ -1e8, p = 0) add
    # nothing, and their gradient is 0. (torch.special.entr(p) has an infinite derivative at
    # p = 0, which made every gradient NaN for masked actions with an entropy bonus.)
    entropy = -(log_probs.exp() * log_probs).sum(dim=(-2, -1))
    return log_prob, entropy
