"""``shared_critic: true``: value heads on top of the actor's own body (ML-Agents' option)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dojo.torch_layer.networks import Actor, ValueHeads


class SharedCritic(nn.Module):
    """Value estimates computed from :meth:`Actor.hidden`; owns only the value heads.

    The actor is kept as a plain reference (not a submodule) so its parameters are neither
    saved twice in checkpoints nor given twice to the optimizer.
    """

    def __init__(self, actor: Actor, reward_signal_names: Sequence[str]) -> None:
        super().__init__()
        object.__setattr__(self, "_actor", actor)
        self.value_heads = ValueHeads(actor.body.output_size, list(reward_signal_names))

    def forward(self, obs_list: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.value_heads(self._actor.hidden(obs_list))

    def update_normalization(self, obs_list: Sequence[torch.Tensor]) -> None:
        """Nothing to do: the actor's normaliser is the one in use."""
        del obs_list
