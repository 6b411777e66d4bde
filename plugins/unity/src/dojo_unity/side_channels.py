"""Side channels: the typed messages that ride in the ``side_channel`` bytes of every exchange.

Framing (ML-Agents ``side_channel_manager.py``): the bytes are a sequence of records, each the
channel's 16-byte UUID in .NET ``Guid`` byte order (Python's ``uuid.bytes_le``), an int32
little-endian payload length, then the payload. Payload primitives are little-endian: int32,
float32, bool (one byte), string (int32 byte length + ASCII/UTF-8 bytes), float list (int32 count +
float32 values).

Channels dojo speaks:

- EngineConfiguration (trainer -> environment): screen size, quality level, time scale, frame rates
  from ``--width``/``--height``/``--quality-level``/``--time-scale``/``--target-frame-rate``/
  ``--capture-frame-rate``.
- EnvironmentParameters (trainer -> environment): float values and sampler definitions
  (curricula and parameter randomisation).
- Stats (environment -> trainer): custom metrics with their aggregation, written to the run's
  statistics (TensorBoard, console) under the environment's own keys.
"""

from __future__ import annotations

import logging
import struct
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dojo.api import Aggregation
from dojo.config.settings import EngineSettings
from dojo.errors import EnvError

logger = logging.getLogger("dojo")

ENGINE_CONFIGURATION = uuid.UUID("e951342c-4f7e-11ea-b238-784f4387d1f7")
ENVIRONMENT_PARAMETERS = uuid.UUID("534c891e-810f-11ea-a9d0-822485860400")
STATS = uuid.UUID("a1d8f7b7-cec8-50f9-b78b-d3e165a78520")
FLOAT_PROPERTIES = uuid.UUID("60ccf7d0-4f7e-11ea-b238-784f4387d1f7")
TRAINING_ANALYTICS = uuid.UUID("b664a4a9-d86f-5a5f-95cb-e8353a7e8356")

#: Channels the trainer knows but ignores when they arrive (no warning).
_IGNORED = {FLOAT_PROPERTIES, TRAINING_ANALYTICS}

_HEADER = struct.Struct("<16si")


# ------------------------------------------------------------------------------ primitives
class MessageWriter:
    """Builds one side-channel payload from little-endian primitives."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def int32(self, value: int) -> MessageWriter:
        self.buffer += struct.pack("<i", int(value))
        return self

    def float32(self, value: float) -> MessageWriter:
        self.buffer += struct.pack("<f", float(value))
        return self

    def boolean(self, value: bool) -> MessageWriter:
        self.buffer += struct.pack("<?", bool(value))
        return self

    def string(self, value: str) -> MessageWriter:
        encoded = value.encode("utf-8")
        self.int32(len(encoded))
        self.buffer += encoded
        return self

    def float_list(self, values: Sequence[float]) -> MessageWriter:
        self.int32(len(values))
        self.buffer += struct.pack(f"<{len(values)}f", *values)
        return self

    def bytes(self) -> bytes:
        return bytes(self.buffer)


class MessageReader:
    """Reads little-endian primitives from one side-channel payload.

    Raises:
        EnvError: the payload ends before a value (a malformed message), naming ``where``.
    """

    def __init__(self, payload: bytes, where: str) -> None:
        self.payload = payload
        self.offset = 0
        self.where = where

    def _take(self, size: int) -> bytes:
        if size < 0 or self.offset + size > len(self.payload):
            raise EnvError(
                f"{self.where}: malformed side-channel message (needs {size} more bytes at offset "
                f"{self.offset} of a {len(self.payload)}-byte payload)"
            )
        chunk = self.payload[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def int32(self) -> int:
        return struct.unpack("<i", self._take(4))[0]

    def float32(self) -> float:
        return struct.unpack("<f", self._take(4))[0]

    def boolean(self) -> bool:
        return struct.unpack("<?", self._take(1))[0]

    def string(self) -> str:
        raw = self._take(self.int32())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise EnvError(f"{self.where}: side-channel string is not UTF-8: {err}") from err

    def float_list(self) -> list[float]:
        count = self.int32()
        return list(struct.unpack(f"<{count}f", self._take(4 * count))) if count >= 0 else []


# ------------------------------------------------------------------------------ framing
def frame(records: Sequence[tuple[uuid.UUID, bytes]]) -> bytes:
    """Concatenate ``(channel, payload)`` records into ``side_channel`` bytes."""
    return b"".join(_HEADER.pack(ch.bytes_le, len(payload)) + payload for ch, payload in records)


def unframe(data: bytes, where: str) -> Iterator[tuple[uuid.UUID, bytes]]:
    """Split ``side_channel`` bytes into ``(channel, payload)`` records.

    Raises:
        EnvError: a record is truncated or declares a negative length.
    """
    offset = 0
    while offset < len(data):
        if offset + _HEADER.size > len(data):
            raise EnvError(
                f"{where}: malformed side channel data (a {len(data) - offset}-byte fragment "
                "where a 20-byte record header was expected)"
            )
        raw_id, length = _HEADER.unpack_from(data, offset)
        offset += _HEADER.size
        if length < 0 or offset + length > len(data):
            raise EnvError(
                f"{where}: malformed side channel data (record of {length} bytes, "
                f"{len(data) - offset} left)"
            )
        yield uuid.UUID(bytes_le=raw_id), data[offset : offset + length]
        offset += length


# ------------------------------------------------------------------------------ channels
def engine_configuration_messages(engine: EngineSettings) -> list[bytes]:
    """EngineConfiguration payloads for ``engine`` (one message per setting, as ML-Agents)."""
    return [
        MessageWriter().int32(0).int32(engine.width).int32(engine.height).bytes(),
        MessageWriter().int32(1).int32(engine.quality_level).bytes(),
        MessageWriter().int32(2).float32(engine.time_scale).bytes(),
        MessageWriter().int32(3).int32(engine.target_frame_rate).bytes(),
        MessageWriter().int32(4).int32(engine.capture_frame_rate).bytes(),
    ]


class EnvironmentParameters:
    """EnvironmentParameters messages waiting to be sent with the next reset or step.

    The curriculum and sampler code calls the ``set_*`` methods; every worker receives each
    message, and a restarted worker receives the latest message of every key again.
    """

    FLOAT, SAMPLER = 0, 1
    UNIFORM, GAUSSIAN, MULTIRANGEUNIFORM = 0, 1, 2

    def __init__(self) -> None:
        self.pending: list[tuple[str, bytes]] = []

    def set_float(self, key: str, value: float) -> None:
        """The environment reads ``key`` as ``value``."""
        self._queue(key, MessageWriter().string(key).int32(self.FLOAT).float32(value))

    def set_uniform_sampler(self, key: str, min_value: float, max_value: float, seed: int) -> None:
        """The environment samples ``key`` uniformly in ``[min_value, max_value]`` per episode."""
        writer = self._sampler(key, seed, self.UNIFORM).float32(min_value).float32(max_value)
        self._queue(key, writer)

    def set_gaussian_sampler(self, key: str, mean: float, st_dev: float, seed: int) -> None:
        """The environment samples ``key`` from a normal distribution per episode."""
        self._queue(key, self._sampler(key, seed, self.GAUSSIAN).float32(mean).float32(st_dev))

    def set_multirangeuniform_sampler(
        self, key: str, intervals: Sequence[tuple[float, float]], seed: int
    ) -> None:
        """The environment samples ``key`` uniformly from the union of ``intervals``."""
        flat = [float(v) for interval in intervals for v in interval]
        self._queue(key, self._sampler(key, seed, self.MULTIRANGEUNIFORM).float_list(flat))

    def _sampler(self, key: str, seed: int, kind: int) -> MessageWriter:
        return MessageWriter().string(key).int32(self.SAMPLER).int32(seed).int32(kind)

    def _queue(self, key: str, writer: MessageWriter) -> None:
        self.pending.append((key, writer.bytes()))

    def take(self) -> list[tuple[str, bytes]]:
        """The queued ``(key, payload)`` messages, emptying the queue."""
        pending, self.pending = self.pending, []
        return pending


@dataclass(frozen=True)
class StatsMessage:
    """One custom metric sent by the environment (Unity's ``StatsRecorder.Add``)."""

    key: str
    value: float
    aggregation: Aggregation


def read_stats(payload: bytes, where: str) -> StatsMessage:
    """Decode one Stats channel payload.

    Raises:
        EnvError: truncated payload or an unknown aggregation.
    """
    reader = MessageReader(payload, where)
    key, value, kind = reader.string(), reader.float32(), reader.int32()
    try:
        aggregation = Aggregation(kind)
    except ValueError as err:
        raise EnvError(f"{where}: stat {key!r} has unknown aggregation {kind}") from err
    return StatsMessage(key, value, aggregation)


def write_stats(message: StatsMessage) -> bytes:
    """Encode one Stats channel payload (used by dojo's environment-side SDK)."""
    return (
        MessageWriter()
        .string(message.key)
        .float32(message.value)
        .int32(message.aggregation.value)
        .bytes()
    )


def read_incoming(data: bytes, where: str, warned: set[uuid.UUID]) -> list[StatsMessage]:
    """Decode the side channel data an environment sent; returns its stats messages.

    Unknown channels are logged once per channel id (remembered in ``warned``).

    Raises:
        EnvError: malformed framing, or an EngineConfiguration message (that channel only goes
            from the trainer to the environment).
    """
    stats: list[StatsMessage] = []
    for channel, payload in unframe(data, where):
        if channel == STATS:
            stats.append(read_stats(payload, where))
        elif channel == ENGINE_CONFIGURATION:
            raise EnvError(
                f"{where}: received an EngineConfiguration side channel message; that channel "
                "only goes from the trainer to the environment"
            )
        elif channel not in _IGNORED and channel not in warned:
            warned.add(channel)
            logger.warning(
                "%s: unknown side channel %s (message ignored). Is a channel registered on the "
                "Unity side but not in the trainer?",
                where,
                channel,
            )
    return stats
