"""Gymnasium wrappers dojo ships for its example configurations.

- :class:`HideVelocities`: a partially observable CartPole
  (``--env gymnasium:dojo/CartPoleNoVel-v0``): the agent sees the cart position and the pole
  angle but not their velocities, so a policy must remember the previous observations
  (``network_settings.memory``) to balance well.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["CARTPOLE_VELOCITIES", "HideVelocities", "make_cartpole_no_velocity"]

#: Indices of the cart velocity and the pole angular velocity in CartPole's observation
#: ``[position, velocity, angle, angular velocity]``.
CARTPOLE_VELOCITIES = (1, 3)


class HideVelocities(gym.ObservationWrapper):
    """Drops entries of a vector ``Box`` observation (by default CartPole's two velocities).

    Args:
        env: an environment with a rank-1 ``Box`` observation space.
        hidden: indices of the entries to drop.
    """

    def __init__(self, env: gym.Env, hidden: Sequence[int] = CARTPOLE_VELOCITIES) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, spaces.Box) or len(space.shape) != 1:
            raise ValueError(f"HideVelocities needs a rank-1 Box observation space, not {space}")
        self.kept = np.array([i for i in range(space.shape[0]) if i not in set(hidden)])
        self.observation_space = spaces.Box(
            space.low[self.kept], space.high[self.kept], dtype=space.dtype
        )

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return observation[self.kept]


def make_cartpole_no_velocity(**kwargs: Any) -> gym.Env:
    """CartPole (``CartPole-v1``'s dynamics) observing only ``[position, angle]``; ``kwargs``
    go to Gymnasium's ``CartPoleEnv`` (e.g. ``render_mode``)."""
    from gymnasium.envs.classic_control.cartpole import CartPoleEnv

    return HideVelocities(CartPoleEnv(**kwargs))
