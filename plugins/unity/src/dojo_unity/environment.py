"""Unity environments (builds, the Editor, remote workers) behind dojo's environment API.

:class:`UnityEnvironment` drives ``num_envs`` :class:`~dojo_unity.worker.UnityWorker`
connections in lock-step: a step sends every worker its actions first and then collects every
answer, so the environment processes simulate in parallel. The agents of a behavior over all
workers form one batch; agent ids are ``worker_id * 2**32 + the environment's id`` (for a
restarted worker, whose process counts its ids from the start again, ``(restarts * num_workers
+ worker_id) * 2**32 + id``, so no id of a dropped agent comes back).

A build names its behaviors by fully qualified id, ``<BehaviorName>?team=<TeamId>``
(:mod:`dojo.envs.behavior_ids`). The environment presents each behavior under its name; the
agents of every team of one behavior join that behavior's batch (as ML-Agents, which trains
several teams of one behavior with one trainer and policy unless self-play is enabled), and
:meth:`UnityEnvironment.behavior_ids` lists the ids a behavior was seen under.

A worker that fails while training (its process exits, it disconnects, it stops answering within
``--timeout-wait``) is restarted when ``--max-lifetime-restarts`` and the rate limit
(``--restarts-rate-limit-n`` restarts per ``--restarts-rate-limit-period-s``) allow it: its agents
are reported by :meth:`UnityEnvironment.take_dropped_agents` so the trainer discards their
unfinished trajectories, the new process is reset, and training goes on. Errors that a restart
cannot fix (malformed messages, NaN rewards, a behavior whose spec changes) stop the run.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from dojo.config.settings import EngineSettings, EnvSettings
from dojo.envs.base import (
    ActionTuple,
    BehaviorSpec,
    DecisionSteps,
    Environment,
    EnvironmentStat,
    TerminalSteps,
)
from dojo.envs.behavior_ids import parse_behavior_id
from dojo.errors import EnvError
from dojo.interrupts import StopRequested, stop_requested
from dojo_unity.communicator_objects.brain_parameters_pb2 import BrainParametersProto
from dojo_unity.communicator_objects.unity_output_pb2 import UnityOutputProto
from dojo_unity.decoding import actions_to_proto, behavior_spec_from_proto, steps_from_proto
from dojo_unity.server import WorkerFailure
from dojo_unity.side_channels import (
    ENGINE_CONFIGURATION,
    ENVIRONMENT_PARAMETERS,
    EnvironmentParameters,
    engine_configuration_messages,
    frame,
    read_incoming,
)
from dojo_unity.worker import UnityWorker, step_message

logger = logging.getLogger("dojo")

#: Agent ids of worker ``w`` are ``w * AGENT_ID_STRIDE + id`` (until it is restarted).
AGENT_ID_STRIDE = 2**32

Steps = tuple[DecisionSteps, TerminalSteps]


@dataclass(frozen=True)
class RestartPolicy:
    """When a failed worker may be restarted (ML-Agents' ``env_settings`` restart keys).

    Attributes:
        max_lifetime_restarts: restarts allowed per worker over the run; -1 = unlimited.
        rate_limit_n: restarts allowed per worker within ``rate_limit_period_s``; -1 = no limit.
        rate_limit_period_s: the rate limit's window in seconds.
    """

    max_lifetime_restarts: int = 10
    rate_limit_n: int = 1
    rate_limit_period_s: float = 60.0

    def refusal(self, past: list[float], now: float) -> str | None:
        """Why another restart is not allowed after restarts at times ``past``, or ``None``."""
        if 0 <= self.max_lifetime_restarts <= len(past):
            return (
                f"it was already restarted {len(past)} times (--max-lifetime-restarts "
                f"{self.max_lifetime_restarts})"
            )
        recent = [t for t in past if now - t < self.rate_limit_period_s]
        if 0 <= self.rate_limit_n <= len(recent):
            return (
                f"it was already restarted {len(recent)} times in the last "
                f"{self.rate_limit_period_s:g} s (--restarts-rate-limit-n {self.rate_limit_n}, "
                f"--restarts-rate-limit-period-s {self.rate_limit_period_s:g})"
            )
        return None

    @classmethod
    def from_settings(cls, settings: EnvSettings) -> RestartPolicy:
        return cls(
            settings.max_lifetime_restarts,
            settings.restarts_rate_limit_n,
            float(settings.restarts_rate_limit_period_s),
        )


@dataclass
class _WorkerState:
    """What the environment keeps per worker between steps."""

    worker: UnityWorker
    steps: dict[str, Steps] = field(default_factory=dict)  # by fully qualified id
    known_agents: dict[str, set[int]] = field(default_factory=dict)
    last_ids: dict[str, np.ndarray] = field(default_factory=dict)
    restarts: list[float] = field(default_factory=list)
    outgoing: list[tuple[uuid.UUID, bytes]] = field(default_factory=list)


class UnityEnvironment(Environment):
    """``num_workers`` protocol connections presented as one environment.

    Args:
        make_worker: builds worker ``i`` (not started).
        num_workers: number of workers.
        engine: engine settings sent through the EngineConfiguration channel (``None`` for
            environments that are not Unity players, e.g. remote SDK workers, which ignore it).
        restart_policy: when failed workers may be restarted; ``None`` = never (the Editor).
        waiting_message: logged while waiting for an environment that connects by itself.

    Raises:
        EnvError: a worker could not be started or did not complete its handshake.
    """

    def __init__(
        self,
        make_worker: Callable[[int], UnityWorker],
        num_workers: int,
        engine: EngineSettings | None = None,
        restart_policy: RestartPolicy | None = None,
        waiting_message: str | None = None,
    ) -> None:
        self._make_worker = make_worker
        self._engine = engine
        self._policy = restart_policy
        self._waiting_message = waiting_message
        self._workers: list[_WorkerState] = []
        self._specs: dict[str, BehaviorSpec] = {}  # by behavior name
        self._ids: dict[str, list[str]] = {}  # behavior name -> fully qualified ids seen
        self._brains: dict[str, BrainParametersProto] = {}  # by fully qualified id
        self._merged: dict[str, Steps] = {}
        self._actions: dict[str, ActionTuple] = {}
        self._stats: list[EnvironmentStat] = []
        self._dropped: dict[str, list[np.ndarray]] = {}
        self._parameters = EnvironmentParameters()
        self._parameter_history: dict[str, bytes] = {}
        self._warned_channels: set[uuid.UUID] = set()
        self._was_reset = False
        self._closed = False
        try:
            for i in range(num_workers):
                worker = make_worker(i)
                self._workers.append(_WorkerState(worker))
                worker.listen(waiting_message)
            for state in self._workers:
                self._handle_output(state, state.worker.handshake())
                state.outgoing = self._initial_channel_messages()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ Environment API
    @property
    def behavior_specs(self) -> Mapping[str, BehaviorSpec]:
        return MappingProxyType(self._specs)

    def behavior_ids(self, behavior_name: str) -> tuple[str, ...]:
        """The fully qualified ids (``Name?team=N``) the build sent for ``behavior_name``."""
        return tuple(self._ids.get(behavior_name, ()))

    @property
    def num_workers(self) -> int:
        return len(self._workers)

    @property
    def environment_parameters(self) -> EnvironmentParameters:
        """Queue float and sampler parameters here; they go out with the next reset or step."""
        return self._parameters

    def set_environment_parameters(self, parameters: Mapping[str, float]) -> None:
        for key, value in parameters.items():
            self._parameters.set_float(key, float(value))

    def reset(self) -> None:
        self._check_open()
        self._broadcast_parameters()
        for state in self._workers:
            state.worker.send_reset(self._take_outgoing(state))
        for state in self._workers:
            self._handle_output(state, state.worker.receive())
        self._was_reset = True
        self._merged.clear()

    def get_steps(self, behavior_name: str) -> Steps:
        merged = self._merged.get(behavior_name)
        if merged is None:
            if behavior_name not in self._specs:
                raise EnvError(
                    f"the environment has no behavior {behavior_name!r}; it has "
                    + (", ".join(sorted(self._specs)) or "none yet (reset it first)")
                )
            merged = self._merge(behavior_name)
            self._merged[behavior_name] = merged
        return merged

    def set_actions(self, behavior_name: str, actions: ActionTuple) -> None:
        expected = len(self.get_steps(behavior_name)[0])
        if len(actions) != expected:
            raise EnvError(
                f"set_actions({behavior_name!r}): {len(actions)} actions for {expected} agents"
            )
        self._actions[behavior_name] = actions

    def step(self) -> None:
        self._check_open()
        self._broadcast_parameters()
        failed: dict[int, WorkerFailure] = {}
        offsets = dict.fromkeys(self._specs, 0)
        for index, state in enumerate(self._workers):
            message = step_message()
            rl_input = message.unity_input.rl_input
            for name, qualified in self._qualified_ids(state):
                n = len(state.steps[qualified][0])
                if not n:
                    continue
                spec = self._specs[name].action_spec
                actions = self._actions.get(name)
                start = offsets[name]
                if actions is None:
                    rows = spec.empty(n)
                else:
                    rows = ActionTuple(
                        actions.continuous[start : start + n], actions.discrete[start : start + n]
                    )
                offsets[name] = start + n
                rl_input.agent_actions[qualified].value.extend(actions_to_proto(rows, spec))
            rl_input.side_channel = self._take_outgoing(state)
            try:
                state.worker.send_step(message)
            except WorkerFailure as err:
                failed[index] = err
        for index, state in enumerate(self._workers):
            if index in failed:
                continue
            try:
                output = state.worker.receive()
            except WorkerFailure as err:
                failed[index] = err
                continue
            self._handle_output(state, output)
        for index, err in failed.items():
            self._restart(index, err)
        self._actions.clear()
        self._merged.clear()

    def take_stats(self) -> list[EnvironmentStat]:
        stats, self._stats = self._stats, []
        return stats

    def take_dropped_agents(self) -> dict[str, np.ndarray]:
        dropped = {name: np.concatenate(ids) for name, ids in self._dropped.items() if ids}
        self._dropped.clear()
        return dropped

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for state in self._workers:
            try:
                state.worker.close()
            except Exception as err:  # closing the others matters more
                logger.warning("%s: error while closing: %s", state.worker.where, err)

    # ------------------------------------------------------------------ outputs
    def _qualified_ids(self, state: _WorkerState) -> list[tuple[str, str]]:
        """(behavior name, qualified id) of the worker's latest steps, in batch order: workers
        in order, and within a worker the behavior's ids by team."""
        return [
            (name, qualified)
            for name, ids in self._ids.items()
            for qualified in ids
            if qualified in state.steps
        ]

    def _handle_output(self, state: _WorkerState, output: UnityOutputProto) -> None:
        where = state.worker.where
        if output.HasField("rl_initialization_output"):
            for brain in output.rl_initialization_output.brain_parameters:
                parse_behavior_id(brain.brain_name)  # a malformed id is refused here
                self._brains[brain.brain_name] = brain
        rl_output = output.rl_output
        if rl_output.side_channel:
            for stat in read_incoming(rl_output.side_channel, where, self._warned_channels):
                self._stats.append(EnvironmentStat(stat.key, stat.value, stat.aggregation))
        incarnation = len(state.restarts) * len(self._workers) + state.worker.worker_id
        offset = incarnation * AGENT_ID_STRIDE
        steps: dict[str, Steps] = {}
        for qualified, agent_infos in rl_output.agentInfos.items():
            infos = list(agent_infos.value)
            if not infos:
                continue
            name = parse_behavior_id(qualified).name
            spec = self._specs.get(name)
            brain = self._brains.get(qualified)
            if brain is not None and qualified not in state.known_agents:
                announced = behavior_spec_from_proto(brain, infos[0], where)
                spec = self._register(name, qualified, announced, spec, where)
            if spec is None or qualified not in self._ids.get(name, ()):
                raise EnvError(
                    f"{where}: the environment sent agents of behavior {qualified!r} without "
                    "announcing its brain parameters"
                )
            decision, terminal = steps_from_proto(
                infos, spec, f"{where}, behavior {qualified!r}", offset
            )
            steps[qualified] = (decision, terminal)
            self._remember_agents(state, qualified, decision.agent_id, terminal.agent_id)
        state.steps = steps

    def _register(
        self,
        name: str,
        qualified: str,
        announced: BehaviorSpec,
        spec: BehaviorSpec | None,
        where: str,
    ) -> BehaviorSpec:
        """Record the spec a build announced for ``qualified``; returns the behavior's spec."""
        if spec is None:
            if self._was_reset:
                logger.warning(
                    "%s: behavior %r appeared after the start of training; its agents get zero "
                    "actions.",
                    where,
                    name,
                )
            self._specs[name] = announced
            self._ids[name] = [qualified]
            return announced
        if announced != spec:
            known = self._ids[name]
            if qualified in known:
                raise EnvError(
                    f"{where}: behavior {qualified!r} changed its spec mid-run: it was {spec}, "
                    f"now {announced}"
                )
            raise EnvError(
                f"{where}: behavior {qualified!r} has the spec {announced}, but "
                f"{known[0]!r} of the same behavior has {spec}; the teams of one behavior are "
                "trained with one policy and must observe and act alike"
            )
        ids = self._ids[name]
        if qualified not in ids:
            # By team: the batch order must not depend on the order of the message's map.
            ids.append(qualified)
            ids.sort(key=lambda i: (parse_behavior_id(i).team_id, i))
        return spec

    def _remember_agents(
        self, state: _WorkerState, qualified: str, ids: np.ndarray, finished: np.ndarray
    ) -> None:
        """Keep the worker's live agents (dropped if it restarts). A build gives an agent a new
        id for every episode, so the ids of finished episodes are let go."""
        known = state.known_agents.setdefault(qualified, set())
        if len(finished):
            known.difference_update(finished.tolist())
            state.last_ids.pop(qualified, None)
        last = state.last_ids.get(qualified)
        if last is not None and np.array_equal(last, ids):
            return
        state.last_ids[qualified] = ids
        known.update(ids.tolist())

    def _merge(self, name: str) -> Steps:
        spec = self._specs[name]
        parts = [
            state.steps[qualified]
            for state in self._workers
            for qualified in self._ids[name]
            if qualified in state.steps
        ]
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return _empty_steps(spec)
        decisions = [p[0] for p in parts]
        terminals = [p[1] for p in parts]
        mask = None
        if any(d.action_mask is not None for d in decisions):
            width = sum(spec.action_spec.discrete_branches)
            mask = np.concatenate(
                [
                    d.action_mask if d.action_mask is not None else np.zeros((len(d), width), bool)
                    for d in decisions
                ]
            )
        decision = DecisionSteps(
            [np.concatenate(o) for o in zip(*(d.obs for d in decisions), strict=True)],
            np.concatenate([d.reward for d in decisions]),
            np.concatenate([d.agent_id for d in decisions]),
            mask,
            group_id=np.concatenate([d.group_id for d in decisions]),
            group_reward=np.concatenate([d.group_reward for d in decisions]),
        )
        terminal = TerminalSteps(
            [np.concatenate(o) for o in zip(*(t.obs for t in terminals), strict=True)],
            np.concatenate([t.reward for t in terminals]),
            np.concatenate([t.interrupted for t in terminals]),
            np.concatenate([t.agent_id for t in terminals]),
            group_id=np.concatenate([t.group_id for t in terminals]),
            group_reward=np.concatenate([t.group_reward for t in terminals]),
        )
        return decision, terminal

    # ------------------------------------------------------------------ side channels
    def _initial_channel_messages(self) -> list[tuple[uuid.UUID, bytes]]:
        messages = []
        if self._engine is not None:
            messages += [
                (ENGINE_CONFIGURATION, m) for m in engine_configuration_messages(self._engine)
            ]
        messages += [(ENVIRONMENT_PARAMETERS, m) for m in self._parameter_history.values()]
        return messages

    def _broadcast_parameters(self) -> None:
        for key, payload in self._parameters.take():
            self._parameter_history[key] = payload
            for state in self._workers:
                state.outgoing.append((ENVIRONMENT_PARAMETERS, payload))

    @staticmethod
    def _take_outgoing(state: _WorkerState) -> bytes:
        data, state.outgoing = frame(state.outgoing), []
        return data

    # ------------------------------------------------------------------ failures
    def _restart(self, index: int, failure: WorkerFailure) -> None:
        """Replace worker ``index`` after ``failure`` (see the module docstring).

        Raises:
            WorkerFailure: restarts are off (the Editor).
            EnvError: the restart policy refuses, or the new worker does not come up.
            StopRequested: a stop was requested: no new environment is started or waited for.
        """
        state = self._workers[index]
        if self._policy is None:
            raise failure
        if stop_requested():
            raise StopRequested(f"{failure}; not restarting it: the run is stopping")
        now = time.monotonic()
        refusal = self._policy.refusal(state.restarts, now)
        if refusal is not None:
            raise EnvError(f"{failure}; not restarting worker {index}: {refusal}") from failure
        state.restarts.append(now)
        logger.warning(
            "%s failed: %s. Restarting it (restart %d); its unfinished trajectories are dropped.",
            state.worker.where,
            _after_colon(str(failure), state.worker.where),
            len(state.restarts),
        )
        state.worker.kill()
        for qualified, ids in state.known_agents.items():
            name = parse_behavior_id(qualified).name
            self._dropped.setdefault(name, []).append(np.fromiter(ids, np.int64, len(ids)))
        state.known_agents.clear()
        state.last_ids.clear()
        state.steps = {}
        worker = self._make_worker(index)
        state.worker = worker
        try:
            worker.listen(self._waiting_message)
            self._handle_output(state, worker.handshake())
            state.outgoing = self._initial_channel_messages()
            worker.send_reset(self._take_outgoing(state))
            self._handle_output(state, worker.receive())
        except EnvError as err:
            raise EnvError(f"could not restart worker {index}: {err}") from err
        logger.info("%s restarted.", worker.where)

    def _check_open(self) -> None:
        if self._closed:
            raise EnvError("the Unity environment is closed")


def _after_colon(message: str, prefix: str) -> str:
    return message[len(prefix) + 2 :] if message.startswith(prefix + ": ") else message


def _empty_steps(spec: BehaviorSpec) -> Steps:
    obs = [np.zeros((0, *o.shape), dtype=np.float32) for o in spec.observation_specs]
    empty_ids = np.zeros(0, dtype=np.int64)
    empty_rewards = np.zeros(0, dtype=np.float32)
    return (
        DecisionSteps(obs, empty_rewards, empty_ids, None, empty_ids, empty_rewards),
        TerminalSteps(
            [o.copy() for o in obs], empty_rewards, np.zeros(0, bool), empty_ids,
            empty_ids, empty_rewards,
        ),
    )  # fmt: skip
