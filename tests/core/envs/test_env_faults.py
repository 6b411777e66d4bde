"""An environment that misbehaves (wrong observations or rewards, raising, a killed worker, a
hung step) is refused with one error naming the environment, the copy and the step, in both
vectorization modes; a worker ignores the signals meant for the trainer; a stop abandons a step
that does not return."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from dojo.config.settings import EnvSettings
from dojo.envs.base import ActionTuple
from dojo.envs.context import EnvironmentContext
from dojo.envs.gymnasium_env import GymnasiumEnvironment, make_gymnasium_environment
from dojo.envs.gymnasium_spaces import ObservationCodec
from dojo.errors import EnvError
from dojo.interrupts import StopFlag

from .conftest import importable_module

# Registered by the module itself, so spawned workers (async mode) know the id too. Also
# imported by the end-to-end tests and benchmarks/faults/env_faults.py.
FAULTY_ENVS = '''
import math
import os
import time

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv


class Faulty(CartPoleEnv):
    """CartPole whose copy 2 (seeded with seed + 2 = 5) misbehaves as ``fault`` says from its
    step number ``at`` (counted from construction) on."""

    def __init__(self, fault="none", at=5, **kwargs):
        super().__init__(**kwargs)
        self.fault, self.at, self.count, self.bad = fault, at, 0, False

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.bad = seed == 5
        if self.bad and self.fault == "raise_reset" and self.count >= self.at:
            raise RuntimeError("the simulator crashed in reset")
        return super().reset(seed=seed, options=options)

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        self.count += 1
        if not (self.bad and self.count >= self.at):
            return obs, reward, terminated, truncated, info
        fault = self.fault
        if fault in ("nan_obs", "inf_obs"):
            obs = np.array(obs)
            obs[1] = math.nan if fault == "nan_obs" else math.inf
        elif fault in ("nan_reward", "inf_reward"):
            reward = math.nan if fault == "nan_reward" else -math.inf
        elif fault == "short_obs":
            obs = obs[:3]
        elif fault == "string_obs":
            obs = "abc"
        elif fault == "object_obs":
            obs = np.array([1.0, None, "x", 2.0], dtype=object)
        elif fault == "dict_obs":
            obs = {"x": obs}
        elif fault == "string_reward":
            reward = "one"
        elif fault == "raise_step":
            raise RuntimeError("the simulator crashed")
        elif fault == "raise_reset":
            return obs, reward, True, False, info
        elif fault == "slow":  # a simulator: the trainer mostly waits for the step
            time.sleep(0.002)
        elif fault == "hang":
            time.sleep(3600)
        elif fault == "busy":
            while True:
                pass
        return obs, reward, terminated, truncated, info


gym.register("Faulty-v0", entry_point=Faulty, max_episode_steps=500)
'''

# fault -> what the error says (after "copy 2 ")
WRONG_DATA = {
    "short_obs": "returned a wrong observation at step 5: expected an array of shape (4,) (Box "
    "space of float32), got a float32 array of shape (3,)",
    "string_obs": "returned a wrong observation at step 5: expected an array of shape (4,) (Box "
    "space of float32), got the str 'abc'",
    "object_obs": "returned a wrong observation at step 5: expected an array of shape (4,) (Box "
    "space of float32), got an object array of shape (4,)",
    "dict_obs": "returned a wrong observation at step 5: expected an array of shape (4,) (Box "
    "space of float32), got a dict with keys ['x']",
    "string_reward": "returned a wrong reward at step 5: expected a number, got the str 'one'",
}


@pytest.fixture
def faulty_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The name of an importable module registering ``Faulty-v0``."""
    return importable_module(tmp_path, monkeypatch, "dojo_env_faults", FAULTY_ENVS)


def _make(module: str, mode: str, fault: str, num_envs: int = 3) -> GymnasiumEnvironment:
    settings = EnvSettings(
        vectorization_mode=mode, timeout_wait=60, env_args=[f"fault={fault}", "at=5"]
    )
    return make_gymnasium_environment(
        EnvironmentContext(f"{module}:Faulty-v0", num_envs=num_envs, seed=3, settings=settings)
    )


def _step(env: GymnasiumEnvironment, times: int) -> None:
    n = env.num_workers
    zeros = ActionTuple(np.zeros((n, 0), np.float32), np.zeros((n, 1), np.int64))
    for _ in range(times):
        env.set_actions("Faulty", zeros)
        env.step()


def _error_of(env: GymnasiumEnvironment, before: int = -1) -> str:
    """The error of 10 steps (``before``: the worker to kill after the reset)."""
    try:
        env.reset()
        if before >= 0:
            os.kill(env.worker_pids[before], signal.SIGKILL)
        with pytest.raises(EnvError) as raised:
            _step(env, 10)
    finally:
        env.close()
    return str(raised.value)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("fault", sorted(WRONG_DATA))
def test_wrong_observations_and_rewards_are_refused_naming_copy_step_and_types(
    faulty_module: str, mode: str, fault: str
) -> None:
    message = _error_of(_make(faulty_module, mode, fault))
    assert message.startswith("gymnasium:") and "Faulty-v0: copy 2 " in message, message
    assert message.endswith(WRONG_DATA[fault]), message


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("raise_step", "RuntimeError: the simulator crashed"),
        ("raise_reset", "RuntimeError: the simulator crashed in reset"),
    ],
)
def test_an_environment_that_raises_is_one_error(
    faulty_module: str, mode: str, fault: str, said: str
) -> None:
    message = _error_of(_make(faulty_module, mode, fault))
    if mode == "sync":
        assert message.endswith(f"Faulty-v0: copy 2 failed in step(): {said}"), message
    else:  # the worker's own reset after the episode's end
        call = "reset()" if fault == "raise_reset" else "step()"
        expected = f"Faulty-v0: {call} failed in a worker process: copy 2 raised {said}"
        assert message.endswith(expected), message


def test_a_killed_worker_is_named_with_its_exit_code(faulty_module: str) -> None:
    message = _error_of(_make(faulty_module, "async", "none"), before=1)
    assert "worker process ended: copy 1 (exit code -9)" in message, message


def test_workers_ignore_the_signals_meant_for_the_trainer(faulty_module: str) -> None:
    """docker stop, systemd and Kubernetes send SIGTERM to every process of the group, a
    terminal Ctrl+C; the trainer decides when its workers stop (after saving)."""
    env = _make(faulty_module, "async", "none")
    try:
        env.reset()
        _step(env, 2)
        for pid in env.worker_pids:
            os.kill(pid, signal.SIGTERM)
            os.kill(pid, signal.SIGINT)
        time.sleep(0.3)
        _step(env, 5)  # every worker still answers
    finally:
        env.close()


def test_observation_checks_name_the_part_of_a_dict_space() -> None:
    from dojo.envs.gymnasium_spaces import WrongData

    space = gym.spaces.Dict(
        {"cell": gym.spaces.Discrete(4), "pos": gym.spaces.Box(-1, 1, (2,), np.float32)}
    )
    codec = ObservationCodec(space, "test")
    good = {"cell": 3, "pos": np.zeros(2, np.float32)}
    assert [a.shape for a in codec.encode([good, good])] == [(2, 4), (2, 2)]
    cases = [
        (
            {"cell": 4, "pos": np.zeros(2)},
            "cell: expected an integer in Discrete(4), got the int 4",
        ),
        ({"cell": -1, "pos": np.zeros(2)}, "cell: expected an integer in Discrete(4)"),
        ({"cell": 1, "pos": np.zeros(3)}, "pos: expected an array of shape (2,)"),
        ({"pos": np.zeros(2)}, "expected an entry 'cell' in the observation, got a dict"),
        (np.zeros(6), "expected an entry 'cell' in the observation, got a float64 array"),
    ]
    for bad, said in cases:
        with pytest.raises(WrongData) as raised:
            codec.encode([good, bad])
        copy, what, detail = raised.value.args
        assert (copy, what) == (1, "observation") and detail.startswith(said), detail


@pytest.mark.parametrize("fault", ["hang", "busy"])
def test_a_stop_abandons_a_step_that_does_not_return(faulty_module: str, fault: str) -> None:
    """SIGTERM while a Python environment hangs in step() (sleeping or busy): after the grace
    time the step raises StepAbandoned (the run then saves and ends)."""
    from dojo.interrupts import EnvironmentCall, StepAbandoned

    env = _make(faulty_module, "sync", fault)
    env.reset()
    _step(env, 4)
    call = EnvironmentCall("gymnasium:Faulty-v0: step()")
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    started = time.monotonic()
    try:
        with StopFlag().installed():
            timer.start()
            with pytest.raises(StepAbandoned) as raised, call:
                _step(env, 1)  # copy 2's step 5 never returns
    finally:
        timer.cancel()
        env.close()
    elapsed = time.monotonic() - started
    assert 2.0 <= elapsed < 10, elapsed
    assert str(raised.value).startswith(
        "gymnasium:Faulty-v0: step() did not return within 2 s of the stop request"
    )
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the run's handlers are gone
