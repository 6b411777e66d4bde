"""A Unity-player stand-in built only from the .proto files (no dojo import).

Run as ``python proto_only_client.py <generated code dir> <port> <steps>``: it handshakes,
answers the reset and ``steps`` steps with one behavior "Seeker" (sent fully qualified, as a
Unity build names it: ``Seeker?team=0``) of two agents that observe a
vector ``[step, agent id, 0.5]`` and a 8x6 RGB camera (PNG, grayscale through a channel
mapping, for agent 1 as two concatenated PNGs), sends one Stats side-channel message at step
10, checks every action it receives and exits 0 when the trainer closes with status 400.
"""

from __future__ import annotations

import io
import struct
import sys
import uuid

import grpc
import numpy as np
from PIL import Image

sys.path.insert(0, sys.argv[1])
from communicator_objects import (
    unity_message_pb2,
    unity_to_external_pb2_grpc,
)
from communicator_objects.agent_info_pb2 import AgentInfoProto
from communicator_objects.brain_parameters_pb2 import BrainParametersProto
from communicator_objects.observation_pb2 import PNG, ObservationProto

PORT, STEPS = int(sys.argv[2]), int(sys.argv[3])
STATS = uuid.UUID("a1d8f7b7-cec8-50f9-b78b-d3e165a78520")
BEHAVIOR_ID = "Seeker?team=0"


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def camera(step: int, agent: int) -> ObservationProto:
    """6 rows x 8 columns; every RGB value is (10 * step + agent) % 256, as grayscale."""
    value = (10 * step + agent) % 256
    pixels = np.full((6, 8, 3), value, dtype=np.uint8)
    data = png(pixels)
    mapping = [0, 0, 0]
    if agent == 1:  # a second PNG whose channels are dropped
        data += png(np.zeros((6, 8, 3), dtype=np.uint8))
        mapping += [-1, -1, -1]
    return ObservationProto(
        shape=[1, 6, 8], compression_type=PNG, compressed_data=data,
        compressed_channel_mapping=mapping,
    )  # fmt: skip


def output_message(step: int) -> unity_message_pb2.UnityMessageProto:
    message = unity_message_pb2.UnityMessageProto()
    message.header.status = 200
    rl_output = message.unity_output.rl_output
    infos = rl_output.agentInfos[BEHAVIOR_ID].value
    for agent in (0, 1):
        vector = ObservationProto(shape=[3])
        vector.float_data.data.extend([float(step), float(agent), 0.5])
        infos.append(
            AgentInfoProto(
                id=agent, reward=1.0 if step else 0.0, observations=[vector, camera(step, agent)],
                action_mask=[False, agent == 1, False],
            )
        )  # fmt: skip
    if step == 0:
        brain = BrainParametersProto(brain_name=BEHAVIOR_ID, is_training=True)
        brain.action_spec.num_continuous_actions = 1
        brain.action_spec.num_discrete_actions = 1
        brain.action_spec.discrete_branch_sizes.append(3)
        message.unity_output.rl_initialization_output.brain_parameters.append(brain)
    if step == 10:
        key = b"Custom/Coins"
        payload = struct.pack("<i", len(key)) + key + struct.pack("<fi", 7.5, 2)  # SUM
        rl_output.side_channel = STATS.bytes_le + struct.pack("<i", len(payload)) + payload
    return message


def main() -> int:
    channel = grpc.insecure_channel(f"127.0.0.1:{PORT}")
    grpc.channel_ready_future(channel).result(timeout=30)
    stub = unity_to_external_pb2_grpc.UnityToExternalProtoStub(channel)

    hello = unity_message_pb2.UnityMessageProto()
    hello.header.status = 200
    init = hello.unity_output.rl_initialization_output
    init.name = "ProtoOnly"
    init.communication_version = "1.5.0"
    init.capabilities.baseRLCapabilities = True
    reply = stub.Exchange(hello)
    assert reply.unity_input.rl_initialization_input.communication_version == "1.5.0"
    empty = unity_message_pb2.UnityMessageProto()
    empty.header.status = 200
    reply = stub.Exchange(empty)
    assert reply.unity_input.rl_input.command == 1, reply  # RESET
    for step in range(STEPS + 1):
        reply = stub.Exchange(output_message(step))
        if step < STEPS:
            actions = reply.unity_input.rl_input.agent_actions[BEHAVIOR_ID].value
            assert len(actions) == 2, reply
            for agent, action in enumerate(actions):
                assert list(action.continuous_actions) == [step + agent * 0.5], action
                assert list(action.discrete_actions) == [2 if agent else 1], action
    assert reply.header.status == 400, reply
    print(f"proto-only client: {STEPS} steps, closed with 400")
    return 0


if __name__ == "__main__":
    sys.exit(main())
