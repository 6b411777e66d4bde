"""``shared_critic: true``: value heads on top of the actor's own body (ML-Agents' option)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dojo.torch_layer.networks import Actor, ValueHeads


class SharedCritic(nn.Module):
    """Value estimates computed from :meth:`Actor.hidden`; owns only the value heads.

    The actor is kept as a plain reference (not a submodule) so its parameters are neither
    saved twice in checkpoints nor given twice to the optimizer. With memory, the critic's
    memories are states of the actor's LSTM (carried separately by the trainer).
    """

    def __init__(self, actor: Actor, reward_signal_names: Sequence[str]) -> None:
        super().__init__()
        object.__setattr__(self, "_actor", actor)
        self.memory_size = actor.memory_size
        self.value_heads = ValueHeads(actor.hidden_size, list(reward_signal_names))

    def forward(
        self,
        obs_list: Sequence[torch.Tensor],
        memories: torch.Tensor | None = None,
        sequence_length: int = 1,
    ) -> dict[str, torch.Tensor]:
        return self.value_heads(self._actor.hidden(obs_list, memories, sequence_length))

    def values_and_memories(
        self,
        obs_list: Sequence[torch.Tensor],
        memories: torch.Tensor | None = None,
        sequence_length: int = 1,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """As :meth:`dojo.torch_layer.networks.Critic.values_and_memories`."""
        hidden, memories = self._actor.hidden_and_memories(obs_list, memories, sequence_length)
        return self.value_heads(hidden), memories

    def update_normalization(self, obs_list: Sequence[torch.Tensor]) -> None:
        """Nothing to do: the actor's normaliser is the one in use."""
        del obs_list
