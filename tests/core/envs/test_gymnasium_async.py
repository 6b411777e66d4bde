"""``env_settings.vectorization_mode: async``: Gymnasium copies in real worker processes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from dojo.config.settings import EnvSettings
from dojo.envs.base import ActionSpec, ActionTuple
from dojo.envs.context import EnvironmentContext
from dojo.envs.gymnasium_async import AsyncGymnasiumEnvironment
from dojo.envs.gymnasium_env import make_gymnasium_environment
from dojo.errors import EnvError

from .conftest import importable_module

# Registered by the module itself, so a spawned worker that imports it (gymnasium's
# ``module:id`` form) knows the ids too.
FAULTY_ENVS = '''
import time

import gymnasium as gym
from gymnasium.envs.classic_control.cartpole import CartPoleEnv


class FailsAtStep(CartPoleEnv):
    """CartPole whose third step raises (a simulator crashing)."""

    def step(self, action):
        self.count = getattr(self, "count", 0) + 1
        if self.count == 3:
            raise RuntimeError("the simulator lost its licence")
        return super().step(action)


class Slow(CartPoleEnv):
    """CartPole whose steps take 5 seconds (a simulator that hangs)."""

    def step(self, action):
        time.sleep(5)
        return super().step(action)


gym.register("FailsAtStep-v0", entry_point=FailsAtStep, max_episode_steps=500)
gym.register("Slow-v0", entry_point=Slow, max_episode_steps=500)
'''


@pytest.fixture
def faulty_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The name of an importable module registering ``FailsAtStep-v0`` and ``Slow-v0``."""
    return importable_module(tmp_path, monkeypatch, "dojo_faulty_envs", FAULTY_ENVS)


def make(target: str, mode: str, num_envs: int = 4, seed: int = 3, timeout: int = 60):
    settings = EnvSettings(vectorization_mode=mode, timeout_wait=timeout)
    return make_gymnasium_environment(
        EnvironmentContext(target, num_envs=num_envs, seed=seed, settings=settings)
    )


def random_discrete(rng: np.random.Generator, n: int) -> ActionTuple:
    return ActionTuple(np.zeros((n, 0), np.float32), rng.integers(0, 2, (n, 1)))


def random_actions(spec: ActionSpec, rng: np.random.Generator, n: int) -> ActionTuple:
    continuous = rng.uniform(-1, 1, (n, spec.continuous_size)).astype(np.float32)
    discrete = np.zeros((n, len(spec.discrete_branches)), np.int64)
    for branch, size in enumerate(spec.discrete_branches):
        discrete[:, branch] = rng.integers(0, size, n)
    return ActionTuple(continuous, discrete)


def record(env, steps: int, actions_seed: int = 0) -> list[tuple[np.ndarray, ...]]:
    """Every decision and terminal step of ``steps`` random-action steps, copied."""
    rng = np.random.default_rng(actions_seed)
    env.reset()
    ((name, spec),) = env.behavior_specs.items()
    seen = []
    for _ in range(steps):
        decision, terminal = env.get_steps(name)
        seen.append(
            (
                decision.obs[0].copy(),
                decision.reward.copy(),
                decision.agent_id.copy(),
                terminal.obs[0].copy(),
                terminal.reward.copy(),
                terminal.interrupted.copy(),
                terminal.agent_id.copy(),
            )
        )
        env.set_actions(name, random_actions(spec.action_spec, rng, env.num_workers))
        env.step()
    return seen


@pytest.mark.parametrize(
    "env_id", ["CartPole-v1", "Pendulum-v1", "dojo/HybridTarget-v0"]
)  # discrete, continuous and hybrid actions
def test_worker_copies_step_exactly_like_in_process_copies(env_id: str) -> None:
    in_process = make(env_id, "sync")
    workers = make(env_id, "async")
    try:
        assert isinstance(workers, AsyncGymnasiumEnvironment)
        assert len(set(workers.worker_pids)) == 4
        assert os.getpid() not in workers.worker_pids
        assert workers.behavior_specs == in_process.behavior_specs
        expected, got = record(in_process, 300), record(workers, 300)
    finally:
        in_process.close()
        workers.close()
    # Same seeds, same actions: the same observations, rewards and episode ends, step by step.
    ended = np.concatenate([step[6] for step in expected])
    assert set(ended.tolist()) == {0, 1, 2, 3}, "every copy ended an episode during the run"
    for want, have in zip(expected, got, strict=True):
        for a, b in zip(want, have, strict=True):
            np.testing.assert_array_equal(a, b)


def test_close_stops_the_workers() -> None:
    env = make("CartPole-v1", "async", num_envs=2)
    pids = env.worker_pids
    env.reset()
    env.close()
    env.close()  # again: nothing happens
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_an_unknown_id_fails_before_any_worker_starts() -> None:
    with pytest.raises(EnvError, match="did you mean 'CartPole-v1'"):
        make("CartPol-v1", "async")


def test_an_environment_error_in_a_worker_is_one_clear_error(faulty_module: str) -> None:
    env = make(f"{faulty_module}:FailsAtStep-v0", "async", num_envs=2)
    env.reset()
    with pytest.raises(EnvError) as raised:
        for _ in range(5):
            env.set_actions("FailsAtStep", random_discrete(np.random.default_rng(0), 2))
            env.step()
    env.close()
    message = str(raised.value)
    assert "FailsAtStep-v0" in message
    assert "step() failed in a worker process" in message
    assert "the simulator lost its licence" in message


def test_a_killed_worker_is_reported_with_its_copy() -> None:
    env = make("CartPole-v1", "async", num_envs=3)
    env.reset()
    os.kill(env.worker_pids[1], signal.SIGKILL)
    with pytest.raises(EnvError, match=r"worker process ended: copy 1 \(exit code -9\)"):
        env.step()
    started = time.monotonic()
    env.close()
    assert time.monotonic() - started < 10, "closing after a dead worker does not hang"


def test_a_worker_that_does_not_answer_times_out(faulty_module: str) -> None:
    env = make(f"{faulty_module}:Slow-v0", "async", num_envs=2, timeout=1)
    env.reset()
    started = time.monotonic()
    with pytest.raises(EnvError, match=r"step\(\) failed in a worker process.*timed out"):
        env.step()
    assert time.monotonic() - started < 4.5, "gave up after timeout_wait, not the 5 s step"
    env.close()
