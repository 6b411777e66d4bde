"""Small building blocks shared by the intrinsic signals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from dojo.config.settings import NetworkSettings
from dojo.envs.base import ObservationSpec
from dojo.torch_layer.encoders import ObservationEncoder
from dojo.torch_layer.networks import LinearBody


class StateEncoder(nn.Module):
    """Observations -> ``hidden_units`` features (the signal's own ``network_settings``)."""

    def __init__(self, specs: Sequence[ObservationSpec], settings: NetworkSettings) -> None:
        super().__init__()
        self.observations = ObservationEncoder(
            specs,
            settings.normalize,
            vis_encode_type=settings.vis_encode_type,
            hidden_units=settings.hidden_units,
        )
        self.body = LinearBody(
            self.observations.output_size, settings.hidden_units, settings.num_layers
        )
        self.output_size = self.body.output_size

    def forward(self, obs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.body(self.observations(obs))

    def update_normalization(self, obs: Sequence[torch.Tensor]) -> None:
        self.observations.update_normalization(obs)


def tensors(arrays: Sequence[np.ndarray], device: torch.device) -> list[torch.Tensor]:
    return [torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(device) for a in arrays]
