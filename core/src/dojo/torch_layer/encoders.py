"""Observation encoders: turn a behavior's list of observations into one feature vector per agent.

A behavior may have any mix of observations:

- vector observations (rank 1, ``[n, size]``) are concatenated and, with
  ``network_settings.normalize``, normalised by one :class:`RunningNormalizer` over all of them;
- visual observations (rank 3, channel-first ``[n, C, H, W]``) each go through their own encoder
  of type ``network_settings.vis_encode_type`` (:mod:`dojo.torch_layer.visual_encoders`), which
  outputs ``hidden_units`` features; images are never normalised (they are already in [0, 1]).

The features are the vector block first, then each image's encoding, in observation order.
Other ranks, and images smaller than the encoder's minimum, raise
:class:`~dojo.errors.ConfigError` at construction, before any training starts, instead of
failing later inside a forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dojo.envs.base import ObservationSpec
from dojo.errors import ConfigError
from dojo.torch_layer.normalizer import RunningNormalizer
from dojo.torch_layer.visual_encoders import make_visual_encoder


def _label(index: int, spec: ObservationSpec) -> str:
    return f"observation {index}" + (f" ({spec.name!r})" if spec.name else "")


def _check_supported(observation_specs: Sequence[ObservationSpec]) -> None:
    if not observation_specs:
        raise ConfigError("the behavior has no observations: a policy needs at least one")
    for index, spec in enumerate(observation_specs):
        rank = len(spec.shape)
        if rank not in (1, 3):
            raise ConfigError(
                f"{_label(index, spec)} has shape {tuple(spec.shape)} (rank {rank}): observations "
                f"of rank {rank} are not supported yet by dojo's torch layer; use vector (rank-1) "
                "observations or channel-first images (rank 3: channels, height, width)"
            )


class ObservationEncoder(nn.Module):
    """Encodes a behavior's vector and visual observations into one feature vector.

    Args:
        observation_specs: the behavior's observations, in the environment's order.
        normalize: keep running statistics and normalise the vector observations with them
            (``network_settings.normalize``); call :meth:`update_normalization` with new data.
        vis_encode_type: encoder of the visual observations (``network_settings.vis_encode_type``:
            ``simple``, ``nature_cnn``, ``resnet``, ``match3`` or ``fully_connected``).
        hidden_units: features each visual encoder outputs (``network_settings.hidden_units``).

    Attributes:
        output_size: number of features per agent (vector sizes + ``hidden_units`` per image).
        vector_indices: positions of the vector observations in the observation list.
        visual_indices: positions of the visual observations.

    Raises:
        ConfigError: no observation, an unsupported rank, or an image too small for the encoder.
    """

    def __init__(
        self,
        observation_specs: Sequence[ObservationSpec],
        normalize: bool,
        *,
        vis_encode_type: str = "simple",
        hidden_units: int = 128,
    ) -> None:
        super().__init__()
        _check_supported(observation_specs)
        self.vector_indices = tuple(i for i, s in enumerate(observation_specs) if len(s.shape) == 1)
        self.visual_indices = tuple(i for i, s in enumerate(observation_specs) if len(s.shape) == 3)
        self.observation_sizes = tuple(
            int(observation_specs[i].shape[0]) for i in self.vector_indices
        )
        self.vector_size = sum(self.observation_sizes)
        # Kept as one module over every vector observation (not one per observation) so that
        # checkpoints of vector-only policies keep their ``normalizer.*`` keys.
        self.normalizer = (
            RunningNormalizer(self.vector_size) if normalize and self.vector_size else None
        )
        self.visual_encoders = nn.ModuleList(
            make_visual_encoder(
                vis_encode_type,
                observation_specs[i].shape,
                hidden_units,
                label=_label(i, observation_specs[i]),
            )
            for i in self.visual_indices
        )
        self.output_size = self.vector_size + hidden_units * len(self.visual_indices)
        # The common all-vector case skips the index shuffling in forward().
        self._vector_only = not self.visual_indices

    def _vectors(self, obs_list: Sequence[torch.Tensor]) -> torch.Tensor | None:
        vectors = obs_list if self._vector_only else [obs_list[i] for i in self.vector_indices]
        if not vectors:
            return None
        # The common single-observation case skips torch.cat (one allocation fewer per step).
        if len(vectors) == 1:
            return vectors[0]
        # dim=1, not -1: negative axes are only valid in ONNX from opset 11.
        return torch.cat(list(vectors), dim=1)

    def forward(self, obs_list: Sequence[torch.Tensor]) -> torch.Tensor:
        """Features ``[n, output_size]`` of the observations (vectors ``[n, size_i]``, images
        ``[n, C, H, W]``, float32, in the order of the specs)."""
        x = self._vectors(obs_list)
        if x is not None and self.normalizer is not None:
            x = self.normalizer(x)
        if self._vector_only:
            return x
        parts = [] if x is None else [x]
        for index, encoder in zip(self.visual_indices, self.visual_encoders, strict=True):
            parts.append(encoder(obs_list[index]))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def update_normalization(self, obs_list: Sequence[torch.Tensor]) -> None:
        """Add a batch of observations (the full list, as for :meth:`forward`) to the running
        statistics of the vector observations; does nothing when normalisation is off."""
        if self.normalizer is not None:
            self.normalizer.update(self._vectors(obs_list))
