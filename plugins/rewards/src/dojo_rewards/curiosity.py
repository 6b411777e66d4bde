"""Intrinsic Curiosity Module (Pathak et al. 2017, "Curiosity-driven Exploration by
Self-supervised Prediction", arXiv:1705.05363).

An encoder maps observations to features phi. An inverse model predicts the action from
(phi(s), phi(s')), which makes phi keep only what the agent can influence; a forward model
predicts phi(s') from (phi(s), a). The reward is the forward model's error: transitions the
agent cannot yet predict are worth visiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dojo.api import RewardSignal, SignalBatch
from dojo.torch_layer.checkpoint import CheckpointLoader
from dojo_rewards.networks import StateEncoder, tensors

# ML-Agents' weighting of the two losses.
FORWARD_WEIGHT = 0.2
INVERSE_WEIGHT = 0.8
LOSS_SCALE = 10.0


class CuriosityNetwork(nn.Module):
    def __init__(self, signal: RewardSignal) -> None:
        super().__init__()
        spec = signal.behavior_spec
        self.continuous_size = spec.action_spec.continuous_size
        self.branches = tuple(spec.action_spec.discrete_branches)
        self.encoder = StateEncoder(spec.observation_specs, signal.settings.network_settings)
        size = self.encoder.output_size
        action_size = self.continuous_size + sum(self.branches)
        self.inverse = nn.Sequential(
            nn.Linear(2 * size, 256), nn.SiLU(), nn.Linear(256, action_size)
        )
        self.forward_model = nn.Sequential(
            nn.Linear(size + action_size, 256), nn.SiLU(), nn.Linear(256, size)
        )

    def actions(self, continuous: torch.Tensor, discrete: torch.Tensor) -> torch.Tensor:
        """Continuous actions followed by one-hot discrete branches: ``[B, action_size]``."""
        parts = [continuous]
        for branch, size in enumerate(self.branches):
            parts.append(F.one_hot(discrete[:, branch].long(), size).float())
        return torch.cat(parts, dim=1)

    def forward_error(
        self, obs: list[torch.Tensor], next_obs: list[torch.Tensor], actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(per-transition forward error ``[B]``, phi(s), phi(s'))."""
        phi, phi_next = self.encoder(obs), self.encoder(next_obs)
        predicted = self.forward_model(torch.cat([phi, actions], dim=1))
        error = 0.5 * ((predicted - phi_next.detach()) ** 2).sum(dim=1)
        return error, phi, phi_next


class CuriositySignal(RewardSignal):
    """``reward_signals.curiosity``."""

    stat_name = "Curiosity"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.torch_device = torch.device(self.device)
        self.network = CuriosityNetwork(self).to(self.torch_device)
        self.optimizer = torch.optim.Adam(
            self.network.parameters(), lr=self.settings.params.learning_rate
        )

    def _inputs(
        self, batch: SignalBatch
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
        obs = tensors(batch.obs, self.torch_device)
        next_obs = tensors(batch.next_obs, self.torch_device)
        continuous = torch.from_numpy(np.asarray(batch.continuous, np.float32)).to(
            self.torch_device
        )
        discrete = torch.from_numpy(np.asarray(batch.discrete, np.int64)).to(self.torch_device)
        return obs, next_obs, self.network.actions(continuous, discrete)

    def evaluate(self, batch: SignalBatch) -> np.ndarray:
        obs, next_obs, actions = self._inputs(batch)
        with torch.no_grad():
            error, _, _ = self.network.forward_error(obs, next_obs, actions)
        # ML-Agents caps the reward so that strength x reward never exceeds 1 per step.
        return np.minimum(error.cpu().numpy(), 1.0 / max(self.strength, 1e-8))

    def update(self, batch: SignalBatch) -> dict[str, float]:
        obs, next_obs, actions = self._inputs(batch)
        self.network.encoder.update_normalization(obs)
        error, phi, phi_next = self.network.forward_error(obs, next_obs, actions)
        forward_loss = error.mean()
        predicted = self.network.inverse(torch.cat([phi, phi_next], dim=1))
        inverse_loss = self._inverse_loss(predicted, actions)
        loss = LOSS_SCALE * (FORWARD_WEIGHT * forward_loss + INVERSE_WEIGHT * inverse_loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {
            "Losses/Curiosity Forward Loss": float(forward_loss.detach()),
            "Losses/Curiosity Inverse Loss": float(inverse_loss.detach()),
        }

    def _inverse_loss(self, predicted: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        c = self.network.continuous_size
        losses = []
        if c:
            losses.append(0.5 * ((predicted[:, :c] - actions[:, :c]) ** 2).sum(dim=1).mean())
        start = c
        for size in self.network.branches:
            logits = predicted[:, start : start + size]
            target = actions[:, start : start + size].argmax(dim=1)
            losses.append(F.cross_entropy(logits, target))
            start += size
        return torch.stack(losses).sum()

    def state_dict(self) -> dict[str, Any]:
        return {"network": self.network.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> list[str]:
        checkpoint = CheckpointLoader(state, "Module:Curiosity")
        loaded = checkpoint.module("network", self.network)
        checkpoint.optimizer("optimizer", self.optimizer, loaded)
        return checkpoint.misfits
