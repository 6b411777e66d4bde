"""SAC's Q networks: two independent critics evaluated as one batched module.

:class:`TwinQNetwork` holds the weights of both Q networks stacked along a leading axis of size 2
(``[2, in, out]`` per layer), so each layer of both networks is one ``torch.baddbmm`` instead of
two matrix products: half the kernel launches and autograd nodes of two separate modules, which
is what an update costs at the batch sizes SAC uses. Each twin is initialised like an
independent ``nn.Linear`` stack (PyTorch's default init, as Stable-Baselines3), so the twins
start different, as the clipped double-Q trick needs.

Outputs, per reward signal (one head per signal, each with its own gamma in the trainer):

- continuous actions only: ``Q(s, a)``, one value (the continuous action is an input);
- discrete branches: one value per action of every branch, ``Q_b(s, a_c, a_b)`` (ML-Agents'
  layout: ``sum(branches)`` outputs, continuous actions as input for hybrid specs); a joint
  action's value is the mean over branches of its branches' values.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from dojo.config.settings import NetworkSettings
from dojo.envs.base import ActionSpec, ObservationSpec
from dojo.errors import ConfigError
from dojo.torch_layer.encoders import ObservationEncoder

N_TWINS = 2


class TwinQNetwork(nn.Module):
    """Two Q networks ``obs (+ continuous action) -> values`` with stacked weights.

    Args:
        observation_specs: the behavior's observations.
        action_spec: continuous size (an input) and branches (outputs per signal).
        network_settings: ``hidden_units``, ``num_layers``, ``normalize``.
        reward_signal_names: one group of outputs per name, in this order.

    Attributes:
        outputs_per_signal: 1 for continuous-only specs, else ``sum(branches)``.
    """

    def __init__(
        self,
        observation_specs: Sequence[ObservationSpec],
        action_spec: ActionSpec,
        network_settings: NetworkSettings,
        reward_signal_names: Sequence[str],
    ) -> None:
        super().__init__()
        if network_settings.memory is not None:
            raise ConfigError(
                "network_settings.memory: recurrent (LSTM) networks are not supported yet by "
                "dojo's SAC; remove the 'memory' section"
            )
        self.encoder = ObservationEncoder(observation_specs, network_settings.normalize)
        self.continuous_size = action_spec.continuous_size
        self.signal_names = tuple(reward_signal_names)
        branches = tuple(action_spec.discrete_branches)
        self.outputs_per_signal = sum(branches) if branches else 1
        sizes = [self.encoder.output_size + self.continuous_size]
        sizes += [int(network_settings.hidden_units)] * int(network_settings.num_layers)
        sizes.append(self.outputs_per_signal * len(self.signal_names))
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for in_size, out_size in itertools.pairwise(sizes):
            layers = [nn.Linear(in_size, out_size) for _ in range(N_TWINS)]
            # [2, in, out]: x @ W, so each twin's weight is its nn.Linear weight transposed.
            self.weights.append(
                nn.Parameter(
                    torch.stack([layer.weight.detach().T for layer in layers]).contiguous()
                )
            )
            self.biases.append(
                nn.Parameter(torch.stack([layer.bias.detach()[None] for layer in layers]))
            )

    def _inputs(
        self, obs_list: Sequence[torch.Tensor], continuous: torch.Tensor | None
    ) -> torch.Tensor:
        x = self.encoder(obs_list)
        if self.continuous_size:
            if continuous is None:
                raise ValueError("the Q network needs the continuous actions as input")
            x = torch.cat([x, continuous], dim=1)
        return x

    def forward(
        self,
        obs_list: Sequence[torch.Tensor],
        continuous: torch.Tensor | None = None,
        hidden_dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """Both twins' values ``[2, n, signals, outputs_per_signal]`` (float32).

        ``hidden_dtype=torch.bfloat16`` runs the hidden-to-hidden products in bfloat16 (float32
        accumulation); the input and output layers and the result stay float32.
        """
        x = self._inputs(obs_list, continuous)
        n = x.shape[0]
        h = x.unsqueeze(0).expand(N_TWINS, n, x.shape[1])
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            if hidden_dtype is not None and 0 < i < last:
                h = torch.baddbmm(
                    bias.to(hidden_dtype), h.to(hidden_dtype), weight.to(hidden_dtype)
                )
            else:
                h = torch.baddbmm(bias, h.to(bias.dtype), weight)
            if i < last:
                h = torch.relu(h)
        return h.view(N_TWINS, n, len(self.signal_names), self.outputs_per_signal)

    def first(
        self,
        obs_list: Sequence[torch.Tensor],
        continuous: torch.Tensor | None = None,
        frozen: bool = False,
        hidden_dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """The first twin's values ``[n, signals, outputs_per_signal]``; with ``frozen`` no
        gradient reaches the Q parameters (they still flow to ``continuous``), for the policy
        loss. ``hidden_dtype`` as in :meth:`forward`."""
        x = self._inputs(obs_list, continuous)
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            w, b = weight[0], bias[0]
            if frozen:
                w, b = w.detach(), b.detach()
            if hidden_dtype is not None and 0 < i < last:
                x = torch.addmm(b.to(hidden_dtype), x.to(hidden_dtype), w.to(hidden_dtype))
            else:
                x = torch.addmm(b, x.to(b.dtype), w)
            if i < last:
                x = torch.relu(x)
        return x.view(x.shape[0], len(self.signal_names), self.outputs_per_signal)

    def update_normalization(self, obs_list: Sequence[torch.Tensor]) -> None:
        """Add observations to the normaliser (no-op without ``normalize``)."""
        self.encoder.update_normalization(obs_list)
