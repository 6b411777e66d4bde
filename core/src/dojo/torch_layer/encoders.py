"""Observation encoders: turn a behavior's list of observations into one feature vector per agent.

Only vector (rank-1) observations are supported for now: they are concatenated and, with
``network_settings.normalize``, normalised by a :class:`RunningNormalizer`. Visual (rank-3) and
other observation kinds raise :class:`~dojo.errors.ConfigError` at construction, before any
training starts, instead of failing later inside a forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dojo.envs.base import ObservationSpec
from dojo.errors import ConfigError
from dojo.torch_layer.normalizer import RunningNormalizer


def _check_supported(observation_specs: Sequence[ObservationSpec]) -> None:
    if not observation_specs:
        raise ConfigError("the behavior has no observations: a policy needs at least one")
    for index, spec in enumerate(observation_specs):
        label = f"observation {index}" + (f" ({spec.name!r})" if spec.name else "")
        rank = len(spec.shape)
        if rank == 3:
            raise ConfigError(
                f"{label} has shape {tuple(spec.shape)}: visual (image) observations are not "
                "supported yet by dojo's torch layer (visual encoders, vis_encode_type, come in a "
                "later release); only vector (rank-1) observations can be trained for now"
            )
        if rank != 1:
            raise ConfigError(
                f"{label} has shape {tuple(spec.shape)} (rank {rank}): observations of rank "
                f"{rank} are not supported yet by dojo's torch layer; only vector (rank-1) "
                "observations can be trained for now"
            )


class ObservationEncoder(nn.Module):
    """Concatenates a behavior's vector observations, optionally normalised.

    Args:
        observation_specs: the behavior's observations, in the environment's order.
        normalize: keep running statistics and normalise the observations with them
            (``network_settings.normalize``); call :meth:`update_normalization` with new data.

    Attributes:
        output_size: number of features per agent (sum of the observation sizes).
    """

    def __init__(self, observation_specs: Sequence[ObservationSpec], normalize: bool) -> None:
        super().__init__()
        _check_supported(observation_specs)
        self.observation_sizes = tuple(int(spec.shape[0]) for spec in observation_specs)
        self.output_size = sum(self.observation_sizes)
        self.normalizer = RunningNormalizer(self.output_size) if normalize else None

    def _concatenate(self, obs_list: Sequence[torch.Tensor]) -> torch.Tensor:
        # The common single-observation case skips torch.cat (one allocation fewer per step).
        if len(obs_list) == 1:
            return obs_list[0]
        # dim=1, not -1: negative axes are only valid in ONNX from opset 11.
        return torch.cat(list(obs_list), dim=1)

    def forward(self, obs_list: Sequence[torch.Tensor]) -> torch.Tensor:
        """Features ``[n, output_size]`` of the observations (each ``[n, size_i]`` float32)."""
        x = self._concatenate(obs_list)
        if self.normalizer is not None:
            x = self.normalizer(x)
        return x

    def update_normalization(self, obs_list: Sequence[torch.Tensor]) -> None:
        """Add a batch of observations (each ``[n, size_i]``) to the running statistics; does
        nothing when normalisation is off."""
        if self.normalizer is not None:
            self.normalizer.update(self._concatenate(obs_list))
