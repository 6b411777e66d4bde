"""Writing ``.demo`` files in the byte layout of Unity's ``DemonstrationWriter``.

Unity writes the meta record (length-delimited) into a region of 33 bytes at the start of the
file, zero padded, the brain parameters from byte 33 (``is_training`` false), one
length-delimited ``AgentInfoActionPairProto`` per step, and, when it closes, the final meta
record once more at the end of the file without a length prefix (``reference/mlagents-facts.md``
§7). The counts of the meta record are Unity's: ``number_episodes`` is the done flags plus one,
``mean_reward`` the float32 sum of the rewards divided by it. Protobuf serialization of these
messages is deterministic, so a file read with :func:`~dojo_imitation.demo_reader.read_demo_records`
and written back with :func:`write_demo_records` is the same bytes.

Images (rank-3 observations of 1 or 3 channels) are stored as PNG, as Unity's camera sensors
do: 8 bits per channel, so values are rounded to multiples of 1/255.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dojo_imitation.demo_reader import META_REGION_BYTES
from dojo_imitation.demonstration import (
    Demonstration,
    DemonstrationError,
    unity_episode_statistics,
)
from dojo_unity.communicator_objects.agent_action_pb2 import AgentActionProto
from dojo_unity.communicator_objects.agent_info_action_pair_pb2 import AgentInfoActionPairProto
from dojo_unity.communicator_objects.agent_info_pb2 import AgentInfoProto
from dojo_unity.communicator_objects.brain_parameters_pb2 import (
    ActionSpecProto,
    BrainParametersProto,
)
from dojo_unity.communicator_objects.demonstration_meta_pb2 import DemonstrationMetaProto
from dojo_unity.communicator_objects.observation_pb2 import ObservationProto
from dojo_unity.decoding import is_channel_last

#: The ``api_version`` Unity's recorder writes.
API_VERSION = 1


def write_demonstration(path: str | os.PathLike[str], demonstration: Demonstration) -> None:
    """Write ``demonstration`` as one ``.demo`` file (see the module docstring).

    Raises:
        DemonstrationError: the demonstration has no step, its name does not fit the meta
            region, or the file cannot be written.
    """
    brain, pairs = demonstration_to_records(demonstration)
    write_demo_records(path, demonstration.demonstration_name, brain, pairs)


def write_demo_records(
    path: str | os.PathLike[str],
    demonstration_name: str,
    brain: BrainParametersProto,
    pairs: Sequence[AgentInfoActionPairProto],
) -> None:
    """Write protocol records as a ``.demo`` file, with the meta counts computed from them."""
    path = Path(path)
    data = demo_file_bytes(demonstration_name, brain, pairs, where=str(path))
    try:
        path.write_bytes(data)
    except OSError as err:
        raise DemonstrationError(f"{path}: cannot write the .demo file: {err}") from err


def demo_file_bytes(
    demonstration_name: str,
    brain: BrainParametersProto,
    pairs: Sequence[AgentInfoActionPairProto],
    where: str = "demonstration",
) -> bytes:
    """The bytes of a ``.demo`` file holding ``pairs`` (see the module docstring)."""
    if not pairs:
        raise DemonstrationError(f"{where}: a .demo file must record at least one step")
    rewards = np.array([pair.agent_info.reward for pair in pairs], dtype=np.float32)
    dones = np.array([pair.agent_info.done for pair in pairs], dtype=bool)
    episodes, mean_reward = unity_episode_statistics(rewards, dones)
    meta = DemonstrationMetaProto(
        api_version=API_VERSION,
        demonstration_name=demonstration_name,
        number_steps=len(pairs),
        number_episodes=episodes,
        mean_reward=mean_reward,
    ).SerializeToString()
    header = _delimited(meta)
    if len(header) > META_REGION_BYTES:
        raise DemonstrationError(
            f"{where}: the demonstration name {demonstration_name!r} is too long: the meta record "
            f"takes {len(header)} bytes, Unity's layout reserves {META_REGION_BYTES} (use a name "
            f"of at most {len(demonstration_name.encode()) - len(header) + META_REGION_BYTES} "
            "bytes)"
        )
    brain_record = BrainParametersProto()
    brain_record.CopyFrom(brain)
    brain_record.is_training = False
    parts = [header.ljust(META_REGION_BYTES, b"\0"), _delimited(brain_record.SerializeToString())]
    parts.extend(_delimited(pair.SerializeToString()) for pair in pairs)
    parts.append(meta)  # Unity's writer leaves the final meta record here, undelimited
    return b"".join(parts)


def demonstration_to_records(
    demonstration: Demonstration,
) -> tuple[BrainParametersProto, list[AgentInfoActionPairProto]]:
    """The brain parameters and step records that describe ``demonstration``.

    Actions go to ``continuous_actions`` / ``discrete_actions`` and the spec to ``action_spec``,
    or, for a demonstration read from a file of API < 1.3 (``legacy_action_fields``), to the
    deprecated fields that file used.
    """
    demo = demonstration
    action_spec = demo.behavior_spec.action_spec
    legacy = demo.legacy_action_fields
    if legacy and action_spec.is_hybrid:
        raise DemonstrationError(
            f"demonstration {demo.demonstration_name!r}: the deprecated action fields cannot "
            "hold both continuous and discrete actions"
        )
    brain = BrainParametersProto(brain_name=demo.behavior_id, is_training=False)
    if legacy:
        if action_spec.continuous_size:
            brain.vector_action_size_deprecated.append(action_spec.continuous_size)
            brain.vector_action_space_type_deprecated = 1  # continuous
        else:
            brain.vector_action_size_deprecated.extend(action_spec.discrete_branches)
    else:
        brain.action_spec.CopyFrom(
            ActionSpecProto(
                num_continuous_actions=action_spec.continuous_size,
                num_discrete_actions=action_spec.discrete_size,
                discrete_branch_sizes=action_spec.discrete_branches,
            )
        )
    specs = demo.behavior_spec.observation_specs
    observation_records = [
        _observation_records(values, spec.name)
        for values, spec in zip(demo.observations, specs, strict=True)
    ]
    continuous = demo.continuous_actions.tolist()
    discrete = demo.discrete_actions.tolist()
    pairs = []
    for step in range(demo.steps):
        info = AgentInfoProto(
            reward=float(demo.rewards[step]),
            done=bool(demo.dones[step]),
            max_step_reached=bool(demo.interrupted[step]),
            id=int(demo.agent_ids[step]),
            observations=[records[step] for records in observation_records],
        )
        if demo.action_masks is not None:
            info.action_mask.extend(demo.action_masks[step].tolist())
        if legacy:
            values = continuous[step] if action_spec.continuous_size else discrete[step]
            action = AgentActionProto(vector_actions_deprecated=values)
        else:
            action = AgentActionProto(
                continuous_actions=continuous[step], discrete_actions=discrete[step]
            )
        pairs.append(AgentInfoActionPairProto(agent_info=info, action_info=action))
    return brain, pairs


def _observation_records(values: np.ndarray, name: str) -> list[ObservationProto]:
    """One :class:`ObservationProto` per step of one observation (``[steps, *shape]``)."""
    shape = values.shape[1:]
    if len(shape) == 3 and shape[0] in (1, 3) and is_channel_last((shape[1], shape[2], shape[0])):
        return [_png_observation(image, name) for image in values]
    if len(shape) == 3 and is_channel_last((shape[1], shape[2], shape[0])):
        proto_shape = [shape[1], shape[2], shape[0]]  # Unity's [H, W, C] float layout
        values = values.transpose(0, 2, 3, 1)
    else:
        proto_shape = list(shape)
    records = []
    for row in values.reshape(len(values), -1).tolist():
        record = ObservationProto(shape=proto_shape, name=name)
        record.float_data.SetInParent()  # an empty observation still carries float_data
        record.float_data.data.extend(row)
        records.append(record)
    return records


def _png_observation(image: np.ndarray, name: str) -> ObservationProto:
    """A ``[C, H, W]`` image in [0, 1] (1 or 3 channels) as a PNG observation, ``[H, W, C]``."""
    from PIL import Image

    channels, height, width = image.shape
    pixels = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    if channels == 1:
        picture = Image.fromarray(pixels[0])  # 8-bit grayscale
    else:
        picture = Image.fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0)))  # RGB
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return ObservationProto(
        shape=[height, width, channels],
        compression_type=1,  # PNG
        compressed_data=buffer.getvalue(),
        name=name,
    )


def _delimited(payload: bytes) -> bytes:
    """``payload`` with its base-128 varint length prefix (protobuf's writeDelimited)."""
    length = len(payload)
    prefix = bytearray()
    while True:
        byte = length & 0x7F
        length >>= 7
        if length:
            prefix.append(byte | 0x80)
        else:
            prefix.append(byte)
            return bytes(prefix) + payload
