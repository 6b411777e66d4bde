"""Policy and value networks shared by the trainer plugins.

- :class:`LinearBody`: ``num_layers`` dense layers of ``hidden_units`` with tanh (or ReLU)
  activations and orthogonal initialisation.
- :class:`ValueHeads`: one linear head per reward signal (``extrinsic``, ``curiosity``, ...).
- :class:`Critic`: observations -> one value estimate per reward signal.
- :class:`Actor`: observations -> action distribution (:mod:`dojo.torch_layer.action_model`).

Actor and critic each own their encoder, so each has its own observation normaliser; the trainer
updates both (ML-Agents does the same). Every method works on whole batches of agents: the
per-step cost is one forward pass for all agents of a behavior.

With ``network_settings.memory`` both also own an LSTM after the body
(:class:`~dojo.torch_layer.memory.LSTMMemory`; the critic's is its own, as in ML-Agents). Their
methods then take ``memories`` ``[n_sequences, memory_size]`` and ``sequence_length``: the
observations are ``n_sequences`` sequences of ``sequence_length`` consecutive steps, laid out
flat (:mod:`dojo.training.sequences` builds them). Left out, the memories are zero and each
row is its own one-step sequence.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from dojo.config.settings import NetworkSettings
from dojo.envs.base import ActionSpec, ObservationSpec
from dojo.torch_layer.action_model import ActionModel, ActionSample, continuous_env_action
from dojo.torch_layer.dense_stack import dense_stack
from dojo.torch_layer.encoders import ObservationEncoder
from dojo.torch_layer.memory import LSTMMemory


def _memory_module(input_size: int, settings: NetworkSettings) -> LSTMMemory | None:
    if settings.memory is None:
        return None
    return LSTMMemory(input_size, settings.memory.memory_size)


def _through_memory(
    memory: LSTMMemory | None,
    features: torch.Tensor,
    memories: torch.Tensor | None,
    sequence_length: int,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Features after the LSTM (if any) and the memories after each sequence (or ``None``)."""
    if memory is None:
        return features, None
    if memories is None:
        memories = features.new_zeros((features.shape[0] // sequence_length, memory.memory_size))
    return memory(features, memories, sequence_length)


#: Activations a :class:`LinearBody` can use, by name.
ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


class LinearBody(nn.Module):
    """``num_layers`` x (Linear ``hidden_units`` -> activation); maps ``[n, input_size]`` to
    ``[n, output_size]`` (``hidden_units``, or ``input_size`` when ``num_layers`` is 0).

    Weights are orthogonal with gain sqrt(2) and biases zero (Engstrom et al. 2020,
    "Implementation Matters in Deep RL"). ML-Agents' Swish body with its strongly scaled-down
    He initialisation learned CartPole far more slowly and less reliably in our measurements
    (seeds 0-2 stayed near a return of 200 after 100k steps where this body reaches 500).

    ``activation`` is ``"tanh"`` (default, PPO) or ``"relu"`` (SAC, as Stable-Baselines3): on
    this CPU a tanh over a 256 x 256 batch costs about 25 times a ReLU, which matters for the
    wide networks off-policy trainers update at every step.

    ``initialization`` ``"uniform"`` keeps ``nn.Linear``'s own initialisation (uniform within
    ``1 / sqrt(fan_in)``) instead, as Stable-Baselines3's SAC: with it dojo's SAC reached a
    Pendulum return of -200 about 1,000 steps sooner (seeds 0-4: at 4k, 4k, 5k, 4k, 5k steps
    against 4k, 5k, 6k, 4k, 4k).

    ``speed_kernels`` (off by default) runs training passes through
    :func:`~dojo.torch_layer.dense_stack.dense_stack`, one autograd node for the whole body that
    computes only the gradients needed (equal to the plain layers within float32 rounding). Off,
    the body is plain ``nn.Linear`` layers and activations, what a reader expects; PPO and SAC
    turn it on for their fast paths.
    """

    def __init__(
        self,
        input_size: int,
        hidden_units: int,
        num_layers: int,
        activation: str = "tanh",
        initialization: str = "orthogonal",
        *,
        speed_kernels: bool = False,
    ) -> None:
        super().__init__()
        if initialization not in ("orthogonal", "uniform"):
            raise ValueError(f"unknown initialization {initialization!r}: orthogonal or uniform")
        self.activation = ACTIVATIONS[activation]
        self.activation_name = activation
        self.speed_kernels = speed_kernels
        sizes = [input_size] + [hidden_units] * num_layers
        self.layers = nn.ModuleList()
        for in_size, out_size in itertools.pairwise(sizes):
            layer = nn.Linear(in_size, out_size)
            if initialization == "orthogonal":
                nn.init.orthogonal_(layer.weight, gain=2**0.5)
                nn.init.zeros_(layer.bias)
            self.layers.append(layer)
        self.output_size = sizes[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden features ``[n, output_size]`` of ``x`` ``[n, input_size]``."""
        if not self.layers:
            return x
        if self.speed_kernels and torch.is_grad_enabled() and not torch.jit.is_tracing():
            # Training: one autograd node for the whole body, only the gradients needed.
            return dense_stack(
                x,
                [layer.weight for layer in self.layers],
                [layer.bias for layer in self.layers],
                self.activation_name,
                activate_last=True,
            )
        for layer in self.layers:
            # F.linear on the parameters skips nn.Module.__call__ (hook handling), a measurable
            # share of a forward pass at rollout batch sizes; the result is the same.
            x = self.activation(F.linear(x, layer.weight, layer.bias))
        return x


class ValueHeads(nn.Module):
    """One linear head per reward signal name.

    Args:
        input_size: width of the features.
        names: reward signal names (``extrinsic``, ``curiosity``, ...).
        outputs_per_head: values per head; 1 gives ``[n]`` tensors, more gives ``[n, k]``
            (e.g. one Q-value per discrete action for SAC).
    """

    def __init__(self, input_size: int, names: Sequence[str], outputs_per_head: int = 1) -> None:
        super().__init__()
        if not names:
            raise ValueError("ValueHeads needs at least one reward signal name")
        self.outputs_per_head = outputs_per_head
        self.heads = nn.ModuleDict()
        for name in names:
            layer = nn.Linear(input_size, outputs_per_head)
            # ML-Agents' value heads: Xavier-uniform weights, zero bias.
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
            self.heads[name] = layer

    def forward(self, hidden: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reward signal name -> values ``[n]`` (or ``[n, outputs_per_head]``)."""
        values = {}
        for name, head in self.heads.items():
            out = F.linear(hidden, head.weight, head.bias)
            values[name] = out.squeeze(-1) if self.outputs_per_head == 1 else out
        return values


class Critic(nn.Module):
    """Value estimates of observations, one per reward signal.

    Args:
        observation_specs: the behavior's observations.
        network_settings: ``hidden_units``, ``num_layers``, ``normalize``, ``memory``.
        reward_signal_names: one value head per name.
        speed_kernels: train the body through dojo's fused kernels (see :class:`LinearBody`).

    Attributes:
        memory_size: floats of recurrent memory per agent (0 without ``memory``).
    """

    def __init__(
        self,
        observation_specs: Sequence[ObservationSpec],
        network_settings: NetworkSettings,
        reward_signal_names: Sequence[str],
        *,
        speed_kernels: bool = False,
    ) -> None:
        super().__init__()
        self.encoder = ObservationEncoder(
            observation_specs,
            network_settings.normalize,
            vis_encode_type=network_settings.vis_encode_type,
            hidden_units=network_settings.hidden_units,
        )
        self.body = LinearBody(
            self.encoder.output_size,
            network_settings.hidden_units,
            network_settings.num_layers,
            speed_kernels=speed_kernels,
        )
        self.memory = _memory_module(self.body.output_size, network_settings)
        self.memory_size = 0 if self.memory is None else self.memory.memory_size
        hidden_size = self.body.output_size if self.memory is None else self.memory.output_size
        self.value_heads = ValueHeads(hidden_size, reward_signal_names)

    def forward(
        self,
        obs_list: Sequence[torch.Tensor],
        memories: torch.Tensor | None = None,
        sequence_length: int = 1,
    ) -> dict[str, torch.Tensor]:
        """Reward signal name -> value estimate ``[n]`` for observations (each ``[n, size]``)."""
        return self.values_and_memories(obs_list, memories, sequence_length)[0]

    def values_and_memories(
        self,
        obs_list: Sequence[torch.Tensor],
        memories: torch.Tensor | None = None,
        sequence_length: int = 1,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """Value estimates ``[n]`` per reward signal and the critic's memories after each
        sequence ``[n / sequence_length, memory_size]`` (``None`` without memory)."""
        features = self.body(self.encoder(obs_list))
        hidden, memories = _through_memory(self.memory, features, memories, sequence_length)
        return self.value_heads(hidden), memories

    def update_normalization(self, obs_list: Sequence[torch.Tensor]) -> None:
        """Add observations to this critic's normaliser (no-op without ``normalize``)."""
        self.encoder.update_normalization(obs_list)


class Actor(nn.Module):
    """The stochastic policy: observations -> actions, log-probabilities and entropy.

    Args:
        observation_specs: the behavior's observations.
        action_spec: continuous size and discrete branches.
        network_settings: ``hidden_units``, ``num_layers``, ``normalize``, ``memory``.
        conditional_sigma: Gaussian log std computed from the features (SAC) instead of a free
            parameter (PPO).
        tanh_squash: continuous actions are ``tanh`` of the Gaussian sample (SAC) instead of
            ``clip(raw, -3, 3) / 3``; :meth:`sample` then returns the squashed actions.
        activation: the body's activation, ``"tanh"`` or ``"relu"``.
        initialization: the body's initialisation, ``"orthogonal"`` or ``"uniform"`` (see
            :class:`LinearBody`).
        speed_kernels: train the body through dojo's fused kernels (see :class:`LinearBody`).

    Masks are ``[n, sum(branches)]`` floats with 1 = allowed (see
    :func:`~dojo.torch_layer.action_model.allowed_action_mask`), or ``None``.

    Attributes:
        memory_size: floats of recurrent memory per agent (0 without ``memory``).
        hidden_size: width of the features the action model receives.
    """

    def __init__(
        self,
        observation_specs: Sequence[ObservationSpec],
        action_spec: ActionSpec,
        network_settings: NetworkSettings,
        conditional_sigma: bool = False,
        tanh_squash: bool = False,
        activation: str = "tanh",
        initialization: str = "orthogonal",
        *,
        speed_kernels: bool = False,
    ) -> None:
        super().__init__()
        self.observation_specs = tuple(observation_specs)
        self.action_spec = action_spec
        self.encoder = ObservationEncoder(
            observation_specs,
            network_settings.normalize,
            vis_encode_type=network_settings.vis_encode_type,
            hidden_units=network_settings.hidden_units,
        )
        self.body = LinearBody(
            self.encoder.output_size,
            network_settings.hidden_units,
            network_settings.num_layers,
            activation,
            initialization,
            speed_kernels=speed_kernels,
        )
        self.memory = _memory_module(self.body.output_size, network_settings)
        self.memory_size = 0 if self.memory is None else self.memory.memory_size
        self.hidden_size = self.body.output_size if self.memory is None else self.memory.output_size
        self.action_model = ActionModel(
            self.hidden_size, action_spec, conditional_sigma, tanh_squash
        )

    def hidden(
        self,
        obs_list: Sequence[torch.Tensor],
        memories: torch.Tensor | None = None,
        sequence_length: int = 1,
    ) -> torch.Tensor:
        """Features ``[n, hidden_size]`` of the observations (after the LSTM, if any)."""
        return self.hidden_and_memories(obs_list, memories, sequence_length)[0]

    def hidden_and_memories(
        self,
        obs_list: Sequence[torch.Tensor],
        memories: torch.Tensor | None = None,
        sequence_length: int = 1,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """:meth:`hidden` and the memories after each sequence ``[n / sequence_length,
        memory_size]`` (``None`` without memory)."""
        features = self.body(self.encoder(obs_list))
        return _through_memory(self.memory, features, memories, sequence_length)

    def sample(
        self,
        obs_list: Sequence[torch.Tensor],
        masks: torch.Tensor | None = None,
        deterministic: bool = False,
        memories: torch.Tensor | None = None,
        sequence_length: int = 1,
    ) -> ActionSample:
        """Sampled (or, if ``deterministic``, mean/argmax) actions with their joint
        ``log_prob`` ``[n]`` and ``entropy`` ``[n]``; differentiable (use :meth:`act` for
        rollouts)."""
        hidden = self.hidden(obs_list, memories, sequence_length)
        return self.action_model.sample(hidden, masks, deterministic)

    @torch.inference_mode()
    def act(
        self,
        obs_list: Sequence[torch.Tensor],
        masks: torch.Tensor | None = None,
        deterministic: bool = False,
    ) -> ActionSample:
        """:meth:`sample` without autograd bookkeeping: the per-step rollout call. The results
        are inference tensors (convert them to numpy; they cannot enter a backward pass)."""
        return self.action_model.sample(self.hidden(obs_list), masks, deterministic)

    @torch.inference_mode()
    def act_with_memories(
        self,
        obs_list: Sequence[torch.Tensor],
        masks: torch.Tensor | None,
        memories: torch.Tensor,
        deterministic: bool = False,
    ) -> tuple[ActionSample, torch.Tensor]:
        """One rollout step of a recurrent actor: :meth:`act` from each agent's memory
        ``[n, memory_size]``, and the memories after the step (to pass at the next one)."""
        hidden, new_memories = self.hidden_and_memories(obs_list, memories)
        assert new_memories is not None, "act_with_memories needs network_settings.memory"
        return self.action_model.sample(hidden, masks, deterministic), new_memories

    def evaluate(
        self,
        obs_list: Sequence[torch.Tensor],
        masks: torch.Tensor | None,
        continuous: torch.Tensor | None,
        discrete: torch.Tensor | None,
        memories: torch.Tensor | None = None,
        sequence_length: int = 1,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Joint ``log_prob`` ``[n]`` of stored actions (raw continuous ``[n, c]``, discrete
        ``[n, branches]``) under the current policy, and its ``entropy`` ``[n]``."""
        hidden = self.hidden(obs_list, memories, sequence_length)
        return self.action_model.evaluate(hidden, masks, continuous, discrete)

    def update_normalization(self, obs_list: Sequence[torch.Tensor]) -> None:
        """Add observations to the actor's normaliser (no-op without ``normalize``)."""
        self.encoder.update_normalization(obs_list)

    @staticmethod
    def env_actions(continuous: torch.Tensor) -> torch.Tensor:
        """Environment-facing continuous actions ``[n, c]`` in [-1, 1] from raw samples of an
        actor without ``tanh_squash``: ``clip(raw, -3, 3) / 3``, as the exported model's
        ``continuous_actions`` (see :meth:`to_env_actions` for any actor)."""
        return continuous_env_action(continuous)

    def to_env_actions(self, continuous: torch.Tensor) -> torch.Tensor:
        """Environment-facing continuous actions ``[n, c]`` of this actor's samples: squashed
        samples pass through, raw ones are clipped and scaled (:meth:`env_actions`)."""
        if self.action_model.tanh_squash:
            return continuous
        return continuous_env_action(continuous)
