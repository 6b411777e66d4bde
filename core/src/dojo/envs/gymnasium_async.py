"""Gymnasium environments stepped in worker processes (``env_settings.vectorization_mode: async``).

For environments whose step costs far more than passing its data between processes (physics
simulators, emulators, games rendered to pixels), stepping the copies one after another in the
trainer's process leaves the other cores idle. :class:`AsyncGymnasiumEnvironment` runs each copy
in a process of its own with Gymnasium's :class:`~gymnasium.vector.AsyncVectorEnv` (observations
in shared memory), so the copies step at the same time, and presents them exactly as
:class:`~dojo.envs.gymnasium_env.GymnasiumEnvironment` does: the same behavior, specs, seeds,
episode semantics (``SameStep`` autoreset: a finished copy appears in the terminal steps with
its true final observation and is reset at once) and arrays owned by the caller. For cheap
environments (CartPole: about 10 microseconds a step) the hand-over costs more than the step;
keep ``sync`` there.

Workers are spawned, not forked (the trainer has threads, which fork would copy in whatever
state they are), so each imports Gymnasium once at start. They ignore SIGINT and SIGTERM, which
a terminal, ``docker stop``, systemd or Kubernetes send to every process of the group: the
trainer stops the run, saves, then closes the workers (and kills one that does not answer).
A worker checks its copy's observations and rewards against the spaces (Gymnasium's shared
memory would fail with a bare numpy message, or silently reshape). A worker whose environment
raises or returns wrong data, a worker that dies, and one that does not answer within
``env_settings.timeout_wait`` seconds end the run with an :class:`~dojo.errors.EnvError`
naming the environment (and the copy and step, where known).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
import warnings
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode
from gymnasium.vector.utils import concatenate, create_empty_array, iterate

from dojo.envs.gymnasium_env import GymnasiumEnvironment, make_copy
from dojo.envs.gymnasium_spaces import ObservationCodec, WrongData, reward_mismatch
from dojo.errors import EnvError
from dojo.interrupts import StopRequested, stop_requested


def make_async_gymnasium_environment(
    target: str, kwargs: dict[str, Any], *, num_envs: int, seed: int, timeout: float
) -> AsyncGymnasiumEnvironment:
    """``num_envs`` worker processes, each with one copy of ``gymnasium.make(target, **kwargs)``
    (copy ``i``'s action space seeded with ``seed + i`` when ``seed >= 0``)."""
    makers = [
        partial(_make_worker_copy, target, kwargs, seed + i if seed >= 0 else -1, i)
        for i in range(num_envs)
    ]
    try:
        vector = _Workers(makers, context="spawn", autoreset_mode=AutoresetMode.SAME_STEP)
    except EnvError:
        # Gymnasium makes one copy in this process first, to read the spaces: an unknown id or
        # bad env_args fail there, with the in-process provider's message, before any worker.
        raise
    except Exception as err:
        if stop_requested():  # a signal to the group ended a worker before it could ignore it
            raise StopRequested("stopped while the worker processes started") from err
        raise EnvError(
            f"gymnasium:{target}: could not start the worker processes: {type(err).__name__}: {err}"
        ) from err
    return AsyncGymnasiumEnvironment(vector, target, seed=seed, timeout=timeout)


def _make_worker_copy(
    target: str, kwargs: dict[str, Any], action_seed: int, copy: int = -1
) -> gym.Env:
    """One worker's copy (runs in the worker process; Gymnasium also calls it once in the
    trainer's process, to read the spaces)."""
    in_worker = multiprocessing.parent_process() is not None
    if in_worker:
        # Ctrl+C at a terminal, and SIGTERM from docker stop, systemd or Kubernetes, reach
        # every process of the group. The trainer decides when the run stops (saving first)
        # and then closes the workers, so a worker ignores both.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    env = make_copy(target, kwargs)
    if action_seed >= 0:
        env.action_space.seed(action_seed)
    return _CheckedCopy(env, copy) if in_worker else env


class _CheckedCopy(gym.Wrapper):
    """A worker's copy that refuses observations and rewards its spaces do not allow, with
    a :class:`~dojo.envs.gymnasium_spaces.WrongData` naming the copy (the trainer adds the
    environment and the step)."""

    def __init__(self, env: gym.Env, copy: int) -> None:
        super().__init__(env)
        self.copy = copy
        self.codec = ObservationCodec(env.observation_space, "")

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        try:
            obs, info = self.env.reset(**kwargs)
        except Exception as err:
            raise CopyFailed(self.copy, "reset()", f"{type(err).__name__}: {err}") from err
        self._check(obs, "observation")
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        try:
            obs, reward, terminated, truncated, info = self.env.step(action)
        except Exception as err:
            raise CopyFailed(self.copy, "step()", f"{type(err).__name__}: {err}") from err
        self._check(obs, "final observation" if terminated or truncated else "observation")
        detail = reward_mismatch(reward)
        if detail is not None:
            raise WrongData(self.copy, "reward", detail)
        return obs, reward, terminated, truncated, info

    def _check(self, obs: Any, what: str) -> None:
        detail = self.codec.mismatch(obs)
        if detail is not None:
            raise WrongData(self.copy, what, detail)


class CopyFailed(RuntimeError):
    """A worker's environment raised: ``args`` are ``(copy, call, what it raised)``, kept when
    Gymnasium re-raises it in the trainer as ``type(err)(err)``."""

    def __init__(self, *args: Any) -> None:
        if len(args) == 1 and isinstance(args[0], CopyFailed):
            args = args[0].args
        super().__init__(*args)


class _Workers(AsyncVectorEnv):
    """Gymnasium's worker processes, closed by force with SIGKILL: they ignore SIGTERM, which
    Gymnasium's own forced close (after a failure, in ``__del__``) sends before waiting for
    them forever."""

    def close_extras(self, timeout: float | None = None, terminate: bool = False) -> None:
        if not terminate:
            super().close_extras(timeout=timeout, terminate=False)
            return
        for process in self.processes:
            if process.is_alive():
                process.kill()
        for pipe in self.parent_pipes:
            if pipe is not None:
                pipe.close()
        for process in self.processes:
            process.join(timeout=5)


class AsyncGymnasiumEnvironment(GymnasiumEnvironment):
    """The copies of a Gymnasium environment in an :class:`~gymnasium.vector.AsyncVectorEnv`
    (built with ``autoreset_mode=SameStep``) as one behavior (see the module docstring).

    Args:
        vector: the worker processes; this object owns and closes them.
        env_id: the environment's id (names the behavior and the messages).
        seed: copy ``i`` is seeded with ``seed + i`` on the first :meth:`reset`; negative
            leaves every copy unseeded.
        timeout: seconds to wait for the workers' answer to a reset or a step.
    """

    def __init__(
        self, vector: AsyncVectorEnv, env_id: str, *, seed: int = -1, timeout: float = 60.0
    ) -> None:
        self._envs = []  # the copies live in the workers
        self._vector = vector
        self._timeout = timeout
        self._failed = False
        n = vector.num_envs
        try:
            self._set_up(
                env_id, vector.single_observation_space, vector.single_action_space, n, None, seed
            )
        except BaseException:
            self._shut_down()
            raise
        self._action_batch = create_empty_array(vector.single_action_space, n, fn=np.zeros)

    @property
    def worker_pids(self) -> list[int]:
        """The worker processes' ids, copy ``i`` first."""
        return [process.pid for process in self._vector.processes]

    def reset(self) -> None:
        self._check_open()
        seeds = [self._seed + i for i in range(self._n)] if self._seed >= 0 else None
        try:
            with _quiet():
                if not self._has_been_reset and seeds is not None:
                    self._vector.reset_async(seed=seeds)
                else:
                    self._vector.reset_async()
                obs, _infos = self._vector.reset_wait(timeout=self._timeout)
        except StopRequested:  # abandoned: a worker may still be busy
            self._failed = True
            raise
        except Exception as err:
            raise self._worker_error("reset()", err) from err
        self._record_reset(self._per_copy(obs))

    def step(self) -> None:
        env_actions = self._take_actions()
        concatenate(self._vector.single_action_space, list(env_actions), self._action_batch)
        try:
            with _quiet():
                self._vector.step_async(self._action_batch)
                obs, rewards, terminated, truncated, infos = self._vector.step_wait(
                    timeout=self._timeout
                )
        except StopRequested:  # abandoned: a worker may still be busy
            self._failed = True
            raise
        except Exception as err:
            raise self._worker_error("step()", err) from err
        rewards = np.asarray(rewards, dtype=np.float32)
        finished = np.flatnonzero(np.logical_or(terminated, truncated))
        ended = None
        if len(finished):
            final_obs = infos["final_obs"]
            ended = [
                (int(i), final_obs[i], float(rewards[i]), bool(truncated[i] and not terminated[i]))
                for i in finished
            ]
            rewards[finished] = 0.0  # the reset copy's first decision step
        self._record_step(self._per_copy(obs), rewards, ended)

    def close(self) -> None:
        """Stop the workers; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        self._steps = None
        self._shut_down()

    def _shut_down(self) -> None:
        # After a failure the pipes may be broken or a worker busy: kill instead of asking.
        with contextlib.suppress(Exception), _quiet():
            self._vector.close(terminate=self._failed)
        for process in self._vector.processes:
            if process.is_alive():
                process.kill()
            process.join(timeout=5)
        self._vector.closed = True  # nothing left for its __del__ to do

    def __repr__(self) -> str:
        return f"AsyncGymnasiumEnvironment({self._env_name!r}, num_envs={self._n})"

    def _per_copy(self, obs: Any) -> list[Any]:
        """The batched observations of the workers as one observation per copy."""
        return list(iterate(self._vector.single_observation_space, obs))

    def _worker_error(self, call: str, err: Exception) -> BaseException:
        self._failed = True
        if isinstance(err, WrongData):
            return EnvError(err.message(self._env_name, self._step_count))
        if isinstance(err, CopyFailed):
            copy, failed_call, what = err.args
            return EnvError(
                f"{self._env_name}: {failed_call} failed in a worker process: copy {copy} "
                f"raised {what}"
            )
        if stop_requested():  # a worker ended by a signal meant for the trainer's group
            return StopRequested(f"{self._env_name}: a worker process ended during the stop")
        what = f"{type(err).__name__}: {err}".strip()
        if isinstance(err, (EOFError, OSError)):
            # A broken pipe: its worker is gone or going; name it, with its exit code. (An
            # environment's own error is re-raised by Gymnasium and reported as it is.)
            deadline = time.monotonic() + 1.0
            processes = self._vector.processes
            while all(p.is_alive() for p in processes) and time.monotonic() < deadline:
                time.sleep(0.02)
            dead = [
                f"copy {i} (exit code {process.exitcode})"
                for i, process in enumerate(processes)
                if not process.is_alive()
            ]
            if dead:
                what = "worker process ended: " + ", ".join(dead)
        return EnvError(f"{self._env_name}: {call} failed in a worker process: {what}")


def _quiet() -> warnings.catch_warnings:
    """Silence Gymnasium's warnings around a worker call: on a worker's error it warns with the
    worker's whole traceback before raising, and the raised error is reported instead (one clear
    message, as for every environment error)."""
    return warnings.catch_warnings(action="ignore", category=UserWarning)
