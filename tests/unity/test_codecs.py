"""Side-channel framing, observation decoding and the restart policy."""

from __future__ import annotations

import io
import struct
import uuid

import numpy as np
import pytest
from PIL import Image

from dojo.api import Aggregation
from dojo.config.settings import EngineSettings
from dojo.errors import EnvError
from dojo_unity.communicator_objects.observation_pb2 import PNG, ObservationProto
from dojo_unity.decoding import decode_observations, observation_shape
from dojo_unity.environment import RestartPolicy
from dojo_unity.providers import parse_remote_target
from dojo_unity.side_channels import (
    ENGINE_CONFIGURATION,
    STATS,
    EnvironmentParameters,
    engine_configuration_messages,
    frame,
    read_incoming,
    unframe,
)


def test_records_use_dotnet_guid_byte_order() -> None:
    data = frame([(STATS, b"abc")])
    # .NET Guid order: the first three fields little-endian (a1d8f7b7 -> b7 f7 d8 a1).
    assert data[:4] == bytes.fromhex("b7f7d8a1")
    assert data[16:20] == struct.pack("<i", 3) and data[20:] == b"abc"
    assert list(unframe(data, "here")) == [(STATS, b"abc")]


def test_truncated_side_channel_is_a_clear_error() -> None:
    with pytest.raises(EnvError, match="worker 3: malformed side channel data"):
        list(unframe(frame([(STATS, b"abcdef")])[:-2], "worker 3"))


def test_stats_message_decodes_with_its_aggregation() -> None:
    key = b"Custom/Laps"
    payload = struct.pack("<i", len(key)) + key + struct.pack("<fi", 2.5, 1)
    unknown = uuid.uuid4()
    warned: set[uuid.UUID] = set()
    stats = read_incoming(frame([(STATS, payload), (unknown, b"x")]), "w", warned)
    assert [(s.key, s.value, s.aggregation) for s in stats] == [
        ("Custom/Laps", 2.5, Aggregation.MOST_RECENT)
    ]
    assert warned == {unknown}


def test_engine_configuration_payloads() -> None:
    engine = EngineSettings(width=100, height=50, quality_level=3, time_scale=7.5)
    messages = engine_configuration_messages(engine)
    assert messages[0] == struct.pack("<iii", 0, 100, 50)
    assert messages[2] == struct.pack("<if", 2, 7.5)
    with pytest.raises(EnvError, match="only goes from the trainer"):
        read_incoming(frame([(ENGINE_CONFIGURATION, messages[0])]), "w", set())


def test_environment_parameter_messages() -> None:
    params = EnvironmentParameters()
    params.set_float("gravity", 9.5)
    params.set_uniform_sampler("mass", 1.0, 2.0, seed=7)
    (k1, float_msg), (k2, sampler_msg) = params.take()
    assert (k1, k2) == ("gravity", "mass")
    assert float_msg == struct.pack("<i", 7) + b"gravity" + struct.pack("<if", 0, 9.5)
    assert sampler_msg == struct.pack("<i", 4) + b"mass" + struct.pack("<iiiff", 1, 7, 0, 1, 2)
    assert params.take() == []


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_png_with_channel_mapping_and_height_width_channel_shape() -> None:
    pixels = np.zeros((6, 5, 3), dtype=np.uint8)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = 51, 102, 255
    # Unity < 3.0 sends [H, W, C]; two RGB channels averaged into output 0, blue into 1.
    obs = ObservationProto(
        shape=[6, 5, 2], compression_type=PNG, compressed_data=_png(pixels),
        compressed_channel_mapping=[0, 0, 1],
    )  # fmt: skip
    shape = observation_shape(obs.shape)
    assert shape == (2, 6, 5)
    image = decode_observations([obs], shape, "w")[0]
    np.testing.assert_allclose(image[0], (51 + 102) / 2 / 255, atol=1e-6)
    np.testing.assert_allclose(image[1], 1.0)


def test_float_observation_of_wrong_size_is_an_error() -> None:
    obs = ObservationProto(shape=[3])
    obs.float_data.data.extend([1.0, 2.0])
    with pytest.raises(EnvError, match=r"worker 1: observation has 2 values, expected 3"):
        decode_observations([obs], (3,), "worker 1")


def test_restart_policy_limits() -> None:
    policy = RestartPolicy(max_lifetime_restarts=2, rate_limit_n=1, rate_limit_period_s=60)
    assert policy.refusal([], now=100.0) is None
    assert "in the last 60 s" in policy.refusal([90.0], now=100.0)
    assert policy.refusal([10.0], now=100.0) is None
    assert "--max-lifetime-restarts 2" in policy.refusal([1.0, 10.0], now=1000.0)
    assert RestartPolicy(-1, -1, 60).refusal([99.0] * 50, now=100.0) is None


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("0.0.0.0:6000", ("0.0.0.0", 6000)),
        ("6001", ("127.0.0.1", 6001)),
        ("somehost", ("somehost", 5005)),
        (":6002", ("127.0.0.1", 6002)),
    ],
)
def test_remote_targets(target: str, expected: tuple[str, int]) -> None:
    assert parse_remote_target(target, 5005) == expected
