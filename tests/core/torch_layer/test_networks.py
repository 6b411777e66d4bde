"""LinearBody, ValueHeads, Critic and Actor."""

from __future__ import annotations

import pytest
import torch

from dojo.config.settings import NetworkSettings
from dojo.envs.base import ActionSpec, ObservationSpec
from dojo.torch_layer.networks import Actor, Critic, LinearBody, ValueHeads

from .helpers import NETWORK_SETTINGS, SPECS


def test_linear_body_has_num_layers_tanh_layers() -> None:
    body = LinearBody(input_size=5, hidden_units=16, num_layers=3)
    assert [tuple(layer.weight.shape) for layer in body.layers] == [(16, 5), (16, 16), (16, 16)]
    x = torch.randn(4, 5)
    expected = x
    for layer in body.layers:
        expected = torch.tanh(layer(expected))
    torch.testing.assert_close(body(x), expected)
    assert body.output_size == 16
    assert LinearBody(input_size=5, hidden_units=16, num_layers=0).output_size == 5


def test_linear_body_initialisations() -> None:
    torch.manual_seed(0)
    orthogonal = LinearBody(input_size=64, hidden_units=64, num_layers=1)
    weight = orthogonal.layers[0].weight
    # Orthogonal with gain sqrt(2): W W^T = 2 I, zero bias.
    torch.testing.assert_close(weight @ weight.t(), 2 * torch.eye(64), atol=1e-4, rtol=0)
    assert not orthogonal.layers[0].bias.any()
    # "uniform" keeps nn.Linear's own: within 1/sqrt(fan_in), biases too.
    uniform = LinearBody(input_size=64, hidden_units=64, num_layers=1, initialization="uniform")
    bound = 1 / 64**0.5
    assert uniform.layers[0].weight.abs().max() <= bound
    assert 0 < uniform.layers[0].bias.abs().max() <= bound
    with pytest.raises(ValueError, match="unknown initialization 'xavier'"):
        LinearBody(input_size=4, hidden_units=8, num_layers=1, initialization="xavier")


def test_value_heads_one_per_reward_signal() -> None:
    heads = ValueHeads(8, ["extrinsic", "curiosity"])
    values = heads(torch.randn(3, 8))
    assert list(values) == ["extrinsic", "curiosity"]
    assert all(v.shape == (3,) for v in values.values())
    assert ValueHeads(8, ["q"], outputs_per_head=4)(torch.randn(3, 8))["q"].shape == (3, 4)


def test_critic_values_per_signal_with_its_own_normalizer() -> None:
    spec = SPECS["hybrid"]
    critic = Critic(spec.observation_specs, NETWORK_SETTINGS, ["extrinsic", "gail"])
    actor = Actor(spec.observation_specs, spec.action_spec, NETWORK_SETTINGS)
    obs = [torch.randn(6, 4) + 2.0, torch.randn(6, 2)]
    critic.update_normalization(obs)
    values = critic(obs)
    assert set(values) == {"extrinsic", "gail"} and values["gail"].shape == (6,)
    assert critic.encoder.normalizer.count.item() == 6
    assert actor.encoder.normalizer.count.item() == 0


def test_actor_sample_act_and_evaluate_agree() -> None:
    spec = SPECS["hybrid"]
    actor = Actor(spec.observation_specs, spec.action_spec, NETWORK_SETTINGS)
    obs = [torch.randn(9, 4), torch.randn(9, 2)]
    sample = actor.sample(obs)
    assert sample.continuous.shape == (9, 3) and sample.discrete.shape == (9, 1)
    assert sample.log_prob.requires_grad
    log_prob, entropy = actor.evaluate(obs, None, sample.continuous, sample.discrete)
    torch.testing.assert_close(log_prob, sample.log_prob)
    torch.testing.assert_close(entropy, sample.entropy)
    fast = actor.act(obs, deterministic=True)
    slow = actor.sample(obs, deterministic=True)
    assert not fast.log_prob.requires_grad
    torch.testing.assert_close(fast.continuous, slow.continuous.detach())
    assert torch.equal(fast.discrete, slow.discrete)


def test_state_dict_round_trip_reproduces_the_policy() -> None:
    specs = (ObservationSpec((3,)),)
    settings = NetworkSettings(hidden_units=8, num_layers=1, normalize=True)
    source = Actor(specs, ActionSpec(continuous_size=2), settings)
    source.update_normalization([torch.randn(50, 3) * 4])
    target = Actor(specs, ActionSpec(continuous_size=2), settings)
    target.load_state_dict(source.state_dict())
    obs = [torch.randn(4, 3)]
    torch.testing.assert_close(
        target.act(obs, deterministic=True).continuous,
        source.act(obs, deterministic=True).continuous,
    )


def test_env_actions_are_clipped_raw_actions_over_three() -> None:
    raw = torch.tensor([[-4.5, 0.3, 6.0]])
    torch.testing.assert_close(Actor.env_actions(raw), torch.tensor([[-1.0, 0.1, 1.0]]))
