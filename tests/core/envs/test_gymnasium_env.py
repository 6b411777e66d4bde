"""The ``gymnasium`` environment provider, against real Gymnasium environments."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from dojo.config.settings import EnvSettings
from dojo.envs.base import ActionTuple
from dojo.envs.context import EnvironmentContext
from dojo.envs.gymnasium_env import (
    GymnasiumEnvironment,
    behavior_name_for,
    make_gymnasium_environment,
    parse_env_args,
)
from dojo.errors import EnvError


def make(target: str, num_envs: int = 2, seed: int = 0, env_args: list[str] | None = None):
    return make_gymnasium_environment(
        EnvironmentContext(
            target, num_envs=num_envs, seed=seed, settings=EnvSettings(env_args=env_args)
        )
    )


def discrete(*rows: list[int]) -> ActionTuple:
    actions = np.array(rows, dtype=np.int64)
    return ActionTuple(np.zeros((len(actions), 0), np.float32), actions)


def continuous(*rows: list[float]) -> ActionTuple:
    actions = np.array(rows, dtype=np.float32)
    return ActionTuple(actions, np.zeros((len(actions), 0), np.int64))


class RecordActions(gym.Wrapper):
    """Keeps every action the environment receives."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.actions: list[Any] = []

    def step(self, action):
        self.actions.append(action)
        return self.env.step(action)


class ToyEnv(gym.Env):
    """A configurable environment: given spaces, zero observations, fixed episode length."""

    def __init__(self, action_space: gym.Space, observation_space: gym.Space | None = None):
        self.action_space = action_space
        self.observation_space = observation_space or spaces.Box(-1.0, 1.0, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 1.0, False, False, {}


# -- registration ----------------------------------------------------------------------------


def test_builtin_module_registers_gymnasium_lazily():
    code = (
        "import sys\n"
        "from dojo.registry import Registry\n"
        "from dojo.builtin import environments\n"
        "registry = Registry('environment providers', 'environment')\n"
        "environments.dojo_register_environments(registry)\n"
        "entry = registry.get('gymnasium')\n"
        "assert entry.factory == 'dojo.envs.gymnasium_env:make_gymnasium_environment'\n"
        "assert 'gymnasium' not in sys.modules and 'torch' not in sys.modules\n"
        "assert callable(entry.load_factory())\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("env_id", "name"),
    [
        ("CartPole-v1", "CartPole"),
        ("ALE/Pong-v5", "Pong"),
        ("ale_py:ALE/Pong-v5", "Pong"),
        ("MountainCarContinuous-v0", "MountainCarContinuous"),
        ("FrozenLake", "FrozenLake"),
    ],
)
def test_behavior_name_drops_module_namespace_and_version(env_id, name):
    assert behavior_name_for(env_id) == name


# -- specs and reset -------------------------------------------------------------------------


def test_cartpole_spec_and_first_decision_steps():
    env = make("CartPole-v1", num_envs=3)
    spec = env.behavior_specs["CartPole"]
    assert spec.observation_specs[0].shape == (4,)
    assert spec.action_spec.continuous_size == 0
    assert spec.action_spec.discrete_branches == (2,)
    assert env.num_workers == 3

    env.reset()
    decision, terminal = env.get_steps("CartPole")
    assert decision.obs[0].shape == (3, 4) and decision.obs[0].dtype == np.float32
    assert decision.agent_id.tolist() == [0, 1, 2]
    assert decision.reward.tolist() == [0.0, 0.0, 0.0]
    assert decision.action_mask is None
    assert len(terminal) == 0
    env.close()


def test_discrete_observations_are_one_hot():
    env = make("FrozenLake-v1", num_envs=2, env_args=["is_slippery=false"])
    assert env.behavior_specs["FrozenLake"].observation_specs[0].shape == (16,)
    env.reset()
    obs = env.get_steps("FrozenLake")[0].obs[0]
    assert obs[:, 0].tolist() == [1.0, 1.0] and obs.sum() == 2.0  # both start in cell 0
    env.set_actions("FrozenLake", discrete([2], [1]))  # right, down
    env.step()
    obs = env.get_steps("FrozenLake")[0].obs[0]
    assert obs.argmax(axis=1).tolist() == [1, 4] and obs.sum() == 2.0
    env.close()


# -- actions ---------------------------------------------------------------------------------


def test_discrete_action_start_offset_is_applied():
    recorders = [RecordActions(ToyEnv(spaces.Discrete(3, start=-1))) for _ in range(2)]
    env = GymnasiumEnvironment(recorders, behavior_name="Toy")
    assert env.behavior_specs["Toy"].action_spec.discrete_branches == (3,)
    env.reset()
    env.set_actions("Toy", discrete([0], [2]))
    env.step()
    assert [r.actions[-1] for r in recorders] == [-1, 1]
    env.close()


def test_pendulum_action_plus_one_is_max_torque():
    env = make("Pendulum-v1", num_envs=4)
    assert env.behavior_specs["Pendulum"].action_spec.continuous_size == 1
    env.reset()
    env.set_actions("Pendulum", continuous([1.0], [-1.0], [0.0], [7.0]))
    env.step()
    torques = [copy.unwrapped.last_u for copy in env._envs]
    assert torques == pytest.approx([2.0, -2.0, 0.0, 2.0])  # max_torque is 2; 7 is clipped
    env.close()


def test_mountain_car_continuous_actions_reach_the_env_unchanged():
    copies = [RecordActions(gym.make("MountainCarContinuous-v0")) for _ in range(2)]
    env = GymnasiumEnvironment(copies)
    assert env.behavior_specs["MountainCarContinuous"].action_spec.continuous_size == 1
    env.reset()
    env.set_actions("MountainCarContinuous", continuous([0.5], [-0.25]))
    env.step()
    sent = [copy.actions[-1] for copy in copies]
    assert [a.shape for a in sent] == [(1,), (1,)]
    assert [a.dtype for a in sent] == [np.float32, np.float32]
    assert [float(a[0]) for a in sent] == pytest.approx([0.5, -0.25])
    env.close()


def test_box_action_with_infinite_bounds_passes_through_and_mixed_bounds_rescale():
    space = spaces.Box(np.array([-np.inf, 0.0]), np.array([np.inf, 10.0]), dtype=np.float64)
    copy = RecordActions(ToyEnv(space))
    env = GymnasiumEnvironment([copy], behavior_name="Toy")
    env.reset()
    env.set_actions("Toy", continuous([3.5, 0.0]))
    env.step()
    assert copy.actions[-1].tolist() == pytest.approx([3.5, 5.0])
    assert copy.actions[-1].dtype == np.float64
    env.close()


def test_multi_discrete_actions_become_branches():
    space = spaces.MultiDiscrete([3, 4], start=[1, 0])
    copies = [RecordActions(ToyEnv(space)) for _ in range(2)]
    env = GymnasiumEnvironment(copies, behavior_name="Toy")
    assert env.behavior_specs["Toy"].action_spec.discrete_branches == (3, 4)
    env.reset()
    env.set_actions("Toy", discrete([2, 3], [0, 1]))
    env.step()
    assert [c.actions[-1].tolist() for c in copies] == [[3, 3], [1, 1]]
    assert all(space.contains(c.actions[-1]) for c in copies)
    env.close()


def test_multi_binary_actions_become_two_way_branches():
    copy = RecordActions(ToyEnv(spaces.MultiBinary(3)))
    env = GymnasiumEnvironment([copy], behavior_name="Toy")
    assert env.behavior_specs["Toy"].action_spec.discrete_branches == (2, 2, 2)
    env.reset()
    env.set_actions("Toy", discrete([1, 0, 1]))
    env.step()
    assert copy.actions[-1].tolist() == [1, 0, 1]
    env.close()


def test_wrong_action_shape_is_reported():
    env = make("CartPole-v1", num_envs=2)
    env.reset()
    with pytest.raises(EnvError, match=r"discrete \[2, 1\]"):
        env.set_actions("CartPole", discrete([0]))
    env.close()


def test_step_without_actions_uses_zero_actions():
    copies = [RecordActions(gym.make("CartPole-v1"))]
    env = GymnasiumEnvironment(copies)
    env.reset()
    env.step()
    assert copies[0].actions == [0]
    env.close()


# -- episodes --------------------------------------------------------------------------------


def test_truncation_is_interrupted_with_true_final_observation_then_autoreset():
    seed, steps = 3, 5
    env = make("CartPole-v1", num_envs=2, seed=seed, env_args=[f"max_episode_steps={steps}"])
    env.reset()
    # Reference copies stepped by hand with the same seeds and actions.
    references = [gym.make("CartPole-v1", max_episode_steps=steps) for _ in range(2)]
    for i, ref in enumerate(references):
        ref.reset(seed=seed + i)
    actions = [[0], [1]]  # alternate left/right: CartPole cannot fall in 5 steps
    for t in range(steps):
        env.set_actions("CartPole", discrete(*[actions[(t + i) % 2] for i in range(2)]))
        env.step()
        results = [ref.step(actions[(t + i) % 2][0]) for i, ref in enumerate(references)]
        decision, terminal = env.get_steps("CartPole")
        if t < steps - 1:
            assert len(terminal) == 0
            assert decision.reward.tolist() == [1.0, 1.0]
            np.testing.assert_array_equal(decision.obs[0], np.stack([r[0] for r in results]))

    assert all(r[3] and not r[2] for r in results)  # the references were truncated
    assert terminal.agent_id.tolist() == [0, 1]
    assert terminal.interrupted.tolist() == [True, True]
    assert terminal.reward.tolist() == [1.0, 1.0]
    np.testing.assert_array_equal(terminal.obs[0], np.stack([r[0] for r in results]))
    # The same agents start their next episode in the decision steps, with reward 0.
    assert decision.agent_id.tolist() == [0, 1]
    assert decision.reward.tolist() == [0.0, 0.0]
    np.testing.assert_array_equal(decision.obs[0], np.stack([ref.reset()[0] for ref in references]))
    env.close()


def test_termination_is_not_interrupted_and_agent_is_in_both_steps():
    env = make("CartPole-v1", num_envs=2, seed=0)
    env.reset()
    push_right = discrete([1], [1])
    for _ in range(100):  # always pushing right topples the pole in a few dozen steps
        env.set_actions("CartPole", push_right)
        env.step()
        decision, terminal = env.get_steps("CartPole")
        if len(terminal):
            break
    assert len(terminal) >= 1
    assert not terminal.interrupted.any()
    assert terminal.reward.tolist() == [1.0] * len(terminal)
    assert np.all(np.abs(terminal.obs[0][:, 2]) > 0.2)  # the pole angle passed its limit
    for row, agent in enumerate(terminal.agent_id):
        assert agent in decision.agent_id
        new_obs = decision.obs[0][agent]
        assert decision.reward[agent] == 0.0
        assert np.all(np.abs(new_obs) <= 0.05)  # a fresh episode starts near the origin
        assert not np.array_equal(new_obs, terminal.obs[0][row])
    env.close()


def test_returned_arrays_are_never_reused():
    env = make("CartPole-v1", num_envs=2)
    env.reset()
    kept = []
    for _ in range(3):
        decision, _ = env.get_steps("CartPole")
        kept.append((decision.obs[0], decision.obs[0].copy(), decision.reward))
        env.set_actions("CartPole", discrete([0], [1]))
        env.step()
    for obs, snapshot, _reward in kept:
        np.testing.assert_array_equal(obs, snapshot)
    assert len({id(obs) for obs, _, _ in kept}) == 3
    assert env.get_steps("CartPole")[0] is env.get_steps("CartPole")[0]
    env.close()


# -- seeding ---------------------------------------------------------------------------------


def rollout(seed: int, steps: int = 30) -> np.ndarray:
    env = make("CartPole-v1", num_envs=3, seed=seed)
    env.reset()
    observations = [env.get_steps("CartPole")[0].obs[0]]
    for t in range(steps):
        env.set_actions("CartPole", discrete(*[[(t * 7 + i) % 2] for i in range(3)]))
        env.step()
        observations.append(env.get_steps("CartPole")[0].obs[0])
    env.close()
    return np.stack(observations)


def test_same_seed_same_observations_and_copies_differ():
    first, second = rollout(seed=11), rollout(seed=11)
    np.testing.assert_array_equal(first, second)  # including episodes after autoresets
    assert not np.array_equal(first[0, 0], first[0, 1])  # copies get seed + i
    assert not np.array_equal(rollout(seed=12)[0], first[0])
    # seed 12's copy 0 is seed 11's copy 1
    np.testing.assert_array_equal(rollout(seed=12, steps=0)[0, 0], first[0, 1])


def test_action_spaces_are_seeded():
    def samples(seed: int) -> list[int]:
        copies = [gym.make("CartPole-v1") for _ in range(2)]
        env = GymnasiumEnvironment(copies, seed=seed)
        env.reset()
        drawn = [int(c.action_space.sample()) for c in copies for _ in range(20)]
        env.close()
        return drawn

    assert samples(5) == samples(5)


def test_negative_seed_is_unseeded():
    env = make("CartPole-v1", num_envs=2, seed=-1)
    env.reset()
    env.set_actions("CartPole", discrete([0], [0]))
    env.step()
    assert env.get_steps("CartPole")[0].obs[0].shape == (2, 4)
    env.close()


# -- errors and arguments --------------------------------------------------------------------


def test_unknown_id_suggests_close_match():
    with pytest.raises(EnvError) as info:
        make("CartPol-v1")
    message = str(info.value)
    assert "'CartPol-v1'" in message and "did you mean 'CartPole-v1'" in message
    assert isinstance(info.value.__cause__, gym.error.Error)


def test_unsupported_observation_space_names_space_and_env():
    obs_space = spaces.Text(8)
    toy = ToyEnv(spaces.Discrete(2), obs_space)
    with pytest.raises(EnvError, match=r"observation space Text\(.*not supported") as info:
        GymnasiumEnvironment([toy])
    assert "ToyEnv" in str(info.value)


def test_dict_observation_without_any_encodable_part_is_rejected():
    toy = ToyEnv(spaces.Discrete(2), spaces.Dict({"mission": spaces.Text(8)}))
    with pytest.raises(EnvError, match=r"observation space Dict\(.*not supported"):
        GymnasiumEnvironment([toy])


def test_unsupported_action_space_names_space():
    toy = ToyEnv(spaces.Tuple((spaces.Discrete(2), spaces.Text(3))))
    with pytest.raises(EnvError, match=r"action space Text\(.*not supported"):
        GymnasiumEnvironment([toy], behavior_name="Toy")


def test_env_args_are_parsed_into_make_kwargs():
    assert parse_env_args(["max_episode_steps=200", "g=9.5", "continuous=True", "mode=rgb"]) == {
        "max_episode_steps": 200,
        "g": 9.5,
        "continuous": True,
        "mode": "rgb",
    }
    assert parse_env_args(["--render-mode=none"]) == {"render_mode": None}
    assert parse_env_args(None) == {}
    with pytest.raises(EnvError, match="key=value"):
        parse_env_args(["max_episode_steps"])


def test_env_args_reach_gymnasium_make():
    env = make("Pendulum-v1", num_envs=1, env_args=["g=3.5"])
    assert env._envs[0].unwrapped.g == 3.5
    env.close()
    with pytest.raises(EnvError, match="no_such_argument") as info:
        make("CartPole-v1", env_args=["no_such_argument=1"])
    assert isinstance(info.value.__cause__, TypeError)


def test_close_is_idempotent_and_final():
    env = make("CartPole-v1")
    env.reset()
    env.close()
    env.close()
    with pytest.raises(EnvError, match="closed"):
        env.step()


def test_step_before_reset_and_unknown_behavior_are_errors():
    env = make("CartPole-v1")
    with pytest.raises(EnvError, match="reset"):
        env.step()
    env.reset()
    with pytest.raises(EnvError, match=r"unknown behavior 'Cartpole'.*'CartPole'"):
        env.get_steps("Cartpole")
    env.close()


# -- throughput (printed, not asserted: run with -s to see it) -------------------------------


def test_throughput_report():
    num_envs, steps = 8, 2000
    env = make("CartPole-v1", num_envs=num_envs)
    env.reset()
    rng = np.random.default_rng(0)
    action_batches = [discrete(*rng.integers(0, 2, (num_envs, 1))) for _ in range(steps)]
    start = time.perf_counter()
    for actions in action_batches:
        env.set_actions("CartPole", actions)
        env.step()
        env.get_steps("CartPole")
    ours = steps * num_envs / (time.perf_counter() - start)
    env.close()

    vector = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1")] * num_envs)
    vector.reset(seed=0)
    raw_actions = [a.discrete[:, 0] for a in action_batches]
    start = time.perf_counter()
    for actions in raw_actions:
        vector.step(actions)
    theirs = steps * num_envs / (time.perf_counter() - start)
    vector.close()
    print(
        f"\nCartPole-v1 x{num_envs}: dojo {ours:,.0f} agent-steps/s, "
        f"gymnasium SyncVectorEnv {theirs:,.0f} agent-steps/s ({ours / theirs:.2f}x)"
    )
