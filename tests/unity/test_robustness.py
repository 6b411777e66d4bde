"""Misbehaving environments give one clear EnvError, never a hang."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import grpc
import pytest

from dojo.errors import EnvError
from dojo_unity.communicator_objects.agent_info_pb2 import AgentInfoProto
from dojo_unity.communicator_objects.brain_parameters_pb2 import BrainParametersProto
from dojo_unity.communicator_objects.observation_pb2 import ObservationProto
from dojo_unity.communicator_objects.unity_message_pb2 import UnityMessageProto
from dojo_unity.environment import UnityEnvironment
from dojo_unity.server import SERVICE, ExchangeServer, WorkerFailure
from dojo_unity.worker import UnityWorker


def hello(version: str = "1.5.0") -> bytes:
    message = UnityMessageProto()
    message.header.status = 200
    message.unity_output.rl_initialization_output.name = "AcademySingleton"
    message.unity_output.rl_initialization_output.communication_version = version
    return message.SerializeToString()


def empty() -> bytes:
    message = UnityMessageProto()
    message.header.status = 200
    return message.SerializeToString()


def agents(reward: float = 1.0, size: int = 2, announce: bool = False) -> bytes:
    message = UnityMessageProto()
    message.header.status = 200
    observation = ObservationProto(shape=[size])
    observation.float_data.data.extend([0.0] * size)
    info = AgentInfoProto(id=0, reward=reward, observations=[observation])
    message.unity_output.rl_output.agentInfos["Ball?team=0"].value.append(info)
    if announce:
        brain = BrainParametersProto(brain_name="Ball?team=0")
        brain.action_spec.num_continuous_actions = 1
        message.unity_output.rl_initialization_output.brain_parameters.append(brain)
    return message.SerializeToString()


class RawClient(threading.Thread):
    """Sends ``messages`` (bytes) one Exchange at a time; ``then`` runs on the channel after."""

    def __init__(
        self, port: int, messages: list[bytes], then: Callable[[grpc.Channel], None] | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.messages, self.then = port, messages, then

    def run(self) -> None:
        channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        exchange = channel.unary_unary(f"/{SERVICE}/Exchange")
        try:
            for message in self.messages:
                exchange(message, timeout=30, wait_for_ready=True)
            if self.then is not None:
                self.then(channel)
        except grpc.RpcError:
            pass
        finally:
            channel.close()


def environment(port: int, timeout: float = 20) -> UnityEnvironment:
    return UnityEnvironment(
        lambda i: UnityWorker(i, port, "127.0.0.1", None, timeout, seed=0), 1, None, None
    )


def test_malformed_message_is_an_error_naming_the_worker(port: int) -> None:
    RawClient(port, [hello(), empty(), b"\xff\xff\xff not a protobuf"]).start()
    env = environment(port)
    try:
        with pytest.raises(EnvError, match=rf"worker 0 \(port {port}\): malformed message"):
            env.reset()
    finally:
        env.close()


def test_oversized_message_is_an_error(port: int) -> None:
    server = ExchangeServer(port, max_message_bytes=1000)
    server.start()
    try:
        RawClient(port, [hello(), b"\x0a" + b"\x00" * 1499]).start()
        server.receive(10)
        server.reply(UnityMessageProto())
        with pytest.raises(EnvError, match=r"message of 1500 bytes, more than the limit of 1000"):
            server.receive(10)
    finally:
        server.stop()


def test_nan_reward_is_an_error(port: int) -> None:
    RawClient(port, [hello(), empty(), agents(announce=True), agents(float("nan"))]).start()
    env = environment(port)
    try:
        env.reset()
        with pytest.raises(EnvError, match=r"agent 0 sent a non-finite reward \(nan\)"):
            env.step()
    finally:
        env.close()


def test_behavior_spec_change_mid_run_is_an_error(port: int) -> None:
    RawClient(port, [hello(), empty(), agents(announce=True), agents(size=5)]).start()
    env = environment(port)
    try:
        env.reset()
        with pytest.raises(EnvError, match=r"has shape \[5\] but the behavior's spec says \[2\]"):
            env.step()
    finally:
        env.close()


def test_client_disconnecting_mid_episode_fails_fast(port: int) -> None:
    def hang_up(channel: grpc.Channel) -> None:
        future = channel.unary_unary(f"/{SERVICE}/Exchange").future(agents(), timeout=30)
        time.sleep(0.5)
        future.cancel()

    RawClient(port, [hello(), empty(), agents(announce=True)], then=hang_up).start()
    env = environment(port, timeout=30)
    try:
        env.reset()
        env.step()  # the client answers, then hangs up while the trainer is busy
        time.sleep(1.5)
        started = time.monotonic()
        with pytest.raises(WorkerFailure, match="disconnected"):
            env.step()
        assert time.monotonic() - started < 10
    finally:
        env.close()


def test_wrong_major_version_is_refused(port: int) -> None:
    RawClient(port, [hello("2.0.0"), empty()]).start()
    with pytest.raises(EnvError, match=r"speaks communication API 2\.0\.0 but dojo speaks 1\.5\.0"):
        environment(port, timeout=3)
