"""PPO's hand-derived loss gradients equal autograd's, and only qualifying networks use them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dojo.envs.base import ActionSpec, BehaviorSpec, ObservationSpec
from dojo.rewards.extrinsic import ExtrinsicRewardSignal
from dojo_ppo.fused_loss import encoder_features, supports
from tests.ppo.test_trainer import make_trainer, ppo_settings


def autograd_loss(trainer, obs, actions, masks, old_log_prob, advantages, returns, eps, beta):
    """PPO's loss as the trainer's autograd path computes it."""
    log_prob, entropy = trainer.actor.evaluate([obs], masks, None, actions)
    values = trainer.critic([obs])
    ratio = torch.exp(log_prob - old_log_prob)
    surrogate = torch.min(ratio * advantages, torch.clamp(ratio, 1 - eps, 1 + eps) * advantages)
    value_loss = torch.stack(
        [(returns[i] - values[name]).square().mean() for i, name in enumerate(values)]
    ).mean()
    policy_loss = -surrogate.mean()
    return policy_loss + 0.5 * value_loss - beta * entropy.mean(), policy_loss, value_loss


@pytest.mark.parametrize(
    ("branches", "masked", "beta", "signals"),
    [((2,), False, 0.0, ("extrinsic",)), ((3, 3), True, 0.01, ("extrinsic", "second"))],
)
def test_fused_gradients_equal_autograd(
    tmp_path: Path, branches: tuple[int, ...], masked: bool, beta: float, signals: tuple[str, ...]
) -> None:
    spec = BehaviorSpec((ObservationSpec((4,)),), ActionSpec(0, branches))
    settings = ppo_settings(beta=beta)
    extrinsic = settings.reward_signals["extrinsic"]
    trainer = make_trainer(
        spec,
        settings,
        tmp_path,
        {
            name: ExtrinsicRewardSignal(name=name, settings=extrinsic, behavior_spec=spec)
            for name in signals
        },
    )
    assert trainer._fused is not None
    torch.manual_seed(3)
    n = 64
    obs = torch.randn(n, 4)
    actions = torch.stack([torch.randint(0, b, (n,)) for b in branches], dim=1)
    masks = None
    if masked:
        masks = (torch.rand(n, sum(branches)) > 0.3).float()
        # Taken actions are allowed; a few rows allow only the taken one.
        offsets = torch.tensor([0, *branches[:-1]]).cumsum(0)
        masks.scatter_(1, actions + offsets, 1.0)
    with torch.no_grad():
        old_log_prob = trainer.actor.evaluate([obs], masks, None, actions)[0]
    # Ratios away from 1 on both sides, so both the clipped and unclipped terms are exercised.
    old_log_prob = old_log_prob + torch.randn(n) * 0.3
    advantages = torch.randn(n)
    returns = [torch.randn(n) for _ in signals]

    loss, policy_loss, value_loss = autograd_loss(
        trainer, obs, actions, masks, old_log_prob, advantages, returns, 0.2, beta
    )
    expected = torch.autograd.grad(loss, trainer.parameters, materialize_grads=True)
    features = encoder_features(trainer.actor, trainer.critic, [obs])
    result = trainer._fused.step(
        features[0],
        features[1],
        actions.numpy(),
        None if masks is None else masks.numpy(),
        old_log_prob.numpy(),
        advantages.numpy(),
        [r.numpy() for r in returns],
        0.2,
        beta,
    )
    # The flat buffer holds each parameter's gradient, in the trainer's parameter order.
    flat = torch.cat([g.reshape(-1) for g in expected])
    torch.testing.assert_close(torch.from_numpy(result.grad), flat, rtol=1e-4, atol=1e-6)
    assert result.policy_loss == pytest.approx(float(policy_loss.detach()), rel=1e-5, abs=1e-7)
    assert result.value_loss == pytest.approx(float(value_loss.detach()), rel=1e-5)


def test_only_feed_forward_discrete_networks_use_the_fused_loss(tmp_path: Path) -> None:
    discrete = BehaviorSpec((ObservationSpec((4,)),), ActionSpec(0, (2,)))
    continuous = BehaviorSpec((ObservationSpec((4,)),), ActionSpec(2, ()))
    uneven = BehaviorSpec((ObservationSpec((4,)),), ActionSpec(0, (3, 2)))
    assert make_trainer(discrete, ppo_settings(), tmp_path / "a")._fused is not None
    for spec, settings in (
        (continuous, ppo_settings()),
        (uneven, ppo_settings()),
        (discrete, ppo_settings(memory={"memory_size": 16, "sequence_length": 8})),
        (discrete, ppo_settings(shared_critic=True)),
    ):
        trainer = make_trainer(spec, settings, tmp_path / "b")
        assert trainer._fused is None
        assert not supports(trainer.actor, trainer.critic)
