"""ActionModel: masks, sampling, log-probabilities and entropies against torch.distributions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.distributions import Categorical, Normal

from dojo.envs.base import ActionSpec
from dojo.torch_layer.action_model import (
    ActionModel,
    allowed_action_mask,
    continuous_env_action,
)

from .helpers import random_masks

HIDDEN = 16


def _reference(
    model: ActionModel,
    hidden: torch.Tensor,
    masks: torch.Tensor | None,
    continuous: torch.Tensor | None,
    discrete: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Joint log-prob and entropy computed with torch.distributions, branch by branch."""
    n = hidden.shape[0]
    log_prob = torch.zeros(n)
    entropy = torch.zeros(n)
    if model.continuous_size:
        mean = model.mean_layer(hidden)
        if model.conditional_sigma:
            log_std = model.log_std_layer(hidden).clamp(-20, 2)
        else:
            log_std = model.log_std.expand_as(mean)
        normal = Normal(mean, log_std.exp())
        log_prob += normal.log_prob(continuous).sum(-1)
        entropy += normal.entropy().sum(-1)
    if model.branches:
        logits = model.logits_layer(hidden)
        start = 0
        for index, size in enumerate(model.branches):
            branch_logits = logits[:, start : start + size]
            if masks is not None:
                allowed = masks[:, start : start + size] > 0.5
                branch_logits = branch_logits.masked_fill(~allowed, float("-inf"))
            categorical = Categorical(logits=branch_logits)
            log_prob += categorical.log_prob(discrete[:, index])
            entropy += categorical.entropy()
            start += size
    return log_prob, entropy


@pytest.mark.parametrize(
    ("spec", "conditional_sigma"),
    [
        (ActionSpec(continuous_size=3), False),
        (ActionSpec(continuous_size=2), True),
        (ActionSpec(discrete_branches=(3, 2, 5)), False),
        (ActionSpec(discrete_branches=(4, 4)), False),
        (ActionSpec(continuous_size=2, discrete_branches=(3, 1)), False),
    ],
)
@pytest.mark.parametrize("with_masks", [False, True])
def test_log_prob_and_entropy_match_torch_distributions(
    spec: ActionSpec, conditional_sigma: bool, with_masks: bool
) -> None:
    generator = torch.Generator().manual_seed(3)
    torch.manual_seed(3)
    model = ActionModel(HIDDEN, spec, conditional_sigma=conditional_sigma)
    with torch.no_grad():
        if model.log_std is not None:
            model.log_std.copy_(torch.linspace(-1.0, 0.5, spec.continuous_size))
        for parameter in model.parameters():
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))
    hidden = torch.randn(64, HIDDEN, generator=generator)
    masks = None
    if with_masks and spec.discrete_branches:
        masks = random_masks(spec.discrete_branches, 64, generator)
    for deterministic in (False, True):
        sample = model.sample(hidden, masks, deterministic=deterministic)
        ref_log_prob, ref_entropy = _reference(
            model, hidden, masks, sample.continuous, sample.discrete
        )
        torch.testing.assert_close(sample.log_prob, ref_log_prob, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(sample.entropy, ref_entropy, rtol=1e-5, atol=1e-5)
        log_prob, entropy = model.evaluate(hidden, masks, sample.continuous, sample.discrete)
        torch.testing.assert_close(log_prob, ref_log_prob, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(entropy, ref_entropy, rtol=1e-5, atol=1e-5)
        assert sample.log_prob.shape == sample.entropy.shape == (64,)


def test_shapes_and_types() -> None:
    model = ActionModel(HIDDEN, ActionSpec(continuous_size=2, discrete_branches=(3, 2)))
    sample = model.sample(torch.randn(5, HIDDEN))
    assert sample.continuous.shape == (5, 2) and sample.continuous.dtype == torch.float32
    assert sample.discrete.shape == (5, 2) and sample.discrete.dtype == torch.int64
    hidden = torch.randn(5, HIDDEN)
    assert ActionModel(HIDDEN, ActionSpec(continuous_size=1)).sample(hidden).discrete is None
    assert ActionModel(HIDDEN, ActionSpec(discrete_branches=(2,))).sample(hidden).continuous is None


def test_initial_log_std_is_zero() -> None:
    model = ActionModel(HIDDEN, ActionSpec(continuous_size=4))
    assert torch.equal(model.log_std.detach(), torch.zeros(4))


@pytest.mark.parametrize("deterministic", [False, True])
def test_masked_actions_are_never_chosen(deterministic: bool) -> None:
    branches = (4, 2, 6)
    generator = torch.Generator().manual_seed(0)
    model = ActionModel(HIDDEN, ActionSpec(discrete_branches=branches))
    with torch.no_grad():
        # Make masked actions the most attractive ones: the mask must still win.
        model.logits_layer.bias.copy_(torch.linspace(5.0, 20.0, sum(branches)))
    hidden = torch.randn(4000, HIDDEN, generator=generator)
    masks = random_masks(branches, 4000, generator)
    sample = model.sample(hidden, masks, deterministic=deterministic)
    offsets = torch.tensor([0, 4, 6])
    chosen = masks.gather(1, sample.discrete + offsets)
    assert bool((chosen == 1.0).all())
    assert bool(torch.isfinite(sample.log_prob).all())
    assert bool(torch.isfinite(sample.entropy).all())


def test_only_allowed_action_has_probability_one() -> None:
    model = ActionModel(HIDDEN, ActionSpec(discrete_branches=(3,)))
    masks = torch.tensor([[0.0, 1.0, 0.0]]).repeat(10, 1)
    sample = model.sample(torch.randn(10, HIDDEN), masks)
    assert sample.discrete.flatten().tolist() == [1] * 10
    torch.testing.assert_close(sample.log_prob, torch.zeros(10))
    torch.testing.assert_close(sample.entropy, torch.zeros(10))


def test_discrete_samples_follow_the_distribution() -> None:
    torch.manual_seed(0)
    model = ActionModel(HIDDEN, ActionSpec(discrete_branches=(4, 2)))
    with torch.no_grad():
        model.logits_layer.weight.zero_()
        model.logits_layer.bias.copy_(torch.tensor([0.0, 1.0, 2.0, -1.0, 0.5, -0.5]))
    n = 40000
    masks = torch.ones(n, 6)
    masks[:, 1] = 0.0
    sample = model.sample(torch.zeros(n, HIDDEN), masks)
    expected_0 = torch.softmax(torch.tensor([0.0, -1e9, 2.0, -1.0]), 0)
    expected_1 = torch.softmax(torch.tensor([0.5, -0.5]), 0)
    observed_0 = torch.bincount(sample.discrete[:, 0], minlength=4) / n
    observed_1 = torch.bincount(sample.discrete[:, 1], minlength=2) / n
    torch.testing.assert_close(observed_0, expected_0, atol=0.01, rtol=0)
    torch.testing.assert_close(observed_1, expected_1, atol=0.01, rtol=0)


def test_continuous_samples_follow_the_distribution() -> None:
    torch.manual_seed(0)
    model = ActionModel(HIDDEN, ActionSpec(continuous_size=2))
    with torch.no_grad():
        model.mean_layer.weight.zero_()
        model.mean_layer.bias.copy_(torch.tensor([1.0, -2.0]))
        model.log_std.copy_(torch.tensor([0.0, -1.0]))
    sample = model.sample(torch.zeros(40000, HIDDEN))
    torch.testing.assert_close(
        sample.continuous.mean(0), torch.tensor([1.0, -2.0]), atol=0.02, rtol=0
    )
    torch.testing.assert_close(
        sample.continuous.std(0), torch.tensor([1.0, np.exp(-1.0)]).float(), atol=0.02, rtol=0
    )
    deterministic = model.sample(torch.zeros(3, HIDDEN), deterministic=True)
    assert deterministic.continuous.tolist() == [[1.0, -2.0]] * 3


def test_gradients_flow_through_sample_and_evaluate() -> None:
    model = ActionModel(HIDDEN, ActionSpec(continuous_size=2, discrete_branches=(3,)))
    hidden = torch.randn(8, HIDDEN)
    sample = model.sample(hidden)
    # Reparameterised continuous sample: SAC's actor loss differentiates through it.
    sample.continuous.sum().backward()
    assert model.mean_layer.weight.grad is not None
    model.zero_grad()
    log_prob, entropy = model.evaluate(hidden, None, sample.continuous.detach(), sample.discrete)
    (log_prob.sum() + entropy.sum()).backward()
    assert model.logits_layer.weight.grad.abs().sum() > 0
    assert model.log_std.grad.abs().sum() > 0


def test_entropy_gradient_is_finite_with_masked_actions() -> None:
    # A masked action has probability exactly 0; the entropy bonus must still give finite
    # gradients (it gave NaN everywhere when computed with torch.special.entr).
    model = ActionModel(HIDDEN, ActionSpec(discrete_branches=(3, 3)))
    hidden = torch.randn(8, HIDDEN, requires_grad=True)
    masks = torch.ones(8, 6)
    masks[:, 0] = 0.0
    masks[:4, 4:] = 0.0
    sample = model.sample(hidden, masks)
    log_prob, entropy = model.evaluate(hidden, masks, None, sample.discrete)
    (log_prob.sum() - 0.01 * entropy.sum()).backward()
    assert torch.isfinite(model.logits_layer.weight.grad).all()
    assert torch.isfinite(hidden.grad).all()
    assert torch.isfinite(entropy).all()


def test_continuous_env_action_is_clipped_and_scaled() -> None:
    raw = torch.tensor([[-7.0, -3.0, 0.0, 1.5, 3.0, 9.0]])
    expected = [[-1.0, -1.0, 0.0, 0.5, 1.0, 1.0]]
    assert continuous_env_action(raw).tolist() == expected


def test_allowed_action_mask_inverts_the_environment_convention() -> None:
    disabled = np.array([[True, False, False], [False, False, True]])
    assert allowed_action_mask(disabled).tolist() == [[0.0, 1.0, 1.0], [1.0, 1.0, 0.0]]
    assert allowed_action_mask(None) is None


def test_zero_uniform_draw_cannot_select_a_masked_action(monkeypatch: pytest.MonkeyPatch) -> None:
    # The worst draw for Gumbel-max: u = 0 on the only allowed action, u ~ 1 on masked ones.
    def adversarial_rand_like(tensor: torch.Tensor) -> torch.Tensor:
        uniform = torch.full_like(tensor, 1.0 - 2.0**-24)
        uniform[..., 1] = 0.0
        return uniform

    model = ActionModel(HIDDEN, ActionSpec(discrete_branches=(3,)))
    masks = torch.tensor([[0.0, 1.0, 0.0]]).repeat(5, 1)
    monkeypatch.setattr(torch, "rand_like", adversarial_rand_like)
    assert model.sample(torch.randn(5, HIDDEN), masks).discrete.flatten().tolist() == [1] * 5
