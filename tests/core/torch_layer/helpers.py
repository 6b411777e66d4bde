"""Shared specs and helpers for the torch layer tests."""

from __future__ import annotations

import torch

from dojo.config.settings import NetworkSettings
from dojo.envs.base import ActionSpec, BehaviorSpec, ObservationSpec


def random_masks(branches: tuple[int, ...], n: int, generator: torch.Generator) -> torch.Tensor:
    """Random ``[n, sum(branches)]`` float masks (1 = allowed) with at least one allowed action
    per branch."""
    columns = []
    for size in branches:
        mask = (torch.rand(n, size, generator=generator) < 0.5).float()
        keep = torch.randint(size, (n,), generator=generator)
        mask[torch.arange(n), keep] = 1.0
        columns.append(mask)
    return torch.cat(columns, dim=1)


SPECS = {
    "continuous": BehaviorSpec(
        (ObservationSpec((4,)), ObservationSpec((3,), name="ray")), ActionSpec(continuous_size=2)
    ),
    "discrete": BehaviorSpec((ObservationSpec((6,)),), ActionSpec(discrete_branches=(3, 2, 4))),
    "equal_branches": BehaviorSpec((ObservationSpec((5,)),), ActionSpec(discrete_branches=(2, 2))),
    "hybrid": BehaviorSpec(
        (ObservationSpec((4,)), ObservationSpec((2,))),
        ActionSpec(continuous_size=3, discrete_branches=(3,)),
    ),
}

NETWORK_SETTINGS = NetworkSettings(hidden_units=32, num_layers=2, normalize=True)
