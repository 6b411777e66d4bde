"""Protocol messages <-> dojo's batched steps, specs and actions (ML-Agents ``rpc_utils.py``).

Observations: rank-1 and rank-2 observations come as ``float_data`` reshaped to ``shape``;
rank-3 (visual) observations come as ``float_data`` or as PNG bytes (possibly several PNGs
concatenated, each carrying up to 3 channels). Images are handed to the rest of dojo channel-first
``[C, H, W]`` float32 in [0, 1]. Unity sends the shape channel-first since com.unity.ml-agents 3.0
and height-width-channel before; the layout is taken from the shape: ``[H, W, C]`` when the last
dimension is at most 4 and the first is larger, ``[C, H, W]`` otherwise (for PNG data the decoded
image's height and width decide).

``compressed_channel_mapping[i]`` is the output channel of decoded channel ``i`` (-1 drops it;
channels mapped to the same output are averaged, which is how grayscale is sent). Without a
mapping the first ``C`` decoded channels are kept (one expected channel = the mean of RGB).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np

from dojo.envs.base import (
    ActionSpec,
    ActionTuple,
    BehaviorSpec,
    DecisionSteps,
    ObservationSpec,
    TerminalSteps,
)
from dojo.errors import EnvError
from dojo_unity.communicator_objects.agent_action_pb2 import AgentActionProto
from dojo_unity.communicator_objects.agent_info_pb2 import AgentInfoProto
from dojo_unity.communicator_objects.brain_parameters_pb2 import BrainParametersProto
from dojo_unity.communicator_objects.observation_pb2 import ObservationProto

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------ specs
def is_channel_last(shape: Sequence[int]) -> bool:
    """Whether a rank-3 proto ``shape`` is ``[H, W, C]`` (see the module docstring)."""
    return len(shape) == 3 and shape[2] <= 4 < shape[0]


def observation_shape(proto_shape: Sequence[int]) -> tuple[int, ...]:
    """dojo's (channel-first) shape of an observation whose proto says ``proto_shape``."""
    shape = tuple(int(d) for d in proto_shape)
    if is_channel_last(shape):
        return (shape[2], shape[0], shape[1])
    return shape


def behavior_spec_from_proto(
    brain: BrainParametersProto, first_agent: AgentInfoProto, where: str
) -> BehaviorSpec:
    """The behavior spec announced by ``brain``, with observation shapes from its first agent.

    Raises:
        EnvError: the action spec is inconsistent, or an observation shape is not positive.
    """
    observations = []
    for index, obs in enumerate(first_agent.observations):
        shape = observation_shape(obs.shape)
        if not shape or any(d <= 0 for d in shape) or len(shape) > 3:
            raise EnvError(
                f"{where}: behavior {brain.brain_name!r} observation {index} has shape "
                f"{list(obs.shape)} (dimensions must be positive, rank 1 to 3)"
            )
        observations.append(ObservationSpec(shape, obs.name))
    if brain.HasField("action_spec"):
        spec = brain.action_spec
        branches = tuple(int(b) for b in spec.discrete_branch_sizes)
        if len(branches) != spec.num_discrete_actions or any(b <= 0 for b in branches):
            raise EnvError(
                f"{where}: behavior {brain.brain_name!r} declares {spec.num_discrete_actions} "
                f"discrete branches but sizes {list(branches)}"
            )
        action_spec = ActionSpec(int(spec.num_continuous_actions), branches)
    elif brain.vector_action_space_type_deprecated == 1:  # continuous (API < 1.3)
        action_spec = ActionSpec(int(brain.vector_action_size_deprecated[0]), ())
    else:
        action_spec = ActionSpec(0, tuple(int(b) for b in brain.vector_action_size_deprecated))
    return BehaviorSpec(tuple(observations), action_spec)


# ------------------------------------------------------------------------------ observations
def split_pngs(data: bytes) -> list[bytes]:
    """Split concatenated PNG files on their signature."""
    parts = data.split(PNG_SIGNATURE)
    if parts[0]:
        raise EnvError("compressed observation does not start with a PNG signature")
    return [PNG_SIGNATURE + part for part in parts[1:]]


def decode_png_observation(obs: ObservationProto, shape: tuple[int, ...]) -> np.ndarray:
    """One PNG-compressed observation as ``[C, H, W]`` float32 in [0, 1]."""
    from PIL import Image

    channels: list[np.ndarray] = []
    for png in split_pngs(obs.compressed_data):
        with Image.open(io.BytesIO(png)) as image:
            pixels = np.asarray(image.convert("RGB") if image.mode not in ("L", "RGB") else image)
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        channels.extend(pixels[:, :, c] for c in range(pixels.shape[2]))
    if not channels:
        raise EnvError("compressed observation holds no PNG image")
    decoded = np.stack(channels).astype(np.float32) / 255.0  # [channels, H, W]
    n_out, height, width = shape
    if decoded.shape[1:] != (height, width):
        raise EnvError(
            f"PNG observation is {decoded.shape[2]}x{decoded.shape[1]} pixels but the observation "
            f"spec says {width}x{height}"
        )
    mapping = list(obs.compressed_channel_mapping)
    if mapping:
        out = np.zeros((n_out, height, width), dtype=np.float32)
        counts = np.zeros(n_out, dtype=np.float32)
        for source, target in enumerate(mapping[: len(decoded)]):
            if 0 <= target < n_out:
                out[target] += decoded[source]
                counts[target] += 1
        return out / np.maximum(counts, 1.0)[:, None, None]
    if n_out == 1 and len(decoded) >= 3:
        return decoded[:3].mean(axis=0, keepdims=True)
    if len(decoded) < n_out:
        raise EnvError(f"PNG observation has {len(decoded)} channels but the spec expects {n_out}")
    return decoded[:n_out]


def decode_observations(
    protos: Sequence[ObservationProto], spec_shape: tuple[int, ...], where: str
) -> np.ndarray:
    """The observations of a batch of agents as one ``[n, *spec_shape]`` float32 array.

    Raises:
        EnvError: a wrong size or shape, an undecodable PNG, or non-finite values.
    """
    n = len(protos)
    batch = np.empty((n, *spec_shape), dtype=np.float32)
    size = math.prod(spec_shape)
    compressed = [o.WhichOneof("observation_data") == "compressed_data" for o in protos]
    if not any(compressed):
        if any(len(o.float_data.data) != size for o in protos):
            raise EnvError(
                f"{where}: observation has {_lengths(protos)} values, expected {size} "
                f"(shape {list(spec_shape)})"
            )
        if n:
            flat = np.array([o.float_data.data for o in protos], dtype=np.float32)
            batch[:] = _float_layout(flat, protos[0].shape, spec_shape)
    else:
        for i, obs in enumerate(protos):
            try:
                if obs.WhichOneof("observation_data") == "compressed_data":
                    if len(spec_shape) != 3:
                        raise EnvError(f"a compressed observation must be rank 3, not {spec_shape}")
                    batch[i] = decode_png_observation(obs, spec_shape)
                else:
                    values = np.asarray(obs.float_data.data, dtype=np.float32)
                    if values.size != size:
                        raise EnvError(f"{values.size} values, expected {size}")
                    batch[i] = _float_layout(values[None], obs.shape, spec_shape)[0]
            except EnvError as err:
                raise EnvError(f"{where}: {err}") from err
            except Exception as err:  # PIL raises many kinds for a corrupt image
                raise EnvError(f"{where}: cannot decode a PNG observation: {err}") from err
    return batch


def _lengths(protos: Sequence[ObservationProto]) -> str:
    sizes = sorted({len(o.float_data.data) for o in protos})
    return "/".join(str(s) for s in sizes)


def _float_layout(
    flat: np.ndarray, proto_shape: Sequence[int], spec_shape: tuple[int, ...]
) -> np.ndarray:
    """Rows of flat float data as ``[n, *spec_shape]`` (transposing ``[H, W, C]`` images)."""
    if is_channel_last(tuple(proto_shape)):
        h, w, c = proto_shape
        return flat.reshape(len(flat), h, w, c).transpose(0, 3, 1, 2)
    return flat.reshape(len(flat), *spec_shape)


# ------------------------------------------------------------------------------ steps
def steps_from_proto(
    infos: Sequence[AgentInfoProto], spec: BehaviorSpec, where: str, id_offset: int = 0
) -> tuple[DecisionSteps, TerminalSteps]:
    """Split one behavior's agent infos into decision steps and terminal steps.

    Agent ids are ``id_offset + id`` so that agents of different workers never share an id.

    Raises:
        EnvError: an agent's observations do not match the behavior's spec (a spec that changed
            mid-run), a NaN or infinite reward, or a wrong action-mask length.
    """
    decision = [info for info in infos if not info.done]
    terminal = [info for info in infos if info.done]
    mask_width = sum(spec.action_spec.discrete_branches)
    n_obs = len(spec.observation_specs)
    for info in infos:
        if len(info.observations) != n_obs:
            raise EnvError(
                f"{where}: agent {info.id} sent {len(info.observations)} observations but the "
                f"behavior's spec has {n_obs} (did the behavior's spec change mid-run?)"
            )

    def observations(group: Sequence[AgentInfoProto]) -> list[np.ndarray]:
        result = []
        for index, obs_spec in enumerate(spec.observation_specs):
            protos = [info.observations[index] for info in group]
            for proto in protos:
                if observation_shape(proto.shape) != obs_spec.shape:
                    raise EnvError(
                        f"{where}: agent observation {index} has shape {list(proto.shape)} but the "
                        f"behavior's spec says {list(obs_spec.shape)} (a behavior's spec must not "
                        "change mid-run)"
                    )
            result.append(
                decode_observations(protos, obs_spec.shape, f"{where}, observation {index}")
            )
        return result

    def rewards(group: Sequence[AgentInfoProto]) -> np.ndarray:
        values = np.fromiter((info.reward for info in group), dtype=np.float32, count=len(group))
        if not np.isfinite(values).all():
            bad = next(info for info in group if not math.isfinite(info.reward))
            raise EnvError(f"{where}: agent {bad.id} sent a non-finite reward ({bad.reward})")
        return values

    def ids(group: Sequence[AgentInfoProto]) -> np.ndarray:
        return (
            np.fromiter((info.id for info in group), dtype=np.int64, count=len(group)) + id_offset
        )

    def groups(group: Sequence[AgentInfoProto]) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.fromiter((info.group_id for info in group), dtype=np.int64, count=len(group)),
            np.fromiter((info.group_reward for info in group), dtype=np.float32, count=len(group)),
        )

    mask = None
    if mask_width and any(len(info.action_mask) for info in decision):
        mask = np.zeros((len(decision), mask_width), dtype=bool)
        for row, info in enumerate(decision):
            if len(info.action_mask) == mask_width:
                mask[row] = info.action_mask
            elif len(info.action_mask):
                raise EnvError(
                    f"{where}: agent {info.id} sent an action mask of {len(info.action_mask)} "
                    f"entries, expected {mask_width} (the sum of the discrete branch sizes)"
                )
    decision_group, decision_group_reward = groups(decision)
    terminal_group, terminal_group_reward = groups(terminal)
    decision_steps = DecisionSteps(
        observations(decision), rewards(decision), ids(decision), mask,
        group_id=decision_group, group_reward=decision_group_reward,
    )  # fmt: skip
    terminal_steps = TerminalSteps(
        observations(terminal), rewards(terminal),
        np.fromiter((i.max_step_reached for i in terminal), dtype=bool, count=len(terminal)),
        ids(terminal), group_id=terminal_group, group_reward=terminal_group_reward,
    )  # fmt: skip
    return decision_steps, terminal_steps


# ------------------------------------------------------------------------------ actions
def actions_to_proto(actions: ActionTuple, action_spec: ActionSpec) -> list[AgentActionProto]:
    """One :class:`AgentActionProto` per agent, filling the current and the deprecated field.

    The deprecated ``vector_actions`` field carries the continuous actions, or the discrete ones
    as floats, as ML-Agents does for environments older than API 1.3.
    """
    n = len(actions)
    continuous = np.asarray(actions.continuous, dtype=np.float32).reshape(n, -1)
    discrete = np.asarray(actions.discrete, dtype=np.int64).reshape(n, -1)
    result = []
    cont_rows, disc_rows = continuous.tolist(), discrete.tolist()
    for i in range(n):
        proto = AgentActionProto(continuous_actions=cont_rows[i], discrete_actions=disc_rows[i])
        if action_spec.continuous_size:
            proto.vector_actions_deprecated.extend(cont_rows[i])
        else:
            proto.vector_actions_deprecated.extend(float(a) for a in disc_rows[i])
        result.append(proto)
    return result


def actions_from_proto(protos: Sequence[AgentActionProto], action_spec: ActionSpec) -> ActionTuple:
    """Actions of a batch of agents as an :class:`ActionTuple` (used by the environment side)."""
    n = len(protos)
    continuous = np.zeros((n, action_spec.continuous_size), dtype=np.float32)
    discrete = np.zeros((n, action_spec.discrete_size), dtype=np.int64)
    for i, proto in enumerate(protos):
        if action_spec.continuous_size:
            values = proto.continuous_actions or proto.vector_actions_deprecated
            continuous[i] = values[: action_spec.continuous_size]
        if action_spec.discrete_size:
            values = proto.discrete_actions or [int(v) for v in proto.vector_actions_deprecated]
            discrete[i] = values[: action_spec.discrete_size]
    return ActionTuple(continuous, discrete)
