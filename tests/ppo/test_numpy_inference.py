"""The numpy forward passes of PPO's rollouts agree with the torch networks they read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dojo.envs.base import ActionSpec, BehaviorSpec, DecisionSteps, ObservationSpec
from dojo.torch_layer.action_model import allowed_action_mask
from tests.ppo.test_trainer import make_trainer, ppo_settings

SPEC = BehaviorSpec((ObservationSpec((3,)), ObservationSpec((2,))), ActionSpec(0, (3, 3)))


def observations(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, 3)).astype(np.float32), rng.normal(size=(n, 2)).astype(np.float32)]


def test_sampled_actions_carry_the_torch_actors_log_probability_and_entropy(
    tmp_path: Path,
) -> None:
    trainer = make_trainer(SPEC, ppo_settings(beta=0.01), tmp_path)
    inference = trainer._inference
    assert inference is not None
    n = 200
    obs = observations(n)
    disabled = np.random.default_rng(1).random((n, 6)) < 0.3
    disabled[:, 0] = disabled[:, 3] = False  # every branch keeps an allowed action
    sample = inference.act(obs, disabled, deterministic=False)
    assert sample.discrete.shape == (n, 2)
    assert not disabled[np.arange(n), sample.discrete[:, 0]].any()
    assert not disabled[np.arange(n), 3 + sample.discrete[:, 1]].any()
    with torch.no_grad():
        log_prob, entropy = trainer.actor.evaluate(
            [torch.from_numpy(o) for o in obs],
            allowed_action_mask(disabled),
            None,
            torch.from_numpy(sample.discrete),
        )
    np.testing.assert_allclose(sample.log_prob, log_prob.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sample.entropy, entropy.numpy(), rtol=1e-5, atol=1e-6)


def test_samples_follow_the_policy_and_deterministic_takes_its_mode(tmp_path: Path) -> None:
    spec = BehaviorSpec((ObservationSpec((3,)),), ActionSpec(0, (3,)))
    trainer = make_trainer(spec, ppo_settings(), tmp_path)
    inference = trainer._inference
    assert inference is not None
    with torch.no_grad():  # a policy far from uniform
        trainer.actor.action_model.logits_layer.bias.copy_(torch.tensor([1.5, 0.0, -1.0]))
    obs = [np.zeros((20_000, 3), np.float32)]
    with torch.no_grad():
        log_probs = trainer.actor.action_model.distribution(
            trainer.actor.hidden([torch.from_numpy(obs[0][:1])])
        ).discrete_log_probs
    expected = log_probs.exp().numpy().reshape(3)
    counts = np.bincount(inference.act(obs, None, False).discrete[:, 0], minlength=3)
    # 20,000 draws: each frequency within 0.015 of its probability (over 4 standard errors).
    np.testing.assert_allclose(counts / counts.sum(), expected, atol=0.015)
    assert (inference.act(obs[:1], None, True).discrete == expected.argmax()).all()


def test_values_equal_the_critic_and_follow_parameter_updates(tmp_path: Path) -> None:
    trainer = make_trainer(SPEC, ppo_settings(), tmp_path)
    inference = trainer._inference
    assert inference is not None
    obs = observations(50, seed=2)

    def torch_values() -> dict[str, np.ndarray]:
        with torch.no_grad():
            values = trainer.critic([torch.from_numpy(o) for o in obs])
        return {name: v.numpy() for name, v in values.items()}

    before = inference.values(obs)
    assert before.keys() == {"extrinsic"}
    np.testing.assert_allclose(before["extrinsic"], torch_values()["extrinsic"], rtol=1e-5)
    # A loaded checkpoint (copied into the same storage) is what the numpy path reads next.
    other = make_trainer(SPEC, ppo_settings(), tmp_path / "other")
    with torch.no_grad():
        for p in other.critic.parameters():
            p.add_(0.5)
    other.save_checkpoint(tmp_path / "other.pt")
    trainer.load_checkpoint(tmp_path / "other.pt")
    after = inference.values(obs)
    assert not np.allclose(after["extrinsic"], before["extrinsic"])
    np.testing.assert_allclose(after["extrinsic"], torch_values()["extrinsic"], rtol=1e-5)


def test_trainer_act_reports_actions_log_probs_and_entropy(tmp_path: Path) -> None:
    trainer = make_trainer(SPEC, ppo_settings(), tmp_path)
    n = 8
    steps = DecisionSteps(observations(n), np.zeros(n, np.float32), np.arange(n))
    output = trainer.act(steps)
    assert output.actions.discrete.shape == (n, 2)
    assert output.actions.discrete.dtype == np.int64
    assert output.actions.continuous.shape == (n, 0)
    assert output.extras["log_prob"].shape == (n,)
    # Near-uniform initial policy over two branches of 3: entropy close to 2 log 3.
    assert abs(output.entropy - 2 * np.log(3)) < 0.05
