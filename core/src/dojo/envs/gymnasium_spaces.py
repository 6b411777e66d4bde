"""Conversion between Gymnasium spaces and dojo's observation and action specs.

Decided once per environment, so that the step loop only calls :meth:`ObservationCodec.encode`
and :meth:`ActionCodec.decode` on whole batches (one vectorised numpy op per observation or
action part, never per-element Python work).

Observations (one :class:`~dojo.envs.base.ObservationSpec` per leaf space):

- ``Box`` of rank 1 (or a scalar, stored as a 1-vector): a float32 vector.
- ``Box`` of rank 3: an image, given to the policy channel-first ``[C, H, W]`` (the ML-Agents
  model contract). Gymnasium images are channel-last ``[H, W, C]``, so they are transposed,
  unless the first axis looks like channels (at most 4) and the last does not. ``uint8`` images
  are scaled to float32 in [0, 1], like Unity's cameras; other dtypes keep their values.
- ``Box`` of rank 2 and dtype ``uint8``: a grayscale image ``[1, H, W]`` in [0, 1]. Other
  ``Box`` ranks keep their shape (the torch layer says which ranks it can encode).
- ``Discrete``: one-hot vector; ``MultiDiscrete``: the one-hot vectors of its entries, concatenated;
  ``MultiBinary``: a float32 vector of 0s and 1s.
- ``Dict`` and ``Tuple`` (nested too): several observations, in sorted key order for a ``Dict``
  and in order for a ``Tuple``, each named by its key path (``"image"``, ``"sensors.lidar"``).
  Sub-spaces that cannot be encoded (``Text``, ``Graph``, ``Sequence``, ...) are left out with a
  logged notice: MiniGrid's ``{direction, image, mission}`` becomes ``direction`` (one-hot) and
  ``image``, without the mission string.

Actions (one :class:`~dojo.envs.base.ActionSpec`):

- ``Box``: continuous; the policy's actions in [-1, 1] are mapped linearly onto finite bounds
  (dimensions with an infinite bound pass through).
- ``Discrete``: one branch; ``MultiDiscrete`` and ``MultiBinary``: one branch per entry.
- ``Tuple`` and ``Dict`` (nested too) of those: a hybrid action. The continuous parts are
  concatenated in order (sorted keys for a ``Dict``) and the discrete parts become consecutive
  branches; each copy receives a tuple (or dict) built back from its row.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from dojo.envs.base import ActionSpec, ActionTuple, ObservationSpec
from dojo.errors import EnvError

__all__ = ["ActionCodec", "ObservationCodec", "WrongData", "make_action_codec", "reward_mismatch"]

logger = logging.getLogger("dojo.envs")

# Gymnasium's channel-last images have 1 (gray), 3 (RGB) or 4 (RGBA, stacked frames) channels.
_MAX_CHANNELS = 4
_COMPOSITE = (spaces.Dict, spaces.Tuple)


def _children(space: spaces.Dict | spaces.Tuple) -> list[tuple[Any, gym.Space]]:
    """``(key, sub-space)`` pairs: sorted keys for a Dict (when sortable), indices for a Tuple."""
    if isinstance(space, spaces.Tuple):
        return list(enumerate(space.spaces))
    try:
        return sorted(space.spaces.items())
    except TypeError:  # keys of mixed types keep the space's own order
        return list(space.spaces.items())


# --------------------------------------------------------------------------------------------
# Data that does not fit the spaces
# --------------------------------------------------------------------------------------------


class WrongData(ValueError):
    """A copy returned an observation (or a reward) its space does not allow.

    ``args`` are ``(copy, what, detail)``: copy index (``-1``: unknown), ``"observation"``,
    ``"final observation"`` or ``"reward"``, and what was expected and what came. Raised in a
    worker process too: Gymnasium re-raises it in the trainer as ``type(err)(err)``, which
    keeps the arguments.
    """

    def __init__(self, *args: Any) -> None:
        if len(args) == 1 and isinstance(args[0], WrongData):
            args = args[0].args
        super().__init__(*args)

    def message(self, env_name: str, step: int) -> str:
        """The user's message: the environment, the copy, the step, expected vs got."""
        copy, what, detail = self.args
        who = "a copy" if copy < 0 else f"copy {copy}"
        return f"{env_name}: {who} returned a wrong {what} at step {step}: {detail}"


def describe(value: Any) -> str:
    """A short description of what an environment returned (type, dtype, shape)."""
    if isinstance(value, np.ndarray):
        article = "an" if value.dtype.name[0] in "aeiou" else "a"
        return f"{article} {value.dtype} array of shape {value.shape}"
    if isinstance(value, (str, bytes)):
        return f"the {type(value).__name__} {value!r:.40}"
    if isinstance(value, dict):
        return f"a dict with keys {list(value)!r:.80}"
    if isinstance(value, (bool, int, float, np.generic)):
        return f"the {type(value).__name__} {value!r:.40}"
    try:
        shape = np.shape(value)
    except Exception:  # ragged nested lists
        return f"a ragged {type(value).__name__}"
    return f"a {type(value).__name__} of shape {shape}"


def reward_mismatch(reward: Any) -> str | None:
    """Why ``reward`` is not a number (``None`` when it is one)."""
    kind = type(reward)
    if kind is float or kind is int:
        return None
    if isinstance(reward, (bool, int, float, np.integer, np.floating)):
        return None
    if isinstance(reward, np.ndarray) and reward.size == 1 and reward.dtype.kind in "biuf":
        return None
    return f"expected a number, got {describe(reward)}"


# --------------------------------------------------------------------------------------------
# Observations
# --------------------------------------------------------------------------------------------


class _ObservationPart:
    """One leaf observation space: where it sits in a (nested) observation and how it is
    batched into a float32 array."""

    def __init__(self, space: gym.Space, path: tuple[Any, ...]) -> None:
        self.path = path
        self.space = space
        self.kind = "vector"
        self.transpose = False
        self.scale: np.float32 | None = None
        # The shape of one copy's value as the space defines it (Discrete: a scalar).
        self.raw_shape: tuple[int, ...] = tuple(space.shape or ())
        # (Multi)Discrete: each entry's first value and number of values.
        self.start_flat = self.high = np.zeros(0, np.int64)
        if isinstance(space, spaces.Box):
            shape = tuple(space.shape) or (1,)
            is_uint8 = np.dtype(space.dtype) == np.uint8
            if len(shape) == 3:
                self.kind = "image"
                channels_first = shape[0] <= _MAX_CHANNELS < shape[2]
                self.transpose = not channels_first
                if self.transpose:
                    shape = (shape[2], shape[0], shape[1])
            elif len(shape) == 2 and is_uint8:
                self.kind = "image"
                shape = (1, *shape)
            if self.kind == "image" and is_uint8:
                self.scale = np.float32(1.0 / 255.0)
        elif isinstance(space, spaces.Discrete):
            self.kind = "one_hot"
            self.start = int(space.start)
            shape = (int(space.n),)
            self.start_flat, self.high = np.array([self.start]), np.array([int(space.n)])
        elif isinstance(space, spaces.MultiDiscrete):
            self.kind = "multi_one_hot"
            nvec = np.asarray(space.nvec, dtype=np.int64).reshape(-1)
            self.start_flat = np.asarray(space.start, dtype=np.int64).reshape(-1)
            self.high = nvec
            # Column of each entry's value 0 in the concatenated one-hot vector.
            self.offsets = np.concatenate([[0], np.cumsum(nvec)[:-1]]).astype(np.int64)
            shape = (int(nvec.sum()),)
        elif isinstance(space, spaces.MultiBinary):
            shape = (int(np.prod(space.shape)),)
        else:
            raise TypeError(type(space).__name__)
        self.shape: tuple[int, ...] = shape
        self.spec = ObservationSpec(shape, name=".".join(str(p) for p in path) or "observation")

    def _values(self, observations: Sequence[Any]) -> list[Any]:
        if not self.path:
            return list(observations)
        values = []
        for obs in observations:
            for key in self.path:
                obs = obs[key]
            values.append(obs)
        return values

    def encode(self, observations: Sequence[Any]) -> np.ndarray:
        """A fresh ``[n, *shape]`` float32 batch of this part of ``observations``.

        Raises:
            Exception: a value does not fit the space (:meth:`mismatch` says which and why).
                The checks are attribute comparisons on the whole batch.
        """
        n = len(observations)
        values = self._values(observations)
        if self.kind == "one_hot" or self.kind == "multi_one_hot":
            return self._one_hot(n, np.asarray(values))
        if self.kind == "vector":
            # np.array of the list is as fast as filling rows in place, and always a copy.
            batch = np.array(values, dtype=np.float32)
            if batch.shape[1:] != self.raw_shape:
                raise ValueError("shape")
            return batch.reshape(n, *self.shape)
        raw = np.asarray(values)
        if raw.shape[1:] != self.raw_shape or raw.dtype.kind not in "biuf":
            raise ValueError("shape")
        raw = raw.transpose(0, 3, 1, 2) if self.transpose else raw.reshape(n, *self.shape)
        # One vectorised conversion per batch, written C-contiguous (what the convolutions need).
        batch = np.empty((n, *self.shape), dtype=np.float32)
        if self.scale is None:
            batch[...] = raw
        else:
            np.multiply(raw, self.scale, out=batch, dtype=np.float32, casting="unsafe")
        return batch

    def _one_hot(self, n: int, raw: np.ndarray) -> np.ndarray:
        if raw.shape[1:] != self.raw_shape or raw.dtype.kind not in "biu":
            raise ValueError("shape")
        batch = np.zeros((n, *self.shape), dtype=np.float32)
        if self.kind == "one_hot":
            index = raw.astype(np.int64) - self.start
            if n and (index.min() < 0 or index.max() >= self.high[0]):
                raise ValueError("range")
            batch[np.arange(n), index] = 1.0
            return batch
        entries = raw.astype(np.int64).reshape(n, -1) - self.start_flat
        if n and ((entries < 0) | (entries >= self.high)).any():
            raise ValueError("range")
        batch[np.arange(n)[:, None], entries + self.offsets] = 1.0
        return batch

    def mismatch(self, value: Any) -> str | None:
        """Why one copy's ``value`` does not fit this part's space (``None`` when it fits)."""
        if (
            type(value) is np.ndarray
            and value.shape == self.raw_shape
            and value.dtype.kind in "biuf"
            and self.kind not in ("one_hot", "multi_one_hot")
        ):
            return None  # the common case, without a copy
        try:
            array = np.asarray(value)
        except Exception:  # ragged nested lists
            array = np.asarray(None)
        integral = self.kind in ("one_hot", "multi_one_hot")
        if array.shape == self.raw_shape and array.dtype.kind in ("biu" if integral else "biuf"):
            if not integral:
                return None
            entries = array.astype(np.int64).reshape(-1) - self.start_flat
            if not ((entries < 0) | (entries >= self.high)).any():
                return None
        return f"expected {self._expected()}, got {describe(value)}"

    def _expected(self) -> str:
        space = self.space
        if isinstance(space, spaces.Box):
            return f"an array of shape {self.raw_shape} (Box space of {space.dtype})"
        if isinstance(space, spaces.MultiBinary):
            return f"an array of shape {self.raw_shape} ({space})"
        what = "an integer" if self.kind == "one_hot" else f"integers of shape {self.raw_shape}"
        return f"{what} in {space}"[:200]


class ObservationCodec:
    """Turns the observations of ``n`` copies into one float32 batch array per observation.

    Args:
        space: the environment's observation space.
        env_name: names the environment in error messages.

    Attributes:
        specs: one :class:`ObservationSpec` per observation, in batch order.

    Raises:
        EnvError: the space (or every sub-space of a Dict/Tuple) cannot be encoded.
    """

    def __init__(self, space: gym.Space, env_name: str) -> None:
        self.parts: list[_ObservationPart] = []
        skipped: list[str] = []
        if isinstance(space, _COMPOSITE):
            self._collect(space, (), skipped)
        else:
            try:
                self.parts.append(_ObservationPart(space, ()))
            except TypeError as err:
                raise EnvError(self._unsupported(env_name, space)) from err
        if not self.parts:
            raise EnvError(self._unsupported(env_name, space))
        if skipped:
            logger.info(
                "%s: observation parts %s cannot be encoded and are left out of the policy's "
                "observations",
                env_name,
                ", ".join(skipped),
            )
        self.specs = tuple(part.spec for part in self.parts)

    def _collect(self, space: gym.Space, path: tuple[Any, ...], skipped: list[str]) -> None:
        for key, sub in _children(space):
            sub_path = (*path, key)
            if isinstance(sub, _COMPOSITE):
                self._collect(sub, sub_path, skipped)
                continue
            try:
                self.parts.append(_ObservationPart(sub, sub_path))
            except TypeError:
                skipped.append(f"{'.'.join(str(p) for p in sub_path)} ({type(sub).__name__})")

    @staticmethod
    def _unsupported(env_name: str, space: gym.Space) -> str:
        return (
            f"{env_name}: observation space {space} is not supported; the gymnasium provider "
            "handles Box (vectors and images), Discrete, MultiDiscrete and MultiBinary "
            "observations, and Dict/Tuple spaces of them (wrap others, e.g. with "
            "gymnasium.wrappers.FlattenObservation)"
        )

    def encode(self, observations: Sequence[Any]) -> list[np.ndarray]:
        """Fresh batch arrays ``[n, *spec.shape]`` float32, one per observation.

        Raises:
            WrongData: an observation does not fit the space; its copy is the row in
                ``observations`` (``-1`` if no single row is to blame).
        """
        try:
            return [part.encode(observations) for part in self.parts]
        except Exception as err:
            for row, observation in enumerate(observations):
                detail = self.mismatch(observation)
                if detail is not None:
                    raise WrongData(row, "observation", detail) from err
            raise WrongData(-1, "observation", f"{type(err).__name__}: {err}") from err

    def mismatch(self, observation: Any) -> str | None:
        """Why one copy's ``observation`` does not fit the space (``None`` when it fits)."""
        for part in self.parts:
            value = observation
            for depth, key in enumerate(part.path):
                try:
                    value = value[key]
                except Exception:
                    where = ".".join(str(p) for p in part.path[:depth]) or "the observation"
                    return f"expected an entry {key!r} in {where}, got {describe(value)}"
            detail = part.mismatch(value)
            if detail is not None:
                return f"{part.spec.name}: {detail}" if part.path else detail
        return None


# --------------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------------


class ActionCodec(ABC):
    """Maps a batched :class:`ActionTuple` onto one Gymnasium action per copy.

    Attributes:
        action_spec: the behavior's action spec.
    """

    action_spec: ActionSpec

    @abstractmethod
    def decode(self, actions: ActionTuple) -> Sequence[Any]:
        """One Gymnasium action per copy. Actions are fresh each step, so an environment that
        keeps a reference to its action never sees it change."""


class _ContinuousCodec(ActionCodec):
    def __init__(self, space: spaces.Box) -> None:
        self.shape = tuple(space.shape)
        self.dtype = space.dtype
        low = np.asarray(space.low, dtype=np.float64).reshape(-1)
        high = np.asarray(space.high, dtype=np.float64).reshape(-1)
        finite = np.isfinite(low) & np.isfinite(high)
        # Finite dimensions map [-1, 1] linearly onto [low, high]; clipping to the bounds
        # afterwards equals clipping the policy's action to [-1, 1] first. Dimensions with an
        # infinite bound pass through (clipped only to their finite bound, if any).
        low_f, high_f = np.where(finite, low, 0.0), np.where(finite, high, 0.0)
        self.scale = np.where(finite, (high_f - low_f) / 2.0, 1.0)
        self.offset = (high_f + low_f) / 2.0
        self.low, self.high = low, high
        self.action_spec = ActionSpec(continuous_size=int(low.size))

    def decode(self, actions: ActionTuple) -> Sequence[Any]:
        mapped = np.clip(actions.continuous * self.scale + self.offset, self.low, self.high)
        return mapped.astype(self.dtype, copy=False).reshape(len(mapped), *self.shape)


class _DiscreteCodec(ActionCodec):
    def __init__(self, space: spaces.Discrete) -> None:
        self.start = int(space.start)
        self.action_spec = ActionSpec(discrete_branches=(int(space.n),))

    def decode(self, actions: ActionTuple) -> Sequence[Any]:
        # Python ints: the fastest thing to hand to env.step, and Discrete.contains takes them.
        branch = actions.discrete[:, 0]
        return (branch + self.start if self.start else branch).tolist()


class _MultiDiscreteCodec(ActionCodec):
    def __init__(self, space: spaces.MultiDiscrete | spaces.MultiBinary) -> None:
        if isinstance(space, spaces.MultiBinary):
            nvec = np.full(space.shape, 2, dtype=np.int64)
            start = np.zeros(space.shape, dtype=np.int64)
        else:
            nvec, start = space.nvec, space.start
        self.shape = tuple(nvec.shape)
        self.dtype = space.dtype
        self.start_flat = np.asarray(start, dtype=np.int64).reshape(-1)
        self.action_spec = ActionSpec(discrete_branches=tuple(int(n) for n in nvec.reshape(-1)))

    def decode(self, actions: ActionTuple) -> Sequence[Any]:
        mapped = actions.discrete + self.start_flat
        return mapped.astype(self.dtype, copy=False).reshape(len(mapped), *self.shape)


class _CompositeCodec(ActionCodec):
    """A Tuple or Dict of action spaces: one hybrid action spec, each part decoded from its own
    columns, then zipped back into one tuple (or dict) per copy."""

    def __init__(self, space: spaces.Tuple | spaces.Dict, env_name: str) -> None:
        children = _children(space)
        self.keys = None if isinstance(space, spaces.Tuple) else [key for key, _ in children]
        self.parts: list[tuple[ActionCodec, slice, slice]] = []
        continuous, branches = 0, []
        for _, sub in children:
            codec = make_action_codec(sub, env_name)
            spec = codec.action_spec
            columns = slice(continuous, continuous + spec.continuous_size)
            branch_columns = slice(len(branches), len(branches) + spec.discrete_size)
            self.parts.append((codec, columns, branch_columns))
            continuous += spec.continuous_size
            branches += spec.discrete_branches
        self.action_spec = ActionSpec(continuous, tuple(branches))

    def decode(self, actions: ActionTuple) -> Sequence[Any]:
        per_part = [
            codec.decode(ActionTuple(actions.continuous[:, columns], actions.discrete[:, branches]))
            for codec, columns, branches in self.parts
        ]
        if self.keys is None:
            return list(zip(*per_part, strict=True))
        keys = self.keys
        return [dict(zip(keys, row, strict=True)) for row in zip(*per_part, strict=True)]


def make_action_codec(space: gym.Space, env_name: str) -> ActionCodec:
    """The codec of ``space``.

    Raises:
        EnvError: the space (or one of its parts) is not supported.
    """
    if isinstance(space, spaces.Box):
        return _ContinuousCodec(space)
    if isinstance(space, spaces.Discrete):
        return _DiscreteCodec(space)
    if isinstance(space, (spaces.MultiDiscrete, spaces.MultiBinary)):
        return _MultiDiscreteCodec(space)
    if isinstance(space, _COMPOSITE):
        return _CompositeCodec(space, env_name)
    raise EnvError(
        f"{env_name}: action space {space} is not supported; the gymnasium provider handles "
        "Box (continuous), Discrete, MultiDiscrete and MultiBinary actions, and Tuple/Dict "
        "spaces of them (hybrid actions)"
    )
