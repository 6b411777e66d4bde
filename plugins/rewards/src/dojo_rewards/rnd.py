"""Random Network Distillation (Burda et al. 2018, "Exploration by Random Network
Distillation", arXiv:1810.12894).

A fixed, randomly initialised target network maps observations to features; a predictor
learns to reproduce them. Its error is large on observations seen rarely, which is the reward.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from dojo.api import RewardSignal, SignalBatch
from dojo.torch_layer.checkpoint import CheckpointLoader
from dojo_rewards.networks import StateEncoder, tensors


class RNDSignal(RewardSignal):
    """``reward_signals.rnd``."""

    stat_name = "Rnd"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        spec = self.behavior_spec
        network = self.settings.network_settings
        self.torch_device = torch.device(self.device)
        self.target = StateEncoder(spec.observation_specs, network).to(self.torch_device)
        self.predictor = StateEncoder(spec.observation_specs, network).to(self.torch_device)
        for parameter in self.target.parameters():
            parameter.requires_grad_(False)
        self.optimizer = torch.optim.Adam(
            self.predictor.parameters(), lr=self.settings.params.learning_rate
        )

    def _error(self, obs: list[torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            target = self.target(obs)
        return ((self.predictor(obs) - target) ** 2).sum(dim=1)

    def evaluate(self, batch: SignalBatch) -> np.ndarray:
        # The novelty of where the agent arrives, as in ML-Agents (next observations).
        with torch.no_grad():
            return self._error(tensors(batch.next_obs, self.torch_device)).cpu().numpy()

    def update(self, batch: SignalBatch) -> dict[str, float]:
        obs = tensors(batch.next_obs, self.torch_device)
        # Both networks see the same normalised input (the predictor owns the statistics).
        self.predictor.update_normalization(obs)
        if self.target.observations.normalizer is not None:
            self.target.observations.normalizer.load_state_dict(
                self.predictor.observations.normalizer.state_dict()
            )
        loss = self._error(obs).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"Losses/RND Loss": float(loss.detach())}

    def state_dict(self) -> dict[str, Any]:
        return {
            "target": self.target.state_dict(),
            "predictor": self.predictor.state_dict(),
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> list[str]:
        checkpoint = CheckpointLoader(state, "Module:Rnd")
        checkpoint.module("target", self.target)
        # The optimizer steps the predictor only.
        loaded = checkpoint.module("predictor", self.predictor)
        checkpoint.optimizer("optimizer", self.optimizer, loaded)
        return checkpoint.misfits
