"""Batched GAE equals the textbook per-trajectory recursion."""

from __future__ import annotations

import numpy as np

from dojo_ppo.gae import gae, padded


def reference(rewards, values, bootstrap, gamma, lambd):  # type: ignore[no-untyped-def]
    advantages = np.zeros(len(rewards))
    last = 0.0
    for t in reversed(range(len(rewards))):
        next_value = bootstrap if t == len(rewards) - 1 else values[t + 1]
        delta = rewards[t] + gamma * next_value - values[t]
        last = delta + gamma * lambd * last
        advantages[t] = last
    return advantages, advantages + values


def test_matches_reference_for_ragged_batch() -> None:
    rng = np.random.default_rng(1)
    lengths = np.array([5, 1, 9, 3])
    rewards = [rng.normal(size=n).astype(np.float32) for n in lengths]
    values = [rng.normal(size=n).astype(np.float32) for n in lengths]
    bootstrap = rng.normal(size=len(lengths)).astype(np.float32)
    width = int(lengths.max())
    adv, ret = gae(padded(rewards, width), padded(values, width), bootstrap, lengths, 0.97, 0.9)
    for i, n in enumerate(lengths):
        expected_adv, expected_ret = reference(rewards[i], values[i], bootstrap[i], 0.97, 0.9)
        np.testing.assert_allclose(adv[i, :n], expected_adv, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ret[i, :n], expected_ret, rtol=1e-5, atol=1e-5)
        assert not adv[i, n:].any() and not ret[i, n:].any()


def test_terminal_bootstrap_zero_gives_discounted_return() -> None:
    rewards = np.ones((1, 4), np.float32)
    values = np.zeros((1, 4), np.float32)
    _, returns = gae(rewards, values, np.zeros(1, np.float32), np.array([4]), 0.5, 1.0)
    np.testing.assert_allclose(returns[0], [1.875, 1.75, 1.5, 1.0])
