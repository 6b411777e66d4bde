"""Small Gymnasium environments dojo ships for its examples, tests and benchmarks.

Registered under the ``dojo/`` namespace by :func:`register_example_environments` (the
``gymnasium`` provider calls it, so ``--env gymnasium:dojo/PixelGrid-v0`` just works; in your own
Python code, import this module first):

- ``dojo/CartPoleNoVel-v0``: CartPole without its velocities (:mod:`dojo.envs.wrappers`), a
  partially observable task for recurrent policies; 500 steps at most, like ``CartPole-v1``.
- ``dojo/PixelGrid-v0``: :class:`PixelGridEnv`, reach a goal seen only through pixels; trains in
  minutes on a CPU with any ``vis_encode_type``.
- ``dojo/HybridTarget-v0``: :class:`HybridTargetEnv`, a hybrid action (one discrete choice and
  one continuous value per step).
- ``dojo/Reach1D-v0``: :class:`Reach1DEnv`, move to a target on a line with one continuous
  action; learns in a few thousand steps (the Unity protocol tests serve it as a "build").
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["HybridTargetEnv", "PixelGridEnv", "Reach1DEnv", "register_example_environments"]


class PixelGridEnv(gym.Env):
    """Move to a goal on a ``grid_size`` x ``grid_size`` board seen as an RGB image.

    Observation: ``uint8`` image ``[H, W, 3]`` (Gymnasium's channel-last layout) with ``H = W =
    grid_size * cell_pixels``: the agent's cell is red (channel 0 at 255), the goal's green
    (channel 1); the rest is black. Actions: ``Discrete(4)``, up, down, left, right (moves into
    the border do nothing). Reward: +1 when the agent reaches the goal (the episode terminates),
    -0.02 for every other step. Both positions are random and distinct at every reset; episodes
    are truncated after ``4 * grid_size`` steps.

    A policy that walks straight to the goal returns about 0.95 on the default 5 x 5 board; one
    acting uniformly at random returns about 0.04.

    Args:
        grid_size: cells per side (at least 2).
        cell_pixels: pixels per cell side; pick it so the image is at least the
            ``vis_encode_type`` minimum (e.g. 4 for ``simple``'s 20 x 20 on a 5 x 5 board).
    """

    metadata = {"render_modes": ["rgb_array"]}  # noqa: RUF012 (Gymnasium's convention)

    STEP_PENALTY = -0.02
    _MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]], dtype=np.int64)

    def __init__(self, grid_size: int = 5, cell_pixels: int = 4, render_mode: str | None = None):
        if grid_size < 2 or cell_pixels < 1:
            raise ValueError(
                f"PixelGrid needs grid_size >= 2 and cell_pixels >= 1, got {grid_size} and "
                f"{cell_pixels}"
            )
        self.grid_size = grid_size
        self.cell_pixels = cell_pixels
        self.render_mode = render_mode
        side = grid_size * cell_pixels
        self.observation_space = spaces.Box(0, 255, (side, side, 3), dtype=np.uint8)
        self.action_space = spaces.Discrete(4)
        self._agent = np.zeros(2, dtype=np.int64)
        self._goal = np.zeros(2, dtype=np.int64)
        self.max_steps = 4 * grid_size
        self._t = 0

    def _image(self) -> np.ndarray:
        board = np.zeros((self.grid_size, self.grid_size, 3), dtype=np.uint8)
        board[self._agent[0], self._agent[1], 0] = 255
        board[self._goal[0], self._goal[1], 1] = 255
        p = self.cell_pixels
        return board if p == 1 else board.repeat(p, axis=0).repeat(p, axis=1)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        cells = self.np_random.choice(self.grid_size**2, size=2, replace=False)
        self._agent = np.array(divmod(int(cells[0]), self.grid_size), dtype=np.int64)
        self._goal = np.array(divmod(int(cells[1]), self.grid_size), dtype=np.int64)
        self._t = 0
        return self._image(), {}

    def step(self, action: int):
        self._agent = np.clip(self._agent + self._MOVES[int(action)], 0, self.grid_size - 1)
        reached = bool(np.array_equal(self._agent, self._goal))
        reward = 1.0 if reached else self.STEP_PENALTY
        self._t += 1
        return self._image(), reward, reached, self._t >= self.max_steps and not reached, {}

    def render(self) -> np.ndarray:
        return self._image()


class HybridTargetEnv(gym.Env):
    """Pick a category and dial a value, every step: a hybrid-action task.

    Observation: ``Box(4)`` ``[target, one-hot category (3)]`` with ``target`` uniform in
    [-1, 1] and the category uniform in {0, 1, 2}, both new at every step. Action:
    ``Tuple(Discrete(3), Box(-1, 1, (1,)))``. Reward per step: 1 if the discrete choice is the
    category, plus ``1 - |value - target|``. Episodes last 10 steps (terminated), so returns
    range from about 6.7 (uniformly random actions) to 20 (perfect).
    """

    EPISODE_LENGTH = 10

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode
        self.observation_space = spaces.Box(-1.0, 1.0, (4,), dtype=np.float32)
        self.action_space = spaces.Tuple(
            (spaces.Discrete(3), spaces.Box(-1.0, 1.0, (1,), dtype=np.float32))
        )
        self._obs = np.zeros(4, dtype=np.float32)
        self._t = 0

    def _new_target(self) -> np.ndarray:
        self._obs = np.zeros(4, dtype=np.float32)
        self._obs[0] = self.np_random.uniform(-1.0, 1.0)
        self._obs[1 + int(self.np_random.integers(3))] = 1.0
        return self._obs.copy()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._t = 0
        return self._new_target(), {}

    def step(self, action: tuple[int, np.ndarray]):
        choice, value = action
        category = int(np.argmax(self._obs[1:]))
        reward = float(int(choice) == category) + 1.0 - abs(float(value[0]) - float(self._obs[0]))
        self._t += 1
        return self._new_target(), reward, self._t >= self.EPISODE_LENGTH, False, {}


class Reach1DEnv(gym.Env):
    """Reach a target on the line [-1, 1] with one continuous action.

    Observation: ``Box(2)`` ``[position, target]``, both uniform in [-1, 1] at reset. Action:
    ``Box(-1, 1, (1,))``, the move as a fraction of ``MAX_MOVE``. Reward per step: minus the
    distance to the target after the move, so returns range from about -10 (moving away) to
    about -1 (moving straight to the target). Episodes last ``EPISODE_LENGTH`` steps.
    """

    EPISODE_LENGTH = 10
    MAX_MOVE = 0.25

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
        self._state = np.zeros(2, dtype=np.float32)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._t = 0
        self._state = self.np_random.uniform(-1.0, 1.0, 2).astype(np.float32)
        return self._state.copy(), {}

    def step(self, action: np.ndarray):
        move = float(np.clip(np.asarray(action, dtype=np.float32).reshape(-1)[0], -1.0, 1.0))
        self._state[0] = np.clip(self._state[0] + self.MAX_MOVE * move, -1.0, 1.0)
        self._t += 1
        reward = -abs(float(self._state[0] - self._state[1]))
        return self._state.copy(), reward, self._t >= self.EPISODE_LENGTH, False, {}


def register_example_environments() -> None:
    """Register the ``dojo/`` Gymnasium ids (idempotent; cheap: the classes load on make)."""
    registrations = {
        "dojo/CartPoleNoVel-v0": dict(
            entry_point="dojo.envs.wrappers:make_cartpole_no_velocity",
            max_episode_steps=500,
            reward_threshold=475.0,
        ),
        "dojo/PixelGrid-v0": dict(entry_point="dojo.envs.example_envs:PixelGridEnv"),
        "dojo/HybridTarget-v0": dict(entry_point="dojo.envs.example_envs:HybridTargetEnv"),
        "dojo/Reach1D-v0": dict(entry_point="dojo.envs.example_envs:Reach1DEnv"),
    }
    for env_id, kwargs in registrations.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, **kwargs)
