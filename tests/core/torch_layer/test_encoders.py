"""ObservationEncoder on vector observations and the honest limits of the torch layer (other
ranks). Visual observations: test_visual_encoders.py; LSTM memory: test_memory.py."""

from __future__ import annotations

import re

import pytest
import torch

from dojo.envs.base import ObservationSpec
from dojo.errors import ConfigError
from dojo.torch_layer.encoders import ObservationEncoder


def test_vector_observations_are_concatenated_in_order() -> None:
    encoder = ObservationEncoder((ObservationSpec((2,)), ObservationSpec((3,))), normalize=False)
    assert encoder.output_size == 5
    out = encoder([torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 4.0, 5.0]])])
    assert out.tolist() == [[1.0, 2.0, 3.0, 4.0, 5.0]]
    assert encoder.normalizer is None


def test_normalization_covers_every_observation() -> None:
    encoder = ObservationEncoder((ObservationSpec((1,)), ObservationSpec((1,))), normalize=True)
    obs = [torch.randn(200, 1) + 10.0, torch.randn(200, 1) * 5.0 - 3.0]
    encoder.update_normalization(obs)
    out = encoder(obs)
    assert torch.allclose(out.mean(dim=0), torch.zeros(2), atol=1e-4)


@pytest.mark.parametrize("shape", [(), (4, 5), (1, 2, 3, 4)])
def test_other_ranks_are_rejected(shape: tuple[int, ...]) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"shape {shape}") + ".*not supported yet"):
        ObservationEncoder((ObservationSpec(shape),), normalize=False)


def test_no_observation_is_rejected() -> None:
    with pytest.raises(ConfigError, match="no observations"):
        ObservationEncoder((), normalize=False)
