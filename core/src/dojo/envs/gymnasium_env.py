"""Gymnasium environments behind dojo's environment API (``--env gymnasium:CartPole-v1``).

:class:`GymnasiumEnvironment` steps ``num_envs`` in-process copies of one Gymnasium environment
in lock-step and presents them as one behavior whose agents are the copies (agent id ``i`` is
copy ``i`` for the whole run). The behavior is named after the environment id without its
version or namespace: ``CartPole-v1`` -> ``CartPole``, ``ALE/Pong-v5`` -> ``Pong``.

Spaces (see :mod:`dojo.envs.gymnasium_spaces`): ``Box`` vectors and images (``uint8``
channel-last images become float32 channel-first ``[C, H, W]`` in [0, 1], ML-Agents' model
contract), ``Discrete``/``MultiDiscrete`` (one-hot) and ``MultiBinary`` observations, with
``Dict``/``Tuple`` spaces giving several observations; ``Box`` (continuous, [-1, 1] mapped onto
finite bounds), ``Discrete``, ``MultiDiscrete`` and ``MultiBinary`` actions, with ``Tuple``/``Dict``
spaces of them giving hybrid actions (continuous parts concatenated, discrete parts as branches).

Episodes follow ML-Agents' semantics: a copy that terminates or is truncated appears in the
terminal steps with its true final observation and last reward (``interrupted`` when it was
truncated by a time limit rather than terminated) and is reset at once, so the same agent also
appears in the decision steps with the first observation of its next episode and reward 0.

Arrays returned by :meth:`GymnasiumEnvironment.get_steps` belong to the caller: the environment
never writes into them again, so they may be kept for any number of steps. Each step allocates
one fresh array per observation and one reward array for the whole batch (never per copy), built
by one vectorised numpy call each from the copies' observations (``np.array`` of the list is as
fast as filling rows in place: about 2 us for 8 CartPole copies, of a 60 us step), so that a
caller keeping last step's observations cannot be corrupted.
The ``agent_id`` array and the empty terminal steps are shared between steps and read-only.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import parse_env_id

from dojo.envs.base import (
    ActionTuple,
    BehaviorSpec,
    DecisionSteps,
    Environment,
    TerminalSteps,
)
from dojo.envs.context import EnvironmentContext
from dojo.envs.example_envs import register_example_environments
from dojo.envs.gymnasium_spaces import (
    ObservationCodec,
    WrongData,
    describe,
    make_action_codec,
)
from dojo.errors import DojoError, EnvError

__all__ = [
    "GymnasiumEnvironment",
    "behavior_name_for",
    "make_copy",
    "make_gymnasium_environment",
    "parse_env_args",
]


# --------------------------------------------------------------------------------------------
# Factory (the ``gymnasium`` URI scheme)
# --------------------------------------------------------------------------------------------


# dojo's own example ids (``dojo/CartPoleNoVel-v0``, ...) are valid wherever this provider is.
register_example_environments()


def make_gymnasium_environment(context: EnvironmentContext) -> GymnasiumEnvironment:
    """Build ``context.num_envs`` copies of the Gymnasium environment ``context.target``
    (``--env gymnasium:ID``).

    Reads from the :class:`~dojo.envs.context.EnvironmentContext`:

    - ``target``: a Gymnasium id such as ``CartPole-v1``, optionally prefixed with a module that
      registers it when imported (``ale_py:ALE/Pong-v5``);
    - ``num_envs``: number of copies stepped in lock-step (agents of the one behavior);
    - ``seed``: copy ``i`` is seeded with ``seed + i`` on its first reset; negative = unseeded;
    - ``settings``: ``settings.env_args`` may hold ``key=value`` strings passed as keyword
      arguments to ``gymnasium.make`` (see :func:`parse_env_args`), for example
      ``max_episode_steps=200`` or ``continuous=true``; ``settings.vectorization_mode``
      ``async`` steps each copy in a worker process (:mod:`dojo.envs.gymnasium_async`), waiting
      up to ``settings.timeout_wait`` seconds for an answer.

    Raises:
        EnvError: unknown id (with close matches), bad ``env_args``, unsupported spaces, or
            any failure of ``gymnasium.make``.
    """
    target, num_envs, seed = context.target, context.num_envs, context.seed
    settings = context.settings
    if num_envs < 1:
        raise EnvError(f"gymnasium:{target}: num_envs must be >= 1, got {num_envs}")
    kwargs = parse_env_args(settings.env_args)
    if settings.vectorization_mode == "async":
        from dojo.envs.gymnasium_async import make_async_gymnasium_environment

        return make_async_gymnasium_environment(
            target, kwargs, num_envs=num_envs, seed=seed, timeout=settings.timeout_wait
        )
    envs: list[gym.Env] = []
    try:
        for _ in range(num_envs):
            envs.append(make_copy(target, kwargs))
        return GymnasiumEnvironment(envs, behavior_name=behavior_name_for(target), seed=seed)
    except BaseException:
        # Don't leak the copies already made (windows, emulators, file handles).
        for env in envs:
            env.close()
        raise


def make_copy(target: str, kwargs: dict[str, Any]) -> gym.Env:
    """``gymnasium.make(target, **kwargs)``, its failures as :class:`~dojo.errors.EnvError`."""
    try:
        return gym.make(target, **kwargs)
    except gym.error.UnregisteredEnv as err:
        raise EnvError(_unknown_id_message(target)) from err
    except ModuleNotFoundError as err:
        raise EnvError(f"cannot create Gymnasium environment {target!r}: {err}") from err
    except Exception as err:  # gymnasium and the env's constructor raise anything at all
        shown = f" with env_args {kwargs}" if kwargs else ""
        raise EnvError(
            f"cannot create Gymnasium environment {target!r}{shown}: {type(err).__name__}: {err}"
        ) from err


def _unknown_id_message(target: str) -> str:
    env_id = target.rpartition(":")[2]
    matches = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
    hint = (
        "did you mean " + " or ".join(repr(m) for m in matches) + "?"
        if matches
        else "no registered id looks similar."
    )
    return (
        f"unknown Gymnasium environment {env_id!r}: {hint} "
        "List every id with `python -c 'import gymnasium; gymnasium.pprint_registry()'`. "
        "Ids registered by another package need that package imported first: write "
        "--env gymnasium:<module>:<id>, e.g. gymnasium:ale_py:ALE/Pong-v5."
    )


def parse_env_args(env_args: Sequence[str] | None) -> dict[str, Any]:
    """Turn ``env_args`` (``["max_episode_steps=200", "continuous=true"]``) into kwargs.

    Values are parsed as ``true``/``false`` (bool, any case), ``none``/``null`` (None), an
    integer, a float, or else kept as a string.

    Raises:
        EnvError: an item is not ``key=value``.
    """
    kwargs: dict[str, Any] = {}
    for item in env_args or ():
        key, sep, value = item.partition("=")
        key = key.strip().lstrip("-").replace("-", "_")
        if not sep or not key.isidentifier():
            raise EnvError(
                f"env_args item {item!r}: the gymnasium provider expects key=value pairs "
                "passed to gymnasium.make, e.g. max_episode_steps=200"
            )
        kwargs[key] = _parse_value(value.strip())
    return kwargs


def _parse_value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def behavior_name_for(env_id: str) -> str:
    """Behavior name of a Gymnasium id: no module, namespace or version (``ALE/Pong-v5`` ->
    ``Pong``)."""
    env_id = env_id.rpartition(":")[2]
    try:
        return parse_env_id(env_id)[1]
    except gym.error.Error:
        return env_id.rpartition("/")[2]


# --------------------------------------------------------------------------------------------
# The environment
# --------------------------------------------------------------------------------------------


class GymnasiumEnvironment(Environment):
    """``len(envs)`` copies of one Gymnasium environment as one behavior (see module doc).

    Args:
        envs: the copies, already made (all with the same spaces); this object owns and closes
            them.
        behavior_name: the behavior's name; default: from the first copy's id.
        seed: copy ``i`` is seeded with ``seed + i`` on the first :meth:`reset` (its action
            space too); negative leaves every copy unseeded.

    Raises:
        EnvError: no copies, or a space the provider does not support.
    """

    def __init__(
        self, envs: Sequence[gym.Env], *, behavior_name: str | None = None, seed: int = -1
    ) -> None:
        if not envs:
            raise EnvError("GymnasiumEnvironment needs at least one environment copy")
        self._envs = list(envs)
        first = self._envs[0]
        env_id = first.spec.id if first.spec is not None else type(first.unwrapped).__name__
        self._set_up(
            env_id, first.observation_space, first.action_space, len(envs), behavior_name, seed
        )

    def _set_up(
        self,
        env_id: str,
        observation_space: gym.Space,
        action_space: gym.Space,
        n: int,
        behavior_name: str | None,
        seed: int,
    ) -> None:
        """Codecs, specs and the per-run state for ``n`` copies with these spaces."""
        self._env_name = f"gymnasium:{env_id}"
        self._behavior_name = behavior_name or behavior_name_for(env_id)
        self._obs_codec = ObservationCodec(observation_space, self._env_name)
        self._action_codec = make_action_codec(action_space, self._env_name)
        self._spec = BehaviorSpec(self._obs_codec.specs, self._action_codec.action_spec)
        self._specs = MappingProxyType({self._behavior_name: self._spec})
        self._seed = seed
        self._n = n

        self._agent_ids = np.arange(self._n, dtype=np.int64)
        self._agent_ids.flags.writeable = False
        self._no_terminal = TerminalSteps(
            obs=[
                _read_only(np.zeros((0, *spec.shape), dtype=np.float32))
                for spec in self._obs_codec.specs
            ],
            reward=_read_only(np.zeros(0, dtype=np.float32)),
            interrupted=_read_only(np.zeros(0, dtype=bool)),
            agent_id=_read_only(np.zeros(0, dtype=np.int64)),
        )
        # Used when step() comes without set_actions(), like ML-Agents' default zero actions.
        self._zero_actions = self._spec.action_spec.empty(self._n)

        self._steps: tuple[DecisionSteps, TerminalSteps] | None = None
        self._env_actions: Sequence[Any] | None = None
        self._has_been_reset = False
        self._step_count = 0  # steps since the first reset, for error messages
        self._closed = False

    # -- Environment API -----------------------------------------------------------------

    @property
    def behavior_specs(self) -> Mapping[str, BehaviorSpec]:
        return self._specs

    @property
    def num_workers(self) -> int:
        return self._n

    @property
    def description(self) -> str:
        return self._env_name

    def reset(self) -> None:
        """Start a new episode in every copy; seeds copy ``i`` with ``seed + i`` the first
        time (and continues those random streams afterwards)."""
        self._check_open()
        first_seeded_reset = not self._has_been_reset and self._seed >= 0
        observations = []
        try:
            for i, env in enumerate(self._envs):
                if first_seeded_reset:
                    env.action_space.seed(self._seed + i)
                    obs, _ = env.reset(seed=self._seed + i)
                else:
                    obs, _ = env.reset()
                observations.append(obs)
        except Exception as err:
            raise EnvError(f"{self._env_name}: reset() failed: {err}") from err
        self._record_reset(observations)

    def get_steps(self, behavior_name: str) -> tuple[DecisionSteps, TerminalSteps]:
        """Decision and terminal steps since the last step; the arrays are the caller's to keep
        (never reused), except ``agent_id`` and empty terminal steps, which are read-only."""
        self._check_behavior(behavior_name)
        self._check_open()
        if self._steps is None:
            raise EnvError(f"{self._env_name}: call reset() before get_steps()")
        return self._steps

    def set_actions(self, behavior_name: str, actions: ActionTuple) -> None:
        """Actions for every copy (all agents are always in the decision steps)."""
        self._check_behavior(behavior_name)
        spec = self._spec.action_spec
        n = self._n
        # Shape checks are attribute comparisons: cheap enough for the hot path, and they turn
        # a confusing failure deep inside a Gymnasium env into a message naming the shapes.
        if (spec.continuous_size and actions.continuous.shape != (n, spec.continuous_size)) or (
            spec.discrete_size and actions.discrete.shape != (n, spec.discrete_size)
        ):
            raise EnvError(
                f"{self._env_name}: actions for {self._behavior_name!r} must be continuous "
                f"[{n}, {spec.continuous_size}] and discrete [{n}, {spec.discrete_size}], got "
                f"{actions.continuous.shape} and {actions.discrete.shape}"
            )
        self._env_actions = self._action_codec.decode(actions)

    def step(self) -> None:
        """Step every copy once; finished copies are reported as terminal and reset at once."""
        env_actions = self._take_actions()
        observations: list[Any] = [None] * self._n
        rewards = np.zeros(self._n, dtype=np.float32)
        ended: list[tuple[int, Any, float, bool]] | None = None
        i = 0
        try:
            # The one per-copy Python loop: unavoidable for Python environments, so it does
            # nothing but step and record; observations are batched after the loop.
            for i, (env, action) in enumerate(zip(self._envs, env_actions, strict=True)):
                obs, reward, terminated, truncated, _ = env.step(action)
                try:  # free unless it raises
                    if terminated or truncated:
                        if ended is None:
                            ended = []
                        ended.append((i, obs, float(reward), bool(truncated and not terminated)))
                    else:
                        rewards[i] = reward
                except (TypeError, ValueError) as err:
                    detail = f"expected a number, got {describe(reward)}"
                    raise WrongData(i, "reward", detail) from err
                if terminated or truncated:
                    obs, _ = env.reset()
                observations[i] = obs
        except WrongData as err:
            raise EnvError(err.message(self._env_name, self._step_count)) from err
        except DojoError:
            raise
        except Exception as err:
            raise EnvError(
                f"{self._env_name}: copy {i} failed in step(): {type(err).__name__}: {err}"
            ) from err
        self._record_step(observations, rewards, ended)

    def close(self) -> None:
        """Close every copy; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        errors = []
        for env in self._envs:
            try:
                env.close()
            except Exception as err:
                # Re-raised below as EnvError, once the other copies are closed too.
                errors.append(err)
        self._steps = None
        if errors:
            raise EnvError(f"{self._env_name}: close() failed: {errors[0]}") from errors[0]

    # -- helpers -------------------------------------------------------------------------

    def _take_actions(self) -> Sequence[Any]:
        """Before a step: the copies' actions set since the last step (ML-Agents' zero actions
        if none were), taken so the next step needs new ones."""
        self._check_open()
        if not self._has_been_reset:
            raise EnvError(f"{self._env_name}: call reset() before step()")
        env_actions = self._env_actions
        if env_actions is None:
            env_actions = self._action_codec.decode(self._zero_actions)
        self._env_actions = None
        return env_actions

    def _record_reset(self, observations: Sequence[Any]) -> None:
        """After a reset: every copy's first observation (one per copy), reward 0."""
        self._has_been_reset = True
        self._env_actions = None
        self._record_step(observations, np.zeros(self._n, np.float32), None)

    def _record_step(
        self,
        observations: Sequence[Any],
        rewards: np.ndarray,
        ended: list[tuple[int, Any, float, bool]] | None,
    ) -> None:
        """The steps :meth:`get_steps` returns: every copy's observation (after its reset, if
        it finished) and reward, and the finished copies' ``(copy, final observation, reward,
        interrupted)``."""
        try:
            decision = DecisionSteps(self._obs_codec.encode(observations), rewards, self._agent_ids)
            terminal = self._no_terminal if ended is None else self._terminal_steps(ended)
        except WrongData as err:
            raise EnvError(err.message(self._env_name, self._step_count)) from err
        self._check_finite(decision.obs, decision.reward, decision.agent_id, "")
        if ended is not None:
            self._check_finite(terminal.obs, terminal.reward, terminal.agent_id, "final ")
        self._steps = (decision, terminal)
        self._step_count += 1

    def _check_finite(
        self, observations: list[np.ndarray], rewards: np.ndarray, copies: np.ndarray, kind: str
    ) -> None:
        """ML-Agents refuses NaN and infinite rewards; dojo refuses observations too, before
        they reach a network's weights. One sum per array: NaN and infinities propagate."""
        for index, array in enumerate([rewards, *observations]):
            if np.isfinite(array.sum(dtype=np.float64)):
                continue
            bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1)
            if not bad.any():  # the sum overflowed, the values are finite
                continue
            row = int(np.flatnonzero(bad)[0])
            what = f"{kind}reward" if index == 0 else f"{kind}observation {index - 1}"
            raise EnvError(
                f"{self._env_name}: copy {int(copies[row])} returned a non-finite {what} (NaN or "
                f"infinite) at step {self._step_count}: {array[row].tolist()!r:.200}. dojo does "
                "not train on non-finite data"
            )

    def _terminal_steps(self, ended: list[tuple[int, Any, float, bool]]) -> TerminalSteps:
        ids, final_obs, rewards, interrupted = zip(*ended, strict=True)
        try:
            obs = self._obs_codec.encode(final_obs)
        except WrongData as err:  # its row is in the ended copies
            copy, _, detail = err.args
            raise WrongData(ids[copy] if copy >= 0 else -1, "final observation", detail) from err
        return TerminalSteps(
            obs=obs,
            reward=np.array(rewards, dtype=np.float32),
            interrupted=np.array(interrupted, dtype=bool),
            agent_id=np.array(ids, dtype=np.int64),
        )

    def _check_behavior(self, behavior_name: str) -> None:
        if behavior_name != self._behavior_name:
            raise EnvError(
                f"{self._env_name}: unknown behavior {behavior_name!r}; "
                f"this environment has {self._behavior_name!r}"
            )

    def _check_open(self) -> None:
        if self._closed:
            raise EnvError(f"{self._env_name}: the environment is closed")

    def __repr__(self) -> str:
        return f"GymnasiumEnvironment({self._env_name!r}, num_envs={self._n})"


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
