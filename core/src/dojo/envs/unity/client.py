"""The environment side of the protocol: serve any dojo environment to a waiting trainer.

:class:`EnvironmentClient` does what a Unity player built with ML-Agents does: it connects to
the trainer's gRPC server, sends the handshake, and then answers every reset or step input with
the agents' observations, rewards and episode ends. Any :class:`~dojo.envs.base.Environment`
works (``gymnasium:CartPole-v1``, ``pettingzoo:...``, a simulator with its own adapter), so
non-Unity simulators and other machines can be training workers for ``mlagents-learn``.
The command line is :mod:`dojo.envs.serve`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import grpc
import numpy as np

from dojo.envs.base import BehaviorSpec, DecisionSteps, Environment, TerminalSteps
from dojo.envs.unity.communicator_objects.agent_info_pb2 import AgentInfoProto
from dojo.envs.unity.communicator_objects.brain_parameters_pb2 import BrainParametersProto
from dojo.envs.unity.communicator_objects.command_pb2 import QUIT, RESET
from dojo.envs.unity.communicator_objects.observation_pb2 import ObservationProto
from dojo.envs.unity.communicator_objects.unity_input_pb2 import UnityInputProto
from dojo.envs.unity.communicator_objects.unity_message_pb2 import UnityMessageProto
from dojo.envs.unity.communicator_objects.unity_output_pb2 import UnityOutputProto
from dojo.envs.unity.decoding import actions_from_proto
from dojo.envs.unity.server import MAX_MESSAGE_BYTES, SERVICE
from dojo.envs.unity.side_channels import (
    ENVIRONMENT_PARAMETERS,
    STATS,
    MessageReader,
    StatsMessage,
    frame,
    unframe,
    write_stats,
)
from dojo.envs.unity.worker import API_VERSION, dojo_capabilities
from dojo.errors import EnvError

logger = logging.getLogger("dojo")


class EnvironmentClient:
    """Serves ``make_env(seed)`` to the trainer listening at ``host:port``.

    Args:
        make_env: builds the environment once the trainer sent its seed in the handshake.
        host: the trainer's address.
        port: the trainer's port for this worker (``--base-port + worker id``).
        connect_timeout: seconds to keep trying to reach the trainer.
        name: the environment's name in the handshake.
    """

    def __init__(
        self,
        make_env: Callable[[int], Environment],
        host: str = "127.0.0.1",
        port: int = 5005,
        connect_timeout: float = 60.0,
        name: str = "dojo",
    ) -> None:
        self.make_env = make_env
        self.address = f"{host}:{port}"
        self.connect_timeout = connect_timeout
        self.name = name
        self.env: Environment | None = None
        self.steps_served = 0
        self._announced: set[str] = set()
        self._channel: grpc.Channel | None = None
        self._exchange: Callable[..., bytes] | None = None

    def run(self) -> None:
        """Handshake, then answer the trainer until it closes the connection.

        Raises:
            EnvError: the trainer cannot be reached, rejects the handshake or goes away.
        """
        self._connect()
        try:
            reply = self._call(self._handshake())
            seed = reply.unity_input.rl_initialization_input.seed
            self.env = self.make_env(seed)
            reply = self._call(_message(UnityOutputProto()))
            while reply is not None:
                reply = self._call(self._answer(reply.unity_input))
        finally:
            if self.env is not None:
                self.env.close()
            if self._channel is not None:
                self._channel.close()

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

    def _call(self, message: UnityMessageProto) -> UnityMessageProto | None:
        """One Exchange; ``None`` when the trainer closed the connection (status 400)."""
        assert self._exchange is not None
        try:
            data = self._exchange(message.SerializeToString())
        except grpc.RpcError as err:
            raise EnvError(
                f"the trainer at {self.address} went away: {err.code().name} {err.details()}"
            ) from err
        reply = UnityMessageProto()
        reply.ParseFromString(data)
        if reply.header.status != 200:
            return None
        return reply

    # ------------------------------------------------------------------ messages
    def _handshake(self) -> UnityMessageProto:
        output = UnityOutputProto()
        init = output.rl_initialization_output
        init.name = self.name
        init.communication_version = API_VERSION
        from dojo import __version__

        init.package_version = __version__
        init.capabilities.CopyFrom(dojo_capabilities())
        return _message(output)

    def _answer(self, unity_input: UnityInputProto) -> UnityMessageProto:
        env = self.env
        assert env is not None
        rl_input = unity_input.rl_input
        if rl_input.command == QUIT:
            raise EnvError("the trainer asked to quit")
        self._apply_side_channel(rl_input.side_channel)
        if rl_input.command == RESET:
            env.reset()
        else:
            for name, actions in rl_input.agent_actions.items():
                if name in env.behavior_specs and len(actions.value):
                    spec = env.behavior_specs[name].action_spec
                    env.set_actions(name, actions_from_proto(actions.value, spec))
            env.step()
            self.steps_served += 1
        output = UnityOutputProto()
        for name, spec in env.behavior_specs.items():
            decision, terminal = env.get_steps(name)
            infos = output.rl_output.agentInfos[name].value
            infos.extend(agent_infos(decision, terminal))
            if name not in self._announced and len(infos):
                self._announced.add(name)
                output.rl_initialization_output.brain_parameters.append(
                    brain_parameters(name, spec)
                )
        records = [
            (STATS, write_stats(StatsMessage(s.key, s.value, s.aggregation)))
            for s in env.take_stats()
        ]
        output.rl_output.side_channel = frame(records)
        return _message(output)

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
        if values and self.env is not None:
            self.env.set_environment_parameters(values)


def _message(output: UnityOutputProto) -> UnityMessageProto:
    message = UnityMessageProto()
    message.header.status = 200
    message.unity_output.CopyFrom(output)
    return message


def brain_parameters(name: str, spec: BehaviorSpec) -> BrainParametersProto:
    """The brain parameters announcing behavior ``name``."""
    brain = BrainParametersProto(brain_name=name, is_training=True)
    action = spec.action_spec
    brain.action_spec.num_continuous_actions = action.continuous_size
    brain.action_spec.num_discrete_actions = action.discrete_size
    brain.action_spec.discrete_branch_sizes.extend(action.discrete_branches)
    return brain


def agent_infos(decision: DecisionSteps, terminal: TerminalSteps) -> list[AgentInfoProto]:
    """Terminal agents (``done``) first, then the agents requesting a decision."""
    infos = []
    for row in range(len(terminal)):
        infos.append(
            AgentInfoProto(
                reward=float(terminal.reward[row]),
                done=True,
                max_step_reached=bool(terminal.interrupted[row]),
                id=int(terminal.agent_id[row]),
                observations=[_observation(o[row]) for o in terminal.obs],
            )
        )
    for row in range(len(decision)):
        info = AgentInfoProto(
            reward=float(decision.reward[row]),
            id=int(decision.agent_id[row]),
            observations=[_observation(o[row]) for o in decision.obs],
        )
        if decision.action_mask is not None:
            info.action_mask.extend(decision.action_mask[row].tolist())
        infos.append(info)
    return infos


def _observation(values: np.ndarray) -> ObservationProto:
    array = np.asarray(values, dtype=np.float32)
    proto = ObservationProto(shape=array.shape)
    proto.float_data.data.extend(array.ravel().tolist())
    return proto
