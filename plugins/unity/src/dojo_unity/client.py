"""The environment side of the protocol: serve any dojo environment to a waiting trainer.

:class:`EnvironmentClient` does what a Unity player built with ML-Agents does: it connects to
the trainer's gRPC server, sends the handshake, and then answers every reset or step input with
the agents' observations, rewards and episode ends. Any :class:`~dojo.envs.base.Environment`
works (``gymnasium:CartPole-v1``, ``pettingzoo:...``, a simulator with its own adapter), so
non-Unity simulators and other machines can be training workers for ``mlagents-learn``.
The command line is :mod:`dojo_unity.serve`.

What goes over the wire follows a build of the ML-Agents Unity package (3.x, API 1.5.0) field by
field, so that every protocol test runs against what real builds send:

- the handshake names the environment ``AcademySingleton`` with the package version and every
  capability set, as an Academy does; the message after the trainer's reply is a bare header
  (status 200, no output), as the communicator's ``WrapMessage(null, 200)``;
- behaviors are named by fully qualified id, ``<BehaviorName>?team=<TeamId>``
  (:mod:`dojo.envs.behavior_ids`), in ``brain_name`` and as the ``agentInfos`` keys;
- an agent gets a new id for every episode, from one counter for the whole build (Unity sends
  ``AgentInfo.episodeId``, not a fixed agent number): trainers must let finished ids go;
- every agent info carries the agent's ``group_id`` and ``group_reward`` (0 without a group);
- brain parameters carry the action spec, plus the deprecated action fields only for a trainer
  without hybrid-action support (as ``ToBrainParametersProto``; such a trainer cannot take a
  behavior with both kinds of actions);
- observations carry the sensor's name (the spec's name, else ``VectorSensor_size<n>`` for a
  vector, the name of an agent's built-in vector sensor), their dimension properties (``NONE``
  for a vector, ``NONE, NONE`` for a fixed-size 2-D buffer, ``NONE, TRANSLATIONAL_EQUIVARIANCE,
  TRANSLATIONAL_EQUIVARIANCE`` for a channel-first image) and observation type ``DEFAULT``;
- terminal agents (``done``) and agents requesting a decision share one list per behavior;
- the player stops when the trainer closes the connection (status 400) or sends ``QUIT``; a
  player that stops on its own (its environment failed) first sends status 400 with no output,
  as the communicator's ``Dispose`` does, so the trainer hears that the environment closed the
  connection rather than a dropped call.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc
import numpy as np

from dojo.envs.base import BehaviorSpec, DecisionSteps, Environment, TerminalSteps
from dojo.envs.behavior_ids import qualified_behavior_id
from dojo.errors import EnvError
from dojo_unity.communicator_objects.agent_info_pb2 import AgentInfoProto
from dojo_unity.communicator_objects.brain_parameters_pb2 import BrainParametersProto
from dojo_unity.communicator_objects.command_pb2 import QUIT, RESET
from dojo_unity.communicator_objects.observation_pb2 import NONE, ObservationProto
from dojo_unity.communicator_objects.space_type_pb2 import continuous, discrete
from dojo_unity.communicator_objects.unity_input_pb2 import UnityInputProto
from dojo_unity.communicator_objects.unity_message_pb2 import UnityMessageProto
from dojo_unity.communicator_objects.unity_output_pb2 import UnityOutputProto
from dojo_unity.communicator_objects.unity_rl_initialization_input_pb2 import (
    UnityRLInitializationInputProto,
)
from dojo_unity.decoding import actions_from_proto
from dojo_unity.server import MAX_MESSAGE_BYTES, SERVICE
from dojo_unity.side_channels import (
    ENVIRONMENT_PARAMETERS,
    STATS,
    MessageReader,
    StatsMessage,
    frame,
    unframe,
    write_stats,
)
from dojo_unity.worker import API_VERSION, all_capabilities

logger = logging.getLogger("dojo")

#: What an ML-Agents Unity package's Academy puts in its handshake.
ACADEMY_NAME = "AcademySingleton"
#: The Unity package release that speaks communicator API 1.5.0 (:data:`API_VERSION`).
UNITY_PACKAGE_VERSION = "3.0.0"
#: Seconds the goodbye (status 400) of a player that stops on its own may wait for the trainer.
GOODBYE_TIMEOUT_S = 3.0

# ObservationProto.dimension_properties values (DimensionPropertyProto in the Unity package).
_DIMENSION_NONE = 1
_TRANSLATIONAL_EQUIVARIANCE = 2
_DIMENSION_PROPERTIES = {
    1: (_DIMENSION_NONE,),
    2: (_DIMENSION_NONE, _DIMENSION_NONE),  # a fixed-size buffer (VARIABLE_SIZE: a BufferSensor)
    3: (_DIMENSION_NONE, _TRANSLATIONAL_EQUIVARIANCE, _TRANSLATIONAL_EQUIVARIANCE),
}


@dataclass(frozen=True)
class ServedEnvironment:
    """One environment a player serves, and the team its behaviors are on.

    Attributes:
        make_env: builds the environment from the seed the trainer sent in the handshake.
        team_id: the team of every behavior of this environment (``?team=`` of its ids).
    """

    make_env: Callable[[int], Environment]
    team_id: int = 0


class EpisodeIds:
    """Agent ids as a Unity build sends them: a new id for every episode of every agent, from
    one counter shared by all behaviors (an environment's own agent ids may repeat)."""

    def __init__(self) -> None:
        self._counter = 0
        self._current: dict[tuple[str, int], int] = {}

    def _new(self) -> int:
        self._counter += 1
        return self._counter

    def ended(self, behavior: str, agent_ids: np.ndarray) -> list[int]:
        """Ids of agents whose episode ended; their next step starts a new episode."""
        current = self._current
        return [current.pop((behavior, a), None) or self._new() for a in agent_ids.tolist()]

    def deciding(self, behavior: str, agent_ids: np.ndarray) -> list[int]:
        """Ids of agents requesting a decision (a new id for an agent's first step)."""
        current = self._current
        ids = []
        for agent in agent_ids.tolist():
            key = (behavior, agent)
            episode = current.get(key)
            if episode is None:
                episode = current[key] = self._new()
            ids.append(episode)
        return ids


class EnvironmentClient:
    """Serves environments to the trainer listening at ``host:port``, as one Unity build.

    Args:
        environments: what to serve; the behaviors of all of them form the build's behaviors
            (two environments with the same behavior name need different teams).
        host: the trainer's address.
        port: the trainer's port for this worker (``--base-port + worker id``).
        connect_timeout: seconds to keep trying to reach the trainer.
    """

    def __init__(
        self,
        environments: Sequence[ServedEnvironment],
        host: str = "127.0.0.1",
        port: int = 5005,
        connect_timeout: float = 60.0,
    ) -> None:
        if not environments:
            raise ValueError("EnvironmentClient needs at least one environment")
        self.environments = tuple(environments)
        self.address = f"{host}:{port}"
        self.connect_timeout = connect_timeout
        self.envs: list[Environment] = []
        self.steps_served = 0
        self._routes: dict[str, tuple[Environment, str]] = {}
        self._announced: set[str] = set()
        self._episode_ids = EpisodeIds()
        self._trainer_has_hybrid_actions = True
        self._channel: grpc.Channel | None = None
        self._exchange: Callable[..., bytes] | None = None
        self._connected = False

    def run(self) -> None:
        """Handshake, then answer the trainer until it closes the connection or says ``QUIT``.

        When the player stops on its own (an environment fails, an interrupt), it says goodbye
        first: see :meth:`_say_goodbye`.

        Raises:
            EnvError: the trainer cannot be reached, rejects the handshake or goes away, or a
                behavior cannot be sent to this trainer.
        """
        self._connect()
        try:
            reply = self._call(self._handshake())
            if reply is not None:
                self._start(reply.unity_input.rl_initialization_input)
                reply = self._call(wrap_message(None))
            while reply is not None and reply.unity_input.rl_input.command != QUIT:
                reply = self._call(self._answer(reply.unity_input))
            if reply is not None:  # QUIT: a build quits and shuts its channel, without a goodbye
                self._connected = False
                logger.info("The trainer asked the environment to quit.")
        except BaseException:
            self._say_goodbye()
            raise
        finally:
            for env in self.envs:
                env.close()
            if self._channel is not None:
                self._channel.close()

    def _start(self, init: UnityRLInitializationInputProto) -> None:
        """Build the environments from the trainer's handshake reply and note what it supports."""
        self._trainer_has_hybrid_actions = init.capabilities.hybridActions
        for served in self.environments:
            self.envs.append(served.make_env(init.seed))

    # ------------------------------------------------------------------ transport
    def _connect(self) -> None:
        self._channel = grpc.insecure_channel(
            self.address,
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        try:
            grpc.channel_ready_future(self._channel).result(timeout=self.connect_timeout)
        except grpc.FutureTimeoutError as err:
            raise EnvError(
                f"no trainer is listening at {self.address} (waited {self.connect_timeout:g} s)"
            ) from err
        self._exchange = self._channel.unary_unary(f"/{SERVICE}/Exchange")
        self._connected = True

    def _call(self, message: UnityMessageProto) -> UnityMessageProto | None:
        """One Exchange; ``None`` when the trainer closed the connection (status 400)."""
        assert self._exchange is not None
        try:
            data = self._exchange(message.SerializeToString())
        except grpc.RpcError as err:
            self._connected = False
            if err.code() == grpc.StatusCode.FAILED_PRECONDITION:  # the trainer's refusal
                raise EnvError(
                    f"the trainer at {self.address} refused the connection: {err.details()}"
                ) from err
            raise EnvError(
                f"the trainer at {self.address} went away: {err.code().name} {err.details()}"
            ) from err
        reply = UnityMessageProto()
        reply.ParseFromString(data)
        if reply.header.status != 200:
            self._connected = False
            return None
        return reply

    def _say_goodbye(self) -> None:
        """Status 400 and no output, as the communicator's ``Dispose`` sends when a build quits:
        the trainer hears that the environment closed the connection, not a dropped call.

        Best effort and short (:data:`GOODBYE_TIMEOUT_S`): skipped when the trainer closed the
        connection or went away, and any error is ignored, as a build ignores it.
        """
        if not self._connected or self._exchange is None:
            return
        self._connected = False
        goodbye = wrap_message(None, status=400).SerializeToString()
        with contextlib.suppress(grpc.RpcError):
            self._exchange(goodbye, timeout=GOODBYE_TIMEOUT_S)

    # ------------------------------------------------------------------ messages
    def _handshake(self) -> UnityMessageProto:
        output = UnityOutputProto()
        init = output.rl_initialization_output
        init.name = ACADEMY_NAME
        init.communication_version = API_VERSION
        init.package_version = UNITY_PACKAGE_VERSION
        init.capabilities.CopyFrom(all_capabilities())
        return wrap_message(output)

    def _answer(self, unity_input: UnityInputProto) -> UnityMessageProto:
        """Apply a reset or step input; the agents' output after it."""
        rl_input = unity_input.rl_input
        self._apply_side_channel(rl_input.side_channel)
        if rl_input.command == RESET:
            for env in self.envs:
                env.reset()
            self._update_routes()
        else:
            for qualified, actions in rl_input.agent_actions.items():
                route = self._routes.get(qualified)
                if route is not None and len(actions.value):
                    env, name = route
                    spec = env.behavior_specs[name].action_spec
                    env.set_actions(name, actions_from_proto(actions.value, spec))
            for env in self.envs:
                env.step()
            self.steps_served += 1
        output = UnityOutputProto()
        for qualified, (env, name) in self._routes.items():
            spec = env.behavior_specs[name]
            decision, terminal = env.get_steps(name)
            infos = output.rl_output.agentInfos[qualified].value
            infos.extend(
                agent_infos(decision, terminal, qualified, self._episode_ids, sensor_names(spec))
            )
            if qualified not in self._announced and len(infos):
                self._announced.add(qualified)
                output.rl_initialization_output.brain_parameters.append(
                    brain_parameters(qualified, spec, self._trainer_has_hybrid_actions)
                )
        records = [
            (STATS, write_stats(StatsMessage(s.key, s.value, s.aggregation)))
            for env in self.envs
            for s in env.take_stats()
        ]
        output.rl_output.side_channel = frame(records)
        return wrap_message(output)

    def _update_routes(self) -> None:
        """Fully qualified id -> (environment, behavior name), after a reset.

        Raises:
            EnvError: two environments serve the same behavior on the same team.
        """
        routes: dict[str, tuple[Environment, str]] = {}
        for served, env in zip(self.environments, self.envs, strict=True):
            for name in env.behavior_specs:
                qualified = qualified_behavior_id(name, served.team_id)
                if qualified in routes:
                    raise EnvError(
                        f"two environments serve behavior {qualified!r}: give one of them "
                        "another team"
                    )
                routes[qualified] = (env, name)
        self._routes = routes

    def _apply_side_channel(self, data: bytes) -> None:
        """Environment parameters (float values) go to the environment; the rest is ignored
        (engine settings mean nothing outside Unity)."""
        if not data:
            return
        values: dict[str, float] = {}
        for channel, payload in unframe(data, f"trainer at {self.address}"):
            if channel != ENVIRONMENT_PARAMETERS:
                continue
            reader = MessageReader(payload, "environment parameters")
            key, kind = reader.string(), reader.int32()
            if kind == 0:
                values[key] = reader.float32()
            else:
                logger.warning("Environment parameter %r: samplers are not supported here.", key)
        if values:
            for env in self.envs:
                env.set_environment_parameters(values)


def wrap_message(output: UnityOutputProto | None, status: int = 200) -> UnityMessageProto:
    """The communicator's ``WrapMessage``: a header with ``status``, and ``output`` unless it
    is ``None`` (then the message has no ``unity_output`` field at all)."""
    message = UnityMessageProto()
    message.header.status = status
    if output is not None:
        message.unity_output.CopyFrom(output)
    return message


def brain_parameters(
    qualified: str, spec: BehaviorSpec, trainer_has_hybrid_actions: bool = True
) -> BrainParametersProto:
    """The brain parameters announcing behavior ``qualified`` (``Name?team=N``), filled as the
    Unity package's ``ToBrainParametersProto`` fills them.

    Args:
        qualified: the behavior's fully qualified id.
        spec: the behavior's spec.
        trainer_has_hybrid_actions: the ``hybridActions`` capability of the trainer's handshake
            reply; without it (a trainer older than API 1.3.0) the deprecated action fields are
            filled too, and the trainer can only take actions of one kind.

    Raises:
        EnvError: the behavior has both continuous and discrete actions and the trainer does not
            support hybrid actions.
    """
    brain = BrainParametersProto(brain_name=qualified, is_training=True)
    action = spec.action_spec
    brain.action_spec.num_continuous_actions = action.continuous_size
    brain.action_spec.num_discrete_actions = action.discrete_size
    brain.action_spec.discrete_branch_sizes.extend(action.discrete_branches)
    if trainer_has_hybrid_actions:
        return brain
    if action.continuous_size and action.discrete_size:
        raise EnvError(
            f"behavior {qualified!r} has {action.continuous_size} continuous actions and "
            f"{action.discrete_size} discrete branches, but the trainer does not support hybrid "
            "actions (it lacks the hybridActions capability of communicator API 1.3.0): train "
            "it with a newer trainer, or give it actions of one kind"
        )
    if action.continuous_size:
        brain.vector_action_size_deprecated.append(action.continuous_size)
        brain.vector_action_space_type_deprecated = continuous
    elif action.discrete_size:
        brain.vector_action_size_deprecated.extend(action.discrete_branches)
        brain.vector_action_space_type_deprecated = discrete
    return brain


def sensor_names(spec: BehaviorSpec) -> list[str]:
    """The name each observation is sent under, as a build's sensors name themselves: the
    spec's name, else ``VectorSensor_size<n>`` for a vector (an agent's built-in vector sensor),
    else none."""
    return [
        obs.name or (f"VectorSensor_size{obs.shape[0]}" if len(obs.shape) == 1 else "")
        for obs in spec.observation_specs
    ]


def agent_infos(
    decision: DecisionSteps,
    terminal: TerminalSteps,
    qualified: str,
    episode_ids: EpisodeIds,
    names: Sequence[str],
) -> list[AgentInfoProto]:
    """Terminal agents (``done``) first, then the agents requesting a decision, with the ids
    of their episodes (an agent that ended and restarted in this step has two), their groups,
    and their observations named ``names`` (:func:`sensor_names`)."""
    infos = []
    ended = episode_ids.ended(qualified, terminal.agent_id)
    group_ids, group_rewards = _groups(terminal)
    for row in range(len(terminal)):
        infos.append(
            AgentInfoProto(
                reward=float(terminal.reward[row]),
                done=True,
                max_step_reached=bool(terminal.interrupted[row]),
                id=ended[row],
                observations=_observations(terminal.obs, row, names),
                group_id=group_ids[row],
                group_reward=group_rewards[row],
            )
        )
    deciding = episode_ids.deciding(qualified, decision.agent_id)
    group_ids, group_rewards = _groups(decision)
    for row in range(len(decision)):
        info = AgentInfoProto(
            reward=float(decision.reward[row]),
            id=deciding[row],
            observations=_observations(decision.obs, row, names),
            group_id=group_ids[row],
            group_reward=group_rewards[row],
        )
        if decision.action_mask is not None:
            info.action_mask.extend(decision.action_mask[row].tolist())
        infos.append(info)
    return infos


def _groups(steps: DecisionSteps | TerminalSteps) -> tuple[list[int], list[float]]:
    """Each agent's group id and group reward (0 and 0.0 when the environment has no groups)."""
    n = len(steps)
    group_ids = [0] * n if steps.group_id is None else [int(g) for g in steps.group_id]
    group_rewards = (
        [0.0] * n if steps.group_reward is None else [float(r) for r in steps.group_reward]
    )
    return group_ids, group_rewards


def _observations(
    batches: Sequence[np.ndarray], row: int, names: Sequence[str]
) -> list[ObservationProto]:
    """The observations of the agent in ``row``, one per sensor."""
    return [_observation(batch[row], name) for batch, name in zip(batches, names, strict=True)]


def _observation(values: np.ndarray, name: str) -> ObservationProto:
    array = np.asarray(values, dtype=np.float32)
    proto = ObservationProto(
        shape=array.shape,
        compression_type=NONE,
        dimension_properties=_DIMENSION_PROPERTIES.get(array.ndim, ()),
        name=name,
    )
    proto.float_data.data.extend(array.ravel().tolist())
    return proto
