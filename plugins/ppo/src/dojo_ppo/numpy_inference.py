"""The rollout's forward passes in numpy: PPO's fast implementation acts and estimates values
with these (the networks :mod:`dojo_ppo.fused_loss` covers; the reference one uses torch).

At every environment step PPO samples actions for the waiting agents, and after every rollout
it estimates the values of all its observations. On small networks (CartPole: 8 agents, 64 x
64) a torch forward pass is mostly per-operation overhead; the same arithmetic in numpy, on
views of the same parameters, takes about a fifth of the time (an act call went from about
120 to 25 microseconds), and torch's CPU tanh is several times slower than numpy's.

:class:`NumpyInference` reads the parameters through views, so it always sees the current
weights (Adam and ``load_state_dict`` update them in place). Discrete actions are sampled with
the Gumbel-max trick like :func:`dojo.torch_layer.action_model.sample_discrete`, from a numpy
generator seeded from the run's seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from dojo.torch_layer.action_model import MASKED_LOGIT
from dojo.torch_layer.encoders import ObservationEncoder
from dojo.torch_layer.networks import Actor, Critic
from dojo_ppo.fused_loss import DenseViews, tanh_layers

# u in the Gumbel noise -log(-log u) is kept away from 0 (as sample_discrete does).
_SMALLEST_UNIFORM = np.finfo(np.float32).tiny


class DiscreteSample(NamedTuple):
    """Actions ``[n, branches]`` int64 with their joint log-probability and entropy ``[n]``."""

    discrete: np.ndarray
    log_prob: np.ndarray
    entropy: np.ndarray


class NumpyInference:
    """Action sampling and value estimates of a qualifying actor and critic (see
    :func:`dojo_ppo.implementation.fast_path_refusal`) in numpy.

    Args:
        actor, critic: the networks (parameters on the CPU, kept in place).
        seed: seeds the generator of the sampling noise.
    """

    def __init__(self, actor: Actor, critic: Critic, seed: int) -> None:
        self.actor = actor
        self.critic = critic
        self._rng = np.random.default_rng(seed)
        self._body = [DenseViews(layer) for layer in actor.body.layers]
        assert actor.action_model.logits_layer is not None
        self._logits = DenseViews(actor.action_model.logits_layer)
        self._branches = len(actor.action_model.branches)
        self._branch_size = actor.action_model.max_branch
        self._critic_body = [DenseViews(layer) for layer in critic.body.layers]
        self._heads = {name: DenseViews(head) for name, head in critic.value_heads.heads.items()}

    @staticmethod
    def _encode(encoder: ObservationEncoder, obs: Sequence[np.ndarray]) -> np.ndarray:
        if encoder.normalizer is None and not encoder.visual_indices:
            return obs[0] if len(obs) == 1 else np.concatenate(obs, axis=1)
        with torch.inference_mode():
            return encoder([torch.from_numpy(o) for o in obs]).numpy()

    def act(
        self, obs: Sequence[np.ndarray], masks: np.ndarray | None, deterministic: bool
    ) -> DiscreteSample:
        """Sample (or, if ``deterministic``, take the most likely) actions for observations
        ``[n, size_i]`` float32 and masks ``[n, sum(branches)]`` (True = not allowed, as
        :class:`~dojo.envs.base.DecisionSteps` carries them) or ``None``."""
        hidden = tanh_layers(self._encode(self.actor.encoder, obs), self._body)[-1]
        logits = hidden @ self._logits.weight.T
        logits += self._logits.bias
        if masks is not None:
            logits[masks] = MASKED_LOGIT
        n = len(logits)
        logp = logits.reshape(n, self._branches, self._branch_size)
        logp -= logp.max(axis=2, keepdims=True)
        logp -= np.log(np.exp(logp).sum(axis=2, keepdims=True))
        if deterministic:
            discrete = logp.argmax(axis=2)
        else:
            uniform = self._rng.random(logp.shape, dtype=np.float32)
            np.maximum(uniform, _SMALLEST_UNIFORM, out=uniform)
            # Gumbel-max: argmax(log p - log(-log u)).
            noise = np.log(-np.log(uniform))
            discrete = (logp - noise).argmax(axis=2)
        chosen = np.take_along_axis(logp, discrete[:, :, None], axis=2)
        entropy = -(np.exp(logp) * logp).sum(axis=(1, 2))
        return DiscreteSample(discrete, chosen.sum(axis=(1, 2)), entropy)

    def values(self, obs: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        """Reward signal name -> value estimate ``[n]`` of observations ``[n, size_i]``."""
        features = tanh_layers(self._encode(self.critic.encoder, obs), self._critic_body)[-1]
        return {name: features @ h.weight[0] + h.bias[0] for name, h in self._heads.items()}
