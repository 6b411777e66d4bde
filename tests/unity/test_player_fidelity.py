"""dojo's player (:mod:`dojo_unity.client`) sends what a build of the ML-Agents Unity package
(3.x, API 1.5.0) sends, field by field: the player runs against a trainer's gRPC server that
records the bytes of every message, and the fields are read from those bytes."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent import futures

import grpc
import numpy as np
import pytest

from dojo.envs.base import (
    ActionSpec,
    ActionTuple,
    BehaviorSpec,
    DecisionSteps,
    Environment,
    ObservationSpec,
    TerminalSteps,
)
from dojo.errors import EnvError
from dojo_unity.client import (
    EnvironmentClient,
    EpisodeIds,
    ServedEnvironment,
    agent_infos,
    brain_parameters,
    sensor_names,
)
from dojo_unity.communicator_objects.command_pb2 import QUIT, RESET, STEP
from dojo_unity.communicator_objects.unity_message_pb2 import UnityMessageProto
from dojo_unity.decoding import behavior_spec_from_proto, steps_from_proto
from dojo_unity.server import SERVICE, ExchangeServer, WorkerFailure
from dojo_unity.worker import dojo_capabilities

# UnityMessageProto{header{status}} and nothing else, as the communicator's WrapMessage(null, s).
HEADER_ONLY_200 = b"\x0a\x03\x08\xc8\x01"
HEADER_ONLY_400 = b"\x0a\x03\x08\x90\x03"

SPEC = BehaviorSpec(
    (
        ObservationSpec((3,)),
        ObservationSpec((2,), "goal"),
        ObservationSpec((4, 5)),
        ObservationSpec((1, 4, 4), "camera"),
    ),
    ActionSpec(1, (3,)),
)


class ScriptedEnvironment(Environment):
    """Behavior ``Ball``: two agents in groups 1 and 2 observing zeros, never done."""

    def __init__(self, spec: BehaviorSpec = SPEC, fail_on_step: bool = False) -> None:
        self.spec = spec
        self.fail_on_step = fail_on_step
        self.closed = False

    @property
    def behavior_specs(self) -> Mapping[str, BehaviorSpec]:
        return {"Ball": self.spec}

    def reset(self) -> None:
        pass

    def get_steps(self, behavior_name: str) -> tuple[DecisionSteps, TerminalSteps]:
        shapes = [o.shape for o in self.spec.observation_specs]
        decision = DecisionSteps(
            [np.zeros((2, *s), np.float32) for s in shapes],
            np.zeros(2, np.float32),
            np.array([0, 1]),
            group_id=np.array([1, 2]),
            group_reward=np.array([0.5, -1.0], np.float32),
        )
        terminal = TerminalSteps(
            [np.zeros((0, *s), np.float32) for s in shapes],
            np.zeros(0, np.float32),
            np.zeros(0, bool),
            np.zeros(0, np.int64),
        )
        return decision, terminal

    def set_actions(self, behavior_name: str, actions: ActionTuple) -> None:
        pass

    def step(self) -> None:
        if self.fail_on_step:
            raise EnvError("the simulator crashed")

    def close(self) -> None:
        self.closed = True


def handshake_reply(hybrid_actions: bool = True) -> UnityMessageProto:
    """dojo's trainer's answer to the handshake (with ``hybridActions`` switched if asked)."""
    message = UnityMessageProto()
    message.header.status = 200
    init = message.unity_input.rl_initialization_input
    init.seed = 7
    init.communication_version = "1.5.0"
    init.capabilities.CopyFrom(dojo_capabilities())
    init.capabilities.hybridActions = hybrid_actions
    return message


def command(kind: int) -> UnityMessageProto:
    message = UnityMessageProto()
    message.header.status = 200
    message.unity_input.rl_input.command = kind
    return message


class RecordingTrainer:
    """A trainer's gRPC server that records the bytes of every message the player sends and
    answers with ``replies`` in turn, then closes the connection (status 400)."""

    def __init__(self, port: int, replies: list[UnityMessageProto]) -> None:
        self.received: list[bytes] = []
        self._replies = list(replies)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        handler = grpc.unary_unary_rpc_method_handler(self._exchange)
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, {"Exchange": handler}),)
        )
        self._server.add_insecure_port(f"127.0.0.1:{port}")

    def _exchange(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.received.append(request)
        if self._replies:
            return self._replies.pop(0).SerializeToString()
        closing = UnityMessageProto()
        closing.header.status = 400
        return closing.SerializeToString()

    def messages(self) -> list[UnityMessageProto]:
        return [UnityMessageProto.FromString(data) for data in self.received]

    def __enter__(self) -> RecordingTrainer:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None)


def client(port: int, env: Environment) -> EnvironmentClient:
    return EnvironmentClient([ServedEnvironment(lambda seed: env)], port=port, connect_timeout=10)


# ------------------------------------------------------------------ a whole conversation
def test_player_messages_field_by_field(port: int) -> None:
    env = ScriptedEnvironment()
    with RecordingTrainer(port, [handshake_reply(), command(RESET), command(STEP)]) as trainer:
        client(port, env).run()  # returns when the trainer closes the connection
    # handshake, the bare header after it, the reset's output, the step's output; no goodbye
    # after the trainer's close.
    assert len(trainer.received) == 4
    handshake, after_handshake, reset, step = trainer.messages()
    assert handshake.unity_output.rl_initialization_output.name == "AcademySingleton"
    assert trainer.received[1] == HEADER_ONLY_200
    assert not after_handshake.HasField("unity_output")

    brain = reset.unity_output.rl_initialization_output.brain_parameters[0]
    assert brain.brain_name == "Ball?team=0"
    # A trainer with hybrid actions (dojo's) gets no deprecated action fields.
    assert [f.name for f, _ in brain.ListFields()] == ["brain_name", "is_training", "action_spec"]
    infos = list(reset.unity_output.rl_output.agentInfos["Ball?team=0"].value)
    assert [(i.group_id, i.group_reward) for i in infos] == [(1, 0.5), (2, -1.0)]
    observations = infos[0].observations
    assert [o.name for o in observations] == ["VectorSensor_size3", "goal", "", "camera"]
    assert [list(o.dimension_properties) for o in observations] == [[1], [1], [1, 1], [1, 2, 2]]
    assert [o.observation_type for o in observations] == [0, 0, 0, 0]  # DEFAULT
    assert not step.unity_output.rl_initialization_output.brain_parameters  # announced once

    # dojo's trainer decodes it: names into the spec, groups into the steps.
    spec = behavior_spec_from_proto(brain, infos[0], "test")
    assert [(o.shape, o.name) for o in spec.observation_specs] == [
        ((3,), "VectorSensor_size3"),
        ((2,), "goal"),
        ((4, 5), ""),
        ((1, 4, 4), "camera"),
    ]
    assert spec.action_spec == SPEC.action_spec
    decision, _ = steps_from_proto(infos, spec, "test")
    assert decision.group_id.tolist() == [1, 2]
    assert decision.group_reward.tolist() == [0.5, -1.0]
    assert env.closed


def test_agents_without_a_group_send_group_zero() -> None:
    spec = BehaviorSpec((ObservationSpec((2,)),), ActionSpec(1))
    decision = DecisionSteps([np.zeros((1, 2), np.float32)], np.zeros(1, np.float32), np.ones(1))
    terminal = TerminalSteps(
        [np.zeros((1, 2), np.float32)], np.ones(1, np.float32), np.zeros(1, bool), np.zeros(1)
    )
    infos = agent_infos(decision, terminal, "Ball?team=0", EpisodeIds(), sensor_names(spec))
    assert [(i.done, i.group_id, i.group_reward) for i in infos] == [
        (True, 0, 0.0),
        (False, 0, 0.0),
    ]


# ------------------------------------------------------------------ how the player ends
def test_quit_ends_the_player_cleanly_without_a_goodbye(port: int) -> None:
    env = ScriptedEnvironment()
    with RecordingTrainer(port, [handshake_reply(), command(RESET), command(QUIT)]) as trainer:
        client(port, env).run()
    assert len(trainer.received) == 3  # handshake, bare header, reset output: nothing after QUIT
    assert env.closed


def test_a_failing_player_says_goodbye_with_status_400(port: int) -> None:
    env = ScriptedEnvironment(fail_on_step=True)
    replies = [handshake_reply(), command(RESET), command(STEP)]
    with RecordingTrainer(port, replies) as trainer, pytest.raises(EnvError, match="crashed"):
        client(port, env).run()
    assert len(trainer.received) == 4
    assert trainer.received[-1] == HEADER_ONLY_400  # status 400, no output: Unity's Dispose
    assert env.closed


def test_the_trainer_hears_a_failing_player_close_the_connection(port: int) -> None:
    player = client(port, ScriptedEnvironment(fail_on_step=True))
    errors: list[BaseException] = []

    def run_player() -> None:
        try:
            player.run()
        except EnvError as err:
            errors.append(err)

    server = ExchangeServer(port)
    server.start()
    thread = threading.Thread(target=run_player, daemon=True)
    thread.start()
    try:
        for reply in (handshake_reply(), command(RESET), command(STEP)):
            server.receive(10)
            server.reply(reply)
        with pytest.raises(
            WorkerFailure, match=r"the environment closed the connection \(status 400\)"
        ):
            server.receive(10)
        server.close_connection()  # the trainer answers the goodbye with its own close
        thread.join(10)
        assert not thread.is_alive()
        assert [str(e) for e in errors] == ["the simulator crashed"]
    finally:
        server.stop()


# ------------------------------------------------------------------ trainer capabilities
@pytest.mark.parametrize(
    ("action_spec", "sizes", "space_type"),
    [(ActionSpec(2), [2], 1), (ActionSpec(0, (3, 2)), [3, 2], 0)],  # continuous 1, discrete 0
)
def test_a_trainer_without_hybrid_actions_gets_the_deprecated_fields(
    action_spec: ActionSpec, sizes: list[int], space_type: int
) -> None:
    spec = BehaviorSpec((ObservationSpec((2,)),), action_spec)
    brain = brain_parameters("Ball?team=0", spec, trainer_has_hybrid_actions=False)
    assert list(brain.vector_action_size_deprecated) == sizes
    assert brain.vector_action_space_type_deprecated == space_type
    assert brain.action_spec.num_continuous_actions == action_spec.continuous_size
    assert list(brain.action_spec.discrete_branch_sizes) == list(action_spec.discrete_branches)
    with_hybrid = brain_parameters("Ball?team=0", spec, trainer_has_hybrid_actions=True)
    assert [f.name for f, _ in with_hybrid.ListFields()] == [
        "brain_name",
        "is_training",
        "action_spec",
    ]


def test_player_reads_the_capabilities_of_the_handshake_reply(port: int) -> None:
    env = ScriptedEnvironment(BehaviorSpec((ObservationSpec((2,)),), ActionSpec(0, (3,))))
    replies = [handshake_reply(hybrid_actions=False), command(RESET)]
    with RecordingTrainer(port, replies) as trainer:
        client(port, env).run()
    brain = trainer.messages()[2].unity_output.rl_initialization_output.brain_parameters[0]
    assert list(brain.vector_action_size_deprecated) == [3]
    assert brain.vector_action_space_type_deprecated == 0  # discrete


def test_hybrid_behavior_for_a_trainer_without_hybrid_actions_is_an_error(port: int) -> None:
    env = ScriptedEnvironment()  # 1 continuous action and a discrete branch
    replies = [handshake_reply(hybrid_actions=False), command(RESET)]
    refused = pytest.raises(EnvError, match=r"behavior 'Ball\?team=0' has 1 continuous .* hybrid")
    with RecordingTrainer(port, replies) as trainer, refused:
        client(port, env).run()
    assert trainer.received[-1] == HEADER_ONLY_400
