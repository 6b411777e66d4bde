"""The gymnasium provider's space conversion: images, several observations per agent (Dict,
Tuple), and hybrid actions (Tuple/Dict of Box and discrete spaces)."""

from __future__ import annotations

import logging
import time
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from dojo.envs.base import ActionSpec, ActionTuple
from dojo.envs.gymnasium_env import GymnasiumEnvironment


class RecordingEnv(gym.Env):
    """Given spaces; observations drawn from a seeded space; every action kept; episodes end
    after ``episode_length`` steps (terminated)."""

    def __init__(
        self, observation_space: gym.Space, action_space: gym.Space, episode_length: int = 1000
    ) -> None:
        self.observation_space = observation_space
        self.action_space = action_space
        self.episode_length = episode_length
        self.actions: list[Any] = []
        self.sent: list[Any] = []  # every observation returned, in order
        self._t = 0

    def _observe(self) -> Any:
        obs = self.observation_space.sample()
        self.sent.append(obs)
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.observation_space.seed(seed)
        self._t = 0
        return self._observe(), {}

    def step(self, action):
        self.actions.append(action)
        self._t += 1
        return self._observe(), 1.0, self._t >= self.episode_length, False, {}


def _env(obs_space: gym.Space, action_space: gym.Space | None = None, n: int = 2, **kw):
    copies = [RecordingEnv(obs_space, action_space or spaces.Discrete(2), **kw) for _ in range(n)]
    return GymnasiumEnvironment(copies, behavior_name="Toy", seed=0), copies


def _zero_actions(env: GymnasiumEnvironment) -> ActionTuple:
    return env.behavior_specs["Toy"].action_spec.empty(env.num_workers)


# -- images ----------------------------------------------------------------------------------


def test_uint8_channel_last_image_becomes_float_channel_first_in_unit_range():
    env, copies = _env(spaces.Box(0, 255, (6, 9, 3), np.uint8), n=3)
    assert env.behavior_specs["Toy"].observation_specs[0].shape == (3, 6, 9)
    env.reset()
    obs = env.get_steps("Toy")[0].obs[0]
    assert obs.shape == (3, 3, 6, 9) and obs.dtype == np.float32
    assert obs.flags.c_contiguous
    expected = np.stack([c.sent[-1] for c in copies]).transpose(0, 3, 1, 2) / 255.0
    np.testing.assert_allclose(obs, expected, rtol=1e-6)
    assert obs.min() >= 0.0 and obs.max() <= 1.0
    env.set_actions("Toy", _zero_actions(env))
    env.step()
    stepped = env.get_steps("Toy")[0].obs[0]
    expected = np.stack([c.sent[-1] for c in copies]).transpose(0, 3, 1, 2) / 255.0
    np.testing.assert_allclose(stepped, expected, rtol=1e-6)
    env.close()


def test_channel_first_image_is_not_transposed():
    env, copies = _env(spaces.Box(0, 255, (4, 12, 12), np.uint8))
    assert env.behavior_specs["Toy"].observation_specs[0].shape == (4, 12, 12)
    env.reset()
    np.testing.assert_allclose(env.get_steps("Toy")[0].obs[0][0], copies[0].sent[-1] / 255.0)
    env.close()


def test_grayscale_image_gets_a_channel_axis():
    env, copies = _env(spaces.Box(0, 255, (10, 8), np.uint8))
    assert env.behavior_specs["Toy"].observation_specs[0].shape == (1, 10, 8)
    env.reset()
    obs = env.get_steps("Toy")[0].obs[0]
    np.testing.assert_allclose(obs[1, 0], copies[1].sent[-1] / 255.0)
    env.close()


def test_float_image_is_transposed_but_not_scaled():
    env, copies = _env(spaces.Box(-5.0, 5.0, (7, 7, 2), np.float32))
    assert env.behavior_specs["Toy"].observation_specs[0].shape == (2, 7, 7)
    env.reset()
    np.testing.assert_array_equal(
        env.get_steps("Toy")[0].obs[0][0], copies[0].sent[-1].transpose(2, 0, 1)
    )
    env.close()


def test_terminal_steps_carry_the_final_image():
    env, copies = _env(spaces.Box(0, 255, (5, 5, 3), np.uint8), episode_length=1)
    env.reset()
    env.set_actions("Toy", _zero_actions(env))
    env.step()
    decision, terminal = env.get_steps("Toy")
    assert terminal.agent_id.tolist() == [0, 1]
    final = np.stack([c.sent[-2] for c in copies]).transpose(0, 3, 1, 2) / 255.0
    np.testing.assert_allclose(terminal.obs[0], final, rtol=1e-6)
    fresh = np.stack([c.sent[-1] for c in copies]).transpose(0, 3, 1, 2) / 255.0
    np.testing.assert_allclose(decision.obs[0], fresh, rtol=1e-6)
    env.close()


# -- several observations --------------------------------------------------------------------


def minigrid_like_space() -> spaces.Dict:
    """MiniGrid's observation space: a symbolic 7x7 image, a direction and a mission string."""
    return spaces.Dict(
        {
            "mission": spaces.Text(20),
            "image": spaces.Box(0, 255, (7, 7, 3), np.uint8),
            "direction": spaces.Discrete(4),
        }
    )


def test_dict_observation_gives_sorted_observations_and_skips_text(caplog):
    with caplog.at_level(logging.INFO, logger="dojo.envs"):
        env, copies = _env(minigrid_like_space())
    specs = env.behavior_specs["Toy"].observation_specs
    assert [(s.name, s.shape) for s in specs] == [("direction", (4,)), ("image", (3, 7, 7))]
    assert "mission (Text)" in caplog.text and "left out" in caplog.text
    env.reset()
    direction, image = env.get_steps("Toy")[0].obs
    sent = [c.sent[-1] for c in copies]
    assert direction.argmax(axis=1).tolist() == [int(s["direction"]) for s in sent]
    assert direction.sum() == 2.0
    np.testing.assert_allclose(image[1], sent[1]["image"].transpose(2, 0, 1) / 255.0, rtol=1e-6)
    env.close()


def test_nested_tuple_and_discrete_vectors_are_flattened_in_order():
    space = spaces.Tuple(
        (
            spaces.MultiDiscrete([2, 3], start=[1, 0]),
            spaces.Dict({"b": spaces.MultiBinary(3), "a": spaces.Box(-1, 1, ())}),
        )
    )
    env, copies = _env(space)
    specs = env.behavior_specs["Toy"].observation_specs
    assert [(s.name, s.shape) for s in specs] == [("0", (5,)), ("1.a", (1,)), ("1.b", (3,))]
    env.reset()
    multi, scalar, binary = env.get_steps("Toy")[0].obs
    for row, copy in enumerate(copies):
        sent = copy.sent[-1]
        expected = np.zeros(5, np.float32)
        expected[sent[0][0] - 1] = 1.0
        expected[2 + sent[0][1]] = 1.0
        np.testing.assert_array_equal(multi[row], expected)
        assert scalar[row, 0] == pytest.approx(float(sent[1]["a"]))
        np.testing.assert_array_equal(binary[row], sent[1]["b"])
    env.close()


def test_mixed_vector_and_image_observations():
    space = spaces.Dict(
        {"camera": spaces.Box(0, 255, (20, 20, 3), np.uint8), "speed": spaces.Box(-1, 1, (2,))}
    )
    env, _ = _env(space, n=4, episode_length=3)
    specs = env.behavior_specs["Toy"].observation_specs
    assert [s.shape for s in specs] == [(3, 20, 20), (2,)]
    env.reset()
    for _ in range(3):
        env.set_actions("Toy", _zero_actions(env))
        env.step()
    decision, terminal = env.get_steps("Toy")
    assert [o.shape for o in decision.obs] == [(4, 3, 20, 20), (4, 2)]
    assert [o.shape for o in terminal.obs] == [(4, 3, 20, 20), (4, 2)]
    env.close()


# -- hybrid actions --------------------------------------------------------------------------


def test_tuple_of_box_and_discrete_is_a_hybrid_action_round_trip():
    space = spaces.Tuple(
        (
            spaces.Discrete(3, start=1),
            spaces.Box(np.array([0.0, -2.0], np.float32), np.array([10.0, 2.0], np.float32)),
            spaces.MultiDiscrete([2, 4]),
            spaces.Box(-1.0, 1.0, (1,), dtype=np.float64),
        )
    )
    env, copies = _env(spaces.Box(-1, 1, (2,)), space)
    spec = env.behavior_specs["Toy"].action_spec
    assert spec == ActionSpec(continuous_size=3, discrete_branches=(3, 2, 4))
    assert spec.is_hybrid
    env.reset()
    continuous = np.array([[1.0, 0.5, -0.25], [-1.0, -1.0, 2.0]], np.float32)
    discrete = np.array([[2, 1, 3], [0, 0, 0]], np.int64)
    env.set_actions("Toy", ActionTuple(continuous, discrete))
    env.step()
    first, second = (c.actions[-1] for c in copies)
    assert isinstance(first, tuple) and len(first) == 4
    assert first[0] == 3 and second[0] == 1
    assert first[1].tolist() == pytest.approx([10.0, 1.0]) and first[1].dtype == np.float32
    assert second[1].tolist() == pytest.approx([0.0, -2.0])
    assert first[2].tolist() == [1, 3] and second[2].tolist() == [0, 0]
    assert first[3].tolist() == [-0.25] and first[3].dtype == np.float64
    assert second[3].tolist() == [1.0]  # clipped to the bound
    assert space.contains(first) and space.contains(second)
    env.close()


def test_dict_action_uses_sorted_keys_and_gives_dicts():
    space = spaces.Dict(
        {"throttle": spaces.Box(0.0, 1.0, (1,), dtype=np.float32), "gear": spaces.Discrete(5)}
    )
    env, copies = _env(spaces.Box(-1, 1, (2,)), space, n=1)
    assert env.behavior_specs["Toy"].action_spec == ActionSpec(1, (5,))
    env.reset()
    env.set_actions("Toy", ActionTuple(np.array([[0.0]], np.float32), np.array([[4]])))
    env.step()
    sent = copies[0].actions[-1]
    assert sent == {"gear": 4, "throttle": pytest.approx(np.array([0.5]))}
    assert space.contains(sent)
    env.close()


def test_step_without_actions_sends_zero_hybrid_actions():
    space = spaces.Tuple((spaces.Box(-1.0, 1.0, (2,), np.float32), spaces.Discrete(2)))
    env, copies = _env(spaces.Box(-1, 1, (2,)), space, n=1)
    env.reset()
    env.step()
    box, choice = copies[0].actions[-1]
    assert box.tolist() == [0.0, 0.0] and choice == 0
    env.close()


# -- cost (printed, not asserted: run with -s to see it) -------------------------------------


def test_image_conversion_cost_report():
    n, side = 8, 84
    env, _ = _env(spaces.Box(0, 255, (side, side, 3), np.uint8), n=n)
    env.reset()
    codec = env._obs_codec
    frames = [
        np.random.default_rng(i).integers(0, 256, (side, side, 3), np.uint8) for i in range(n)
    ]
    repeats = 300
    start = time.perf_counter()
    for _ in range(repeats):
        codec.encode(frames)
    per_batch = (time.perf_counter() - start) / repeats
    print(f"\n{n} x {side}x{side}x3 uint8 -> float32 CHW: {per_batch * 1e6:.0f} us per batch")
    env.close()
