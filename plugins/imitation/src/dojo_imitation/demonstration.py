"""A demonstration: the steps one behavior's agents took, as recorded in ML-Agents .demo files.

Each array holds one row per recorded agent step, in file order (steps of several agents may be
interleaved; ``agent_ids`` tells them apart). The reward and done flag of a row are those the
agent reported with that step's observations, as stored in the file: ML-Agents' loader pairs
step ``i``'s observations with the reward and done flag of step ``i + 1`` when it builds its
training buffer, and so will the trainers of this plugin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dojo.api import BehaviorSpec, DojoError
from dojo.envs.behavior_ids import parse_behavior_id


class DemonstrationError(DojoError):
    """A .demo file (or folder of them) that cannot be read or written; the message names it."""


@dataclass(frozen=True, eq=False)
class Demonstration:
    """Recorded steps of one behavior (see the module docstring for the row order).

    Attributes:
        demonstration_name: the name Unity's recorder stored in the file (its file name without
            ``.demo``); for a folder, the names of its files joined by ``+``.
        behavior_id: the fully qualified behavior id, ``?team=`` part included
            (``"3DBall?team=0"``); files of old versions may store a bare name.
        behavior_spec: observation shapes (images ``[C, H, W]``) and the action spec.
        observations: one ``[steps, *shape]`` float32 array per observation of the spec.
        continuous_actions: ``[steps, continuous_size]`` float32.
        discrete_actions: ``[steps, branches]`` int64.
        rewards: ``[steps]`` float32, the reward reported with each step.
        dones: ``[steps]`` bool, whether the step ended its agent's episode.
        interrupted: ``[steps]`` bool, whether that end was the maximum step count.
        agent_ids: ``[steps]`` int64, the recording agent's id.
        action_masks: ``[steps, sum of branch sizes]`` bool (True = action disabled), or None
            when no step carried a mask.
        number_episodes: episodes as Unity counts them: the done flags plus one per file (the
            recorder closes the episode in progress when it stops).
        mean_reward: the total reward divided by ``number_episodes``, as Unity computes it.
        legacy_action_fields: the file stored the action spec and the actions in the fields that
            ML-Agents deprecated at API 1.3 (``vector_action_size_deprecated``,
            ``vector_actions_deprecated``); the writer keeps that layout.
        sources: the files read (empty for a demonstration made in memory).
    """

    demonstration_name: str
    behavior_id: str
    behavior_spec: BehaviorSpec
    observations: tuple[np.ndarray, ...]
    continuous_actions: np.ndarray
    discrete_actions: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    interrupted: np.ndarray
    agent_ids: np.ndarray
    action_masks: np.ndarray | None
    number_episodes: int
    mean_reward: float
    legacy_action_fields: bool = False
    sources: tuple[Path, ...] = ()

    @property
    def behavior_name(self) -> str:
        """The behavior name users see: the id without its ``?team=`` part (``"3DBall"``)."""
        return parse_behavior_id(self.behavior_id).name

    @property
    def steps(self) -> int:
        """Number of recorded agent steps."""
        return len(self.rewards)


def unity_episode_statistics(rewards: np.ndarray, dones: np.ndarray) -> tuple[int, float]:
    """``(number_episodes, mean_reward)`` of one file's steps, computed as Unity's recorder does.

    Unity's ``DemonstrationWriter`` counts an episode for every done flag and one more when it
    closes, and divides the float32 sum of the rewards by that count.
    """
    episodes = int(np.count_nonzero(dones)) + 1
    total = np.float32(0.0)
    for reward in np.asarray(rewards, dtype=np.float32):
        total = np.float32(total + reward)  # float32 accumulation, like C#'s float
    return episodes, float(np.float32(total / np.float32(episodes)))


def concatenate(demonstrations: Sequence[Demonstration]) -> Demonstration:
    """The steps of several demonstrations of the same behavior, one after the other.

    Raises:
        DemonstrationError: the demonstrations record different behaviors or specs.
    """
    first = demonstrations[0]
    if len(demonstrations) == 1:
        return first
    for other in demonstrations[1:]:
        if other.behavior_name != first.behavior_name or other.behavior_spec != first.behavior_spec:
            raise DemonstrationError(
                f"{_where(other)} records behavior {other.behavior_name!r} with "
                f"{describe_spec(other.behavior_spec)} but {_where(first)} records "
                f"{first.behavior_name!r} with {describe_spec(first.behavior_spec)}: the .demo "
                "files of one folder must come from the same behavior"
            )
    widths = {0 if d.action_masks is None else d.action_masks.shape[1] for d in demonstrations}
    masks = None
    if any(d.action_masks is not None for d in demonstrations):
        width = max(widths)
        masks = np.concatenate(
            [
                np.zeros((d.steps, width), dtype=bool) if d.action_masks is None else d.action_masks
                for d in demonstrations
            ]
        )
    episodes = sum(d.number_episodes for d in demonstrations)
    total = sum(d.mean_reward * d.number_episodes for d in demonstrations)

    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(d, name) for d in demonstrations])

    return Demonstration(
        demonstration_name="+".join(d.demonstration_name for d in demonstrations),
        behavior_id=first.behavior_id,
        behavior_spec=first.behavior_spec,
        observations=tuple(
            np.concatenate([d.observations[i] for d in demonstrations])
            for i in range(len(first.observations))
        ),
        continuous_actions=joined("continuous_actions"),
        discrete_actions=joined("discrete_actions"),
        rewards=joined("rewards"),
        dones=joined("dones"),
        interrupted=joined("interrupted"),
        agent_ids=joined("agent_ids"),
        action_masks=masks,
        number_episodes=episodes,
        mean_reward=total / episodes,
        legacy_action_fields=all(d.legacy_action_fields for d in demonstrations),
        sources=tuple(path for d in demonstrations for path in d.sources),
    )


def _where(demonstration: Demonstration) -> str:
    if demonstration.sources:
        return str(demonstration.sources[0])
    return f"demonstration {demonstration.demonstration_name!r}"


def describe_spec(spec: BehaviorSpec) -> str:
    """``observations [8], [3, 84, 84], 2 continuous actions and discrete branches [3]``."""
    shapes = ", ".join(str(list(o.shape)) for o in spec.observation_specs)
    action = spec.action_spec
    return (
        f"observations {shapes or 'none'}, {action.continuous_size} continuous actions and "
        f"discrete branches {list(action.discrete_branches)}"
    )
