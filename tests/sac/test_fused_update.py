"""SAC's hand-derived policy and critic gradients (dojo_sac.fused_update) against autograd's,
one gradient at a time, including clamped log-stds, several actions and several reward signals
(whole updates of both forms: test_implementations.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dojo.envs.base import ActionSpec, BehaviorSpec, ObservationSpec
from dojo_sac.fused_update import (
    critic_forward,
    critic_gradients,
    networks_fit,
    policy_gradients,
)
from dojo_sac.networks import TwinQNetwork
from tests.sac.test_trainer import make_trainer, sac_settings


def autograd_policy_loss(trainer, obs, alpha):
    """The reference form's policy loss and gradients (the trainer's own loss functions)."""
    continuous, log_prob, _ = trainer._policy(obs, None)
    q1 = trainer.q_network.first(obs, continuous, frozen=True)
    loss = trainer._policy_losses(q1, log_prob, None, alpha).mean()
    grads = torch.autograd.grad(loss, list(trainer.actor.parameters()))
    return loss, grads, log_prob.mean()


@pytest.mark.parametrize(
    ("continuous", "signals", "log_std_bias"),
    [(1, 1, 0.0), (3, 2, 0.0), (2, 1, 2.5)],
    ids=["pendulum-like", "three-actions-two-signals", "log-std-clamped"],
)
def test_fused_gradients_equal_autograd(
    tmp_path: Path, continuous: int, signals: int, log_std_bias: float
) -> None:
    spec = BehaviorSpec((ObservationSpec((5,)),), ActionSpec(continuous_size=continuous))
    trainer = make_trainer(spec, sac_settings({"hidden_units": 32}), tmp_path)
    if signals > 1:
        # A value head per signal: the loss averages the Q values over signals.
        names = [f"signal{i}" for i in range(signals)]
        trainer.q_network = TwinQNetwork(
            spec.observation_specs, spec.action_spec, trainer.settings.network_settings, names
        )
        assert trainer.q_network.weights[-1].shape[1] == signals
    assert networks_fit(trainer.actor, trainer.q_network)
    with torch.no_grad():
        layer = trainer.actor.action_model.log_std_layer
        layer.bias.fill_(log_std_bias)  # 2.5 puts most log-stds above the clamp at 2.0
    obs = [torch.randn(64, 5)]
    alpha = torch.tensor([0.3])

    torch.manual_seed(7)
    expected_loss, expected, expected_log_prob = autograd_policy_loss(trainer, obs, alpha)
    torch.manual_seed(7)  # the same noise draw
    fused = policy_gradients(trainer.actor, trainer.q_network, obs, alpha[0])

    torch.testing.assert_close(fused.policy_loss[0], expected_loss.detach())
    torch.testing.assert_close(fused.mean_log_prob, expected_log_prob.detach())
    assert len(fused.grads) == len(expected)
    for got, want in zip(fused.grads, expected, strict=True):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    std_weight_grad = fused.grads[-2]
    if log_std_bias > 2.0:
        # Clamped samples pass no gradient to the log-std head.
        assert std_weight_grad.abs().sum() < expected[0].abs().sum()


@pytest.mark.parametrize("signals", [1, 2])
def test_fused_critic_gradients_equal_autograd(tmp_path: Path, signals: int) -> None:
    spec = BehaviorSpec((ObservationSpec((5,)),), ActionSpec(continuous_size=2))
    trainer = make_trainer(spec, sac_settings({"hidden_units": 32}), tmp_path)
    names = [f"signal{i}" for i in range(signals)]
    q_network = TwinQNetwork(
        spec.observation_specs, spec.action_spec, trainer.settings.network_settings, names
    )
    obs, actions = [torch.randn(64, 5)], torch.rand(64, 2) * 2 - 1
    target = torch.randn(64, signals)

    q = q_network(obs, actions)[..., 0]  # [2, n, signals]
    losses = 0.5 * (q - target).square().mean(dim=(1, 2))
    expected = torch.autograd.grad(losses.sum(), list(q_network.parameters()))
    fused = critic_gradients(q_network, critic_forward(q_network, obs, actions), target)

    torch.testing.assert_close(fused.q_losses, losses.detach())
    torch.testing.assert_close(fused.q_values, q.detach().min(0).values.mean(0))
    for got, want in zip(fused.grads, expected, strict=True):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
