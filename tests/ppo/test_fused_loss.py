"""PPO's hand-derived loss gradients (the fast implementation) equal autograd's on the loss the
reference implementation minimises, minibatch by minibatch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dojo.envs.base import ActionSpec, BehaviorSpec, ObservationSpec
from dojo.rewards.extrinsic import ExtrinsicRewardSignal
from dojo_ppo.fused_loss import encoder_features
from dojo_ppo.trainer import _Minibatch
from tests.ppo.test_trainer import make_trainer, ppo_settings


@pytest.mark.parametrize(
    ("branches", "masked", "beta", "signals"),
    [((2,), False, 0.0, ("extrinsic",)), ((3, 3), True, 0.01, ("extrinsic", "second"))],
)
def test_fused_gradients_equal_autograd(
    tmp_path: Path, branches: tuple[int, ...], masked: bool, beta: float, signals: tuple[str, ...]
) -> None:
    spec = BehaviorSpec((ObservationSpec((4,)),), ActionSpec(0, branches))
    trainers = {}
    for implementation in ("reference", "fast"):
        settings = ppo_settings(beta=beta, implementation=implementation)
        extrinsic = settings.reward_signals["extrinsic"]
        trainers[implementation] = make_trainer(
            spec,
            settings,
            tmp_path / implementation,
            {
                name: ExtrinsicRewardSignal(name=name, settings=extrinsic, behavior_spec=spec)
                for name in signals
            },
        )
    reference, fast = trainers["reference"], trainers["fast"]
    assert fast._fused is not None and reference._fused is None
    for mine, theirs in zip(reference.parameters, fast.parameters, strict=True):
        assert torch.equal(mine, theirs)  # the same seed, the same initial weights
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
        old_log_prob = reference.actor.evaluate([obs], masks, None, actions)[0]
    # Ratios away from 1 on both sides, so both the clipped and unclipped terms are exercised.
    old_log_prob = old_log_prob + torch.randn(n) * 0.3
    advantages = torch.randn(n)
    returns = [torch.randn(n) for _ in signals]

    # The reference implementation's loss of this minibatch, through autograd.
    data = {"obs/0": obs, "discrete": actions, "log_prob": old_log_prob, "advantages": advantages}
    data |= {f"returns/{name}": r for name, r in zip(signals, returns, strict=True)}
    if masks is not None:
        data["masks"] = masks
    loss, _ = reference._minibatch_loss(data, _Minibatch(slice(None)), 0.2, beta)
    expected = torch.autograd.grad(loss.total, reference.parameters, materialize_grads=True)

    features = encoder_features(fast.actor, fast.critic, [obs])
    result = fast._fused.step(
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
    assert result.policy_loss == pytest.approx(float(loss.policy.detach()), rel=1e-5, abs=1e-7)
    assert result.value_loss == pytest.approx(float(loss.value.detach()), rel=1e-5)
