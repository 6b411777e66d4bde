"""Reading Unity ML-Agents 1.x ``.demo`` files (``reference/mlagents-facts.md`` §7).

The layout, as Unity's ``DemonstrationWriter`` makes it:

- bytes 0 to 32: a varint length and a ``DemonstrationMetaProto`` (api_version, the
  demonstration's name, number_steps, number_episodes, mean_reward), zero padded;
- from byte 33: a varint length and the ``BrainParametersProto`` (behavior id, action spec);
- then one varint length and ``AgentInfoActionPairProto`` per recorded agent step.

The reader stops after ``number_steps`` records, never at the end of the file: Unity's writer
leaves a copy of the final meta record, without a length prefix, after the last step. Actions
come from ``continuous_actions`` / ``discrete_actions``, or from ``vector_actions_deprecated``
when those are empty (files of ML-Agents API < 1.3). Observations are decoded by dojo-unity's
decoder, the one live Unity environments use: images ``[C, H, W]`` float32 in [0, 1].
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from google.protobuf.message import DecodeError

from dojo.api import ActionSpec, BehaviorSpec, DojoError, ObservationSpec
from dojo_imitation.demonstration import (
    Demonstration,
    DemonstrationError,
    concatenate,
    unity_episode_statistics,
)
from dojo_unity.communicator_objects.agent_info_action_pair_pb2 import AgentInfoActionPairProto
from dojo_unity.communicator_objects.agent_info_pb2 import AgentInfoProto
from dojo_unity.communicator_objects.brain_parameters_pb2 import BrainParametersProto
from dojo_unity.communicator_objects.demonstration_meta_pb2 import DemonstrationMetaProto
from dojo_unity.decoding import behavior_spec_from_proto, decode_observations, observation_shape

#: Size of the meta region at the start of a file: Unity's ``MetaDataBytes`` (32) plus one; the
#: brain parameters start at this offset.
META_REGION_BYTES = 33
#: The ``api_version`` values ML-Agents' loader accepts.
SUPPORTED_API_VERSIONS = (0, 1)


@dataclass(frozen=True)
class DemoRecords:
    """The protocol records of one .demo file, undecoded (what the writer takes, too)."""

    meta: DemonstrationMetaProto
    brain: BrainParametersProto
    pairs: list[AgentInfoActionPairProto]


def load_demonstration(path: str | os.PathLike[str]) -> Demonstration:
    """One ``.demo`` file, or every ``*.demo`` file of a folder as one demonstration.

    Raises:
        DemonstrationError: a missing path, a folder without .demo files, or any file that
            :func:`read_demo_file` rejects; files of one folder recording different behaviors.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.glob("*.demo") if p.is_file())
        if not files:
            raise DemonstrationError(f"{path}: the folder holds no .demo files")
        return concatenate([read_demo_file(file) for file in files])
    if not path.exists():
        raise DemonstrationError(f"{path}: no such .demo file or folder")
    return read_demo_file(path)


def read_demo_file(path: str | os.PathLike[str]) -> Demonstration:
    """The demonstration recorded in one ``.demo`` file (see :func:`read_demo_records`)."""
    path = Path(path)
    return demonstration_from_records(read_demo_records(path), path)


def read_demo_records(path: str | os.PathLike[str]) -> DemoRecords:
    """The meta record, the brain parameters and the ``number_steps`` step records of a file.

    Raises:
        DemonstrationError: the file cannot be read, is empty, truncated or corrupt (the message
            says which record), has an unsupported ``api_version`` or records no step.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DemonstrationError(f"{path}: cannot read the .demo file: {err}") from err
    if not data:
        raise DemonstrationError(f"{path}: the .demo file is empty")
    meta, meta_end = _parse(DemonstrationMetaProto, data, 0, path, "the meta record")
    if meta_end > META_REGION_BYTES:
        raise DemonstrationError(
            f"{path}: the .demo file is corrupt at the meta record: it ends at byte {meta_end}, "
            f"past the {META_REGION_BYTES} bytes reserved for it"
        )
    if meta.api_version not in SUPPORTED_API_VERSIONS:
        raise DemonstrationError(
            f"{path}: demonstration api_version {meta.api_version} is not supported (dojo reads "
            f"versions {', '.join(map(str, SUPPORTED_API_VERSIONS))}, those of ML-Agents 1.x); "
            "record it again with a supported ML-Agents version"
        )
    if meta.number_steps <= 0:
        raise DemonstrationError(
            f"{path}: the .demo file records {meta.number_steps} steps; record a demonstration "
            "of at least one step"
        )
    if len(data) <= META_REGION_BYTES:
        raise DemonstrationError(
            f"{path}: the .demo file is truncated: it ends at byte {len(data)}, before the "
            f"brain parameters at byte {META_REGION_BYTES}"
        )
    brain, offset = _parse(BrainParametersProto, data, META_REGION_BYTES, path, "the brain record")
    pairs = []
    for index in range(meta.number_steps):
        what = f"step record {index + 1} of {meta.number_steps}"
        pair, offset = _parse(AgentInfoActionPairProto, data, offset, path, what)
        pairs.append(pair)
    return DemoRecords(meta, brain, pairs)


def demonstration_from_records(records: DemoRecords, source: Path | None = None) -> Demonstration:
    """Decode a file's records into a :class:`Demonstration`.

    Raises:
        DemonstrationError: records that disagree with the first one or with the brain's
            action spec (observation count or shapes, action sizes), or undecodable images.
    """
    where = (
        str(source) if source is not None else f"demonstration {records.meta.demonstration_name!r}"
    )
    spec = _behavior_spec(records, where)
    pairs = records.pairs
    infos = [pair.agent_info for pair in pairs]
    for index, info in enumerate(infos):
        shapes = [observation_shape(o.shape) for o in info.observations]
        if shapes != [o.shape for o in spec.observation_specs]:
            raise DemonstrationError(
                f"{where}: step record {index + 1} has observation shapes "
                f"{[list(s) for s in shapes]} but the first has "
                f"{[list(o.shape) for o in spec.observation_specs]}"
            )
    observations = []
    for i, obs_spec in enumerate(spec.observation_specs):
        try:
            protos = [info.observations[i] for info in infos]
            observations.append(decode_observations(protos, obs_spec.shape, f"observation {i}"))
        except DojoError as err:
            raise DemonstrationError(f"{where}: {err}") from err
    legacy = not records.brain.HasField("action_spec")
    continuous, discrete = _actions(pairs, spec.action_spec, where)
    rewards = np.fromiter((info.reward for info in infos), dtype=np.float32, count=len(infos))
    dones = np.fromiter((info.done for info in infos), dtype=bool, count=len(infos))
    episodes, mean_reward = unity_episode_statistics(rewards, dones)
    return Demonstration(
        demonstration_name=records.meta.demonstration_name,
        behavior_id=records.brain.brain_name,
        behavior_spec=spec,
        observations=tuple(observations),
        continuous_actions=continuous,
        discrete_actions=discrete,
        rewards=rewards,
        dones=dones,
        interrupted=np.fromiter((i.max_step_reached for i in infos), dtype=bool, count=len(infos)),
        agent_ids=np.fromiter((info.id for info in infos), dtype=np.int64, count=len(infos)),
        action_masks=_action_masks(infos, spec.action_spec, where),
        number_episodes=episodes,
        mean_reward=mean_reward,
        legacy_action_fields=legacy,
        sources=(source,) if source is not None else (),
    )


# ------------------------------------------------------------------------------ records
def _read_varint(data: bytes, offset: int) -> tuple[int, int] | None:
    """The base-128 varint at ``offset`` and the offset after it; None when the data ends."""
    value = shift = 0
    while offset < len(data) and shift < 64:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7
    return None


def _parse(message_type, data: bytes, offset: int, path: Path, what: str):
    """The length-delimited ``message_type`` at ``offset`` and the offset after it."""
    header = _read_varint(data, offset)
    if header is None:
        raise DemonstrationError(
            f"{path}: the .demo file is truncated or corrupt at {what}: no length prefix at byte "
            f"{offset} (the file has {len(data)} bytes)"
        )
    length, start = header
    end = start + length
    if end > len(data):
        raise DemonstrationError(
            f"{path}: the .demo file is truncated at {what}: it needs {length} bytes from byte "
            f"{start} but the file ends at byte {len(data)}"
        )
    try:
        message = message_type.FromString(data[start:end])
    except DecodeError as err:
        raise DemonstrationError(
            f"{path}: the .demo file is corrupt at {what} (bytes {start} to {end}): {err}"
        ) from err
    return message, end


# ------------------------------------------------------------------------------ decoding
def _behavior_spec(records: DemoRecords, where: str) -> BehaviorSpec:
    """The action spec of the brain record and the observation shapes of the first step.

    A size-0 observation (Unity records one for an agent without vector observations) is kept,
    so a step's observations line up with the file's.
    """
    first = records.pairs[0].agent_info
    try:
        actions = behavior_spec_from_proto(records.brain, AgentInfoProto(), where).action_spec
    except DojoError as err:
        raise DemonstrationError(str(err)) from err
    observations = []
    for index, obs in enumerate(first.observations):
        shape = observation_shape(obs.shape)
        if not shape or any(d < 0 for d in shape) or len(shape) > 3:
            raise DemonstrationError(
                f"{where}: observation {index} has shape {list(obs.shape)} (dimensions must not "
                "be negative, rank 1 to 3)"
            )
        observations.append(ObservationSpec(shape, obs.name))
    return BehaviorSpec(tuple(observations), actions)


def _actions(
    pairs: list[AgentInfoActionPairProto], spec: ActionSpec, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """``[steps, continuous_size]`` float32 and ``[steps, branches]`` int64 actions (zeros for
    a step recorded without an action)."""
    n = len(pairs)
    continuous = np.zeros((n, spec.continuous_size), dtype=np.float32)
    discrete = np.zeros((n, spec.discrete_size), dtype=np.int64)
    for index, pair in enumerate(pairs):
        action = pair.action_info
        if action.continuous_actions or action.discrete_actions:
            cont, disc = list(action.continuous_actions), list(action.discrete_actions)
        elif spec.continuous_size:  # API < 1.3: one kind of action, in the deprecated field
            cont, disc = list(action.vector_actions_deprecated), []
        else:
            cont, disc = [], [int(v) for v in action.vector_actions_deprecated]
        if not cont and not disc:
            # No action recorded: Unity stops recording between an agent's observation and its
            # action (VisualDiscrete.demo's last step). ML-Agents never uses the last step's
            # action; zeros stand in.
            continue
        if len(cont) != spec.continuous_size or len(disc) != spec.discrete_size:
            raise DemonstrationError(
                f"{where}: step record {index + 1} holds {len(cont)} continuous and {len(disc)} "
                f"discrete actions but the behavior has {spec.continuous_size} and "
                f"{spec.discrete_size}"
            )
        continuous[index] = cont
        discrete[index] = disc
    return continuous, discrete


def _action_masks(infos: list[AgentInfoProto], spec: ActionSpec, where: str) -> np.ndarray | None:
    width = sum(spec.discrete_branches)
    if not width or not any(info.action_mask for info in infos):
        return None
    masks = np.zeros((len(infos), width), dtype=bool)
    for index, info in enumerate(infos):
        if len(info.action_mask) == width:
            masks[index] = info.action_mask
        elif info.action_mask:
            raise DemonstrationError(
                f"{where}: step record {index + 1} has an action mask of {len(info.action_mask)} "
                f"entries, expected {width} (the sum of the discrete branch sizes)"
            )
    return masks
