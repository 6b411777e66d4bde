"""SAC's twin Q networks: both twins in one pass, one twin alone, and checkpoints of the
earlier per-twin layout."""

from __future__ import annotations

import torch

from dojo.config.settings import NetworkSettings
from dojo.envs.base import ActionSpec, ObservationSpec
from dojo_sac.networks import TwinQNetwork

SPECS = (ObservationSpec((5,)),)
SETTINGS = NetworkSettings(hidden_units=16, num_layers=2)


def test_both_twins_in_one_pass_equal_each_twin_alone() -> None:
    for action_spec, names in (
        (ActionSpec(continuous_size=2), ["extrinsic"]),
        (ActionSpec(continuous_size=1, discrete_branches=(3, 2)), ["extrinsic", "curiosity"]),
    ):
        torch.manual_seed(0)
        q = TwinQNetwork(SPECS, action_spec, SETTINGS, names)
        obs = [torch.randn(7, 5)]
        continuous = torch.randn(7, action_spec.continuous_size)
        both = q(obs, continuous)
        assert both.shape == (2, 7, len(names), q.outputs_per_signal)
        x = q.inputs(obs, continuous)
        torch.testing.assert_close(both[0], q.twin(0, x))
        torch.testing.assert_close(both[1], q.twin(1, x))
        assert not torch.allclose(both[0], both[1]), "the twins must start different"


def test_checkpoint_of_the_per_twin_layout_loads() -> None:
    torch.manual_seed(0)
    q = TwinQNetwork(SPECS, ActionSpec(continuous_size=1), SETTINGS, ["extrinsic"])
    # The earlier layout: one nn.Linear per twin and layer, "twins.<twin>.<layer>.weight".
    stacked = {"weight": q.weights, "bias": q.biases}
    old = {
        f"twins.{twin}.{layer}.{name}": stacked[name][layer][twin].detach().clone()
        for layer in range(len(q.weights))
        for twin in range(2)
        for name in ("weight", "bias")
    }
    loaded = TwinQNetwork(SPECS, ActionSpec(continuous_size=1), SETTINGS, ["extrinsic"])
    loaded.load_state_dict(old)
    obs, action = [torch.randn(4, 5)], torch.randn(4, 1)
    torch.testing.assert_close(loaded(obs, action), q(obs, action))
