"""Generalized Advantage Estimation over a batch of trajectories at once."""

from __future__ import annotations

import numpy as np


def padded(arrays: list[np.ndarray], width: int) -> np.ndarray:
    """Stack 1-D arrays of different lengths into ``[len(arrays), width]`` (zero padded)."""
    out = np.zeros((len(arrays), width), dtype=np.float32)
    for i, array in enumerate(arrays):
        out[i, : len(array)] = array
    return out


def gae(
    rewards: np.ndarray,
    values: np.ndarray,
    bootstrap: np.ndarray,
    lengths: np.ndarray,
    gamma: float,
    lambd: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Advantages and returns (Schulman et al. 2016, "High-Dimensional Continuous Control").

    Args:
        rewards: ``[N, T]`` rewards, zero padded past each trajectory's length.
        values: ``[N, T]`` value estimates of the visited observations.
        bootstrap: ``[N]`` value after the last step (0 when the episode truly ended).
        lengths: ``[N]`` number of valid steps of each trajectory.
        gamma: discount factor.
        lambd: GAE lambda.

    Returns:
        ``(advantages, returns)``, both ``[N, T]``; entries past a trajectory's end are 0.
    """
    n, width = rewards.shape
    advantages = np.zeros((n, width), dtype=np.float32)
    last = np.zeros(n, dtype=np.float32)
    rows = np.arange(n)
    next_values = np.zeros((n, width), dtype=np.float32)
    next_values[:, :-1] = values[:, 1:]
    next_values[rows, lengths - 1] = bootstrap
    deltas = rewards + gamma * next_values - values
    valid = np.arange(width)[None, :] < lengths[:, None]
    deltas *= valid
    for t in range(width - 1, -1, -1):
        last = deltas[:, t] + gamma * lambd * last * valid[:, t]
        advantages[:, t] = last
    returns = (advantages + values) * valid
    return advantages, returns
