"""SAC's Q networks: two independent critics over the same inputs.

Each twin is a stack of ``nn.Linear``-layout layers with ReLU between them (PyTorch's default
initialisation, as Stable-Baselines3, so the twins start different, as the clipped double-Q
trick needs). The twins' layers are stored stacked, ``weight_i`` ``[2, out, in]`` and
``bias_i`` ``[2, out]`` (``weight_i[t]`` is twin ``t``'s layer ``i``), the same parameters for
both ways of running them:

- plain layers (the default, the reference update's): each twin is ``F.linear`` and
  ``torch.relu`` on its slices, layer by layer, and autograd records every operation;
- ``speed_kernels=True`` (the fast update's): both twins run as one autograd node in a few
  batched products (:func:`~dojo.torch_layer.dense_stack.ensemble_relu_stack`), one twin alone
  as :func:`~dojo.torch_layer.dense_stack.dense_relu_stack` on its slices; equal to the plain
  layers within float32 rounding.

A checkpoint of either loads into the other: the choice changes no parameter and no key.

Outputs, per reward signal (one head per signal, each with its own gamma in the trainer):

- continuous actions only: ``Q(s, a)``, one value (the continuous action is an input);
- discrete branches: one value per action of every branch, ``Q_b(s, a_c, a_b)`` (ML-Agents'
  layout: ``sum(branches)`` outputs, continuous actions as input for hybrid specs); a joint
  action's value is the mean over branches of its branches' values.

With ``network_settings.memory`` an LSTM (:class:`~dojo.torch_layer.memory.LSTMMemory`, shared by
the twins like the encoder) runs between the observation encoder and the twins, so a Q value is
``Q(history of observations, a)``: the continuous action joins *after* the LSTM. The recurrence
then never depends on actions, which lets one LSTM pass over a replayed sequence give the
features of every state and of every next state (see the trainer). Every replayed sequence
starts the Q networks' LSTM from zeros: the Q networks never run while acting, so there is no
memory of theirs to store, and the actor's memory lives in another LSTM's coordinates.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from dojo.config.settings import NetworkSettings
from dojo.envs.base import ActionSpec, ObservationSpec
from dojo.torch_layer.dense_stack import dense_relu_stack, ensemble_relu_stack
from dojo.torch_layer.encoders import ObservationEncoder
from dojo.torch_layer.memory import LSTMMemory

N_TWINS = 2


def relu_layers(
    x: torch.Tensor, weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor]
) -> torch.Tensor:
    """``x`` ``[n, in]`` through ``Linear -> ReLU -> ... -> Linear`` (no ReLU after the last
    layer), plain torch: one twin of the reference path."""
    last = len(weights) - 1
    for index, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
        x = F.linear(x, weight, bias)
        if index < last:
            x = torch.relu(x)
    return x


class TwinQNetwork(nn.Module):
    """Two Q networks ``obs (+ continuous action) -> values`` sharing one observation encoder.

    Args:
        observation_specs: the behavior's observations.
        action_spec: continuous size (an input) and branches (outputs per signal).
        network_settings: ``hidden_units``, ``num_layers``, ``normalize``, ``memory``.
        reward_signal_names: one group of outputs per name, in this order.
        speed_kernels: run the twins through dojo's fused kernels instead of plain layers
            (see the module docstring).

    Attributes:
        outputs_per_signal: 1 for continuous-only specs, else ``sum(branches)``.
    """

    def __init__(
        self,
        observation_specs: Sequence[ObservationSpec],
        action_spec: ActionSpec,
        network_settings: NetworkSettings,
        reward_signal_names: Sequence[str],
        *,
        speed_kernels: bool = False,
    ) -> None:
        super().__init__()
        self.speed_kernels = speed_kernels
        self.encoder = ObservationEncoder(observation_specs, network_settings.normalize)
        self.continuous_size = action_spec.continuous_size
        self.signal_names = tuple(reward_signal_names)
        branches = tuple(action_spec.discrete_branches)
        self.outputs_per_signal = sum(branches) if branches else 1
        self.memory = (
            None
            if network_settings.memory is None
            else LSTMMemory(self.encoder.output_size, network_settings.memory.memory_size)
        )
        feature_size = self.encoder.output_size if self.memory is None else self.memory.output_size
        sizes = [feature_size + self.continuous_size]
        sizes += [int(network_settings.hidden_units)] * int(network_settings.num_layers)
        sizes.append(self.outputs_per_signal * len(self.signal_names))
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for in_size, out_size in itertools.pairwise(sizes):
            # Initialised as one nn.Linear per twin, in the order of the earlier per-twin layout.
            layers = [nn.Linear(in_size, out_size) for _ in range(N_TWINS)]
            self.weights.append(torch.stack([layer.weight.detach() for layer in layers]))
            self.biases.append(torch.stack([layer.bias.detach() for layer in layers]))
        self.register_load_state_dict_pre_hook(_stack_per_twin_layers)

    def inputs(
        self, obs_list: Sequence[torch.Tensor], continuous: torch.Tensor | None
    ) -> torch.Tensor:
        """The twins' input ``[n, features (+ continuous size)]``."""
        x = self.encoder(obs_list)
        if self.continuous_size:
            if continuous is None:
                raise ValueError("the Q network needs the continuous actions as input")
            x = torch.cat([x, continuous], dim=1)
        return x

    def twin(self, index: int, x: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        """Twin ``index``'s values ``[n, signals, outputs_per_signal]`` of inputs ``x``; with
        ``frozen`` no gradient reaches its weights (it still flows to ``x``)."""
        weights = [weight[index] for weight in self.weights]
        biases = [bias[index] for bias in self.biases]
        if frozen:
            weights = [w.detach() for w in weights]
            biases = [b.detach() for b in biases]
        if not self.speed_kernels:
            out = relu_layers(x, weights, biases)
        else:
            out = dense_relu_stack(x, weights, biases)
        return out.view(x.shape[0], len(self.signal_names), self.outputs_per_signal)

    def forward(
        self, obs_list: Sequence[torch.Tensor], continuous: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Both twins' values ``[2, n, signals, outputs_per_signal]``."""
        return self.twins_of(self.inputs(obs_list, continuous))

    def first(
        self,
        obs_list: Sequence[torch.Tensor],
        continuous: torch.Tensor | None = None,
        frozen: bool = False,
    ) -> torch.Tensor:
        """The first twin's values ``[n, signals, outputs_per_signal]`` (see :meth:`twin`)."""
        return self.twin(0, self.inputs(obs_list, continuous), frozen)

    # Recurrent memory: features first (one LSTM pass per sequence), then the twins.
    def sequence_features(
        self, obs_list: Sequence[torch.Tensor], n_sequences: int, sequence_length: int
    ) -> torch.Tensor:
        """Features ``[n_sequences * sequence_length, memory_size / 2]`` of flat sequences of
        observations, each sequence's LSTM starting from zero memory."""
        assert self.memory is not None, "sequence_features needs network_settings.memory"
        x = self.encoder(obs_list)
        zeros = x.new_zeros((n_sequences, self.memory.memory_size))
        return self.memory(x, zeros, sequence_length)[0]

    def with_actions(self, features: torch.Tensor, continuous: torch.Tensor | None) -> torch.Tensor:
        """The twins' input: ``features`` (and the continuous actions, if any) side by side."""
        if not self.continuous_size:
            return features
        if continuous is None:
            raise ValueError("the Q network needs the continuous actions as input")
        return torch.cat([features, continuous], dim=1)

    def twins_of(self, x: torch.Tensor) -> torch.Tensor:
        """Both twins' values ``[2, n, signals, outputs_per_signal]`` of inputs ``x``."""
        if not self.speed_kernels:
            out = torch.stack([self.twin(index, x) for index in range(N_TWINS)])
        else:
            out = ensemble_relu_stack(x, list(self.weights), list(self.biases))
        return out.view(N_TWINS, x.shape[0], len(self.signal_names), self.outputs_per_signal)

    def update_normalization(self, obs_list: Sequence[torch.Tensor]) -> None:
        """Add observations to the normaliser (no-op without ``normalize``)."""
        self.encoder.update_normalization(obs_list)


def _stack_per_twin_layers(
    module: nn.Module, state_dict: dict, prefix: str, *_args: object
) -> None:
    """Load checkpoints of the earlier layout (``twins.<twin>.<layer>.weight`` / ``.bias``, one
    ``nn.Linear`` per twin and layer) into the stacked one."""
    layer = 0
    while f"{prefix}twins.0.{layer}.weight" in state_dict:
        for name, target in (("weight", "weights"), ("bias", "biases")):
            keys = [f"{prefix}twins.{twin}.{layer}.{name}" for twin in range(N_TWINS)]
            state_dict[f"{prefix}{target}.{layer}"] = torch.stack([state_dict.pop(k) for k in keys])
        layer += 1
