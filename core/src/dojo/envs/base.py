"""The one environment API every provider implements (Gymnasium, Unity, remote, ...).

It mirrors ML-Agents' low-level API: an environment hosts one or more *behaviors*; each
behavior has a :class:`BehaviorSpec`; after :meth:`Environment.step` the agents of a behavior
that need a decision are in :class:`DecisionSteps` and those whose episode just ended are in
:class:`TerminalSteps` (an agent can be in both after an automatic reset). All data is batched
over agents: one numpy array per field, never a Python object per agent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dojo.api import Aggregation


@dataclass(frozen=True)
class ActionSpec:
    """Actions of a behavior: ``continuous_size`` floats plus one index per discrete branch."""

    continuous_size: int = 0
    discrete_branches: tuple[int, ...] = ()

    @property
    def discrete_size(self) -> int:
        """Number of discrete branches."""
        return len(self.discrete_branches)

    @property
    def is_hybrid(self) -> bool:
        return self.continuous_size > 0 and self.discrete_size > 0

    def empty(self, n_agents: int) -> ActionTuple:
        """Zero actions for ``n_agents`` agents."""
        return ActionTuple(
            np.zeros((n_agents, self.continuous_size), dtype=np.float32),
            np.zeros((n_agents, self.discrete_size), dtype=np.int64),
        )


@dataclass(frozen=True)
class ObservationSpec:
    """One observation of an agent: its shape (images channel-first ``[C, H, W]``) and name."""

    shape: tuple[int, ...]
    name: str = ""


@dataclass(frozen=True)
class BehaviorSpec:
    """What a behavior observes and how it acts."""

    observation_specs: tuple[ObservationSpec, ...]
    action_spec: ActionSpec


@dataclass
class ActionTuple:
    """Batched actions: ``continuous`` is ``[n, continuous_size]`` float32, ``discrete`` is
    ``[n, n_branches]`` int64."""

    continuous: np.ndarray
    discrete: np.ndarray

    def __len__(self) -> int:
        return max(len(self.continuous), len(self.discrete))


@dataclass
class DecisionSteps:
    """Agents of one behavior that request an action.

    Attributes:
        obs: one array per observation, each ``[n_agents, *shape]`` float32.
        reward: ``[n_agents]`` reward received since the previous decision.
        agent_id: ``[n_agents]`` int64 ids, stable for the agent's lifetime.
        action_mask: ``[n_agents, sum(discrete_branches)]`` bool where ``True`` means the action
            is *disabled* (as in the Unity protocol), or ``None`` when nothing is masked.
        group_id: ``[n_agents]`` int64 multi-agent group of each agent (0 = none), or ``None``.
        group_reward: ``[n_agents]`` float32 reward shared by the agent's group, or ``None``.
    """

    obs: list[np.ndarray]
    reward: np.ndarray
    agent_id: np.ndarray
    action_mask: np.ndarray | None = None
    group_id: np.ndarray | None = None
    group_reward: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.agent_id)


@dataclass
class TerminalSteps:
    """Agents of one behavior whose episode ended at this step.

    Attributes:
        obs: final observations, one array per observation, each ``[n_agents, *shape]``.
        reward: ``[n_agents]`` last reward of the episode.
        interrupted: ``[n_agents]`` bool, ``True`` when the episode was cut by a step limit
            (truncation) rather than reaching a terminal state: the value is bootstrapped.
        agent_id: ``[n_agents]`` int64 ids.
        group_id: ``[n_agents]`` int64 multi-agent group of each agent (0 = none), or ``None``.
        group_reward: ``[n_agents]`` float32 reward shared by the agent's group, or ``None``.
    """

    obs: list[np.ndarray]
    reward: np.ndarray
    interrupted: np.ndarray
    agent_id: np.ndarray
    group_id: np.ndarray | None = None
    group_reward: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.agent_id)


@dataclass(frozen=True)
class EnvironmentStat:
    """One custom statistic an environment reported (Unity's ``StatsRecorder.Add``).

    Attributes:
        key: the statistic's name, written as is (``"Custom/Coins"``).
        value: the value.
        aggregation: how the values of a summary period are combined.
    """

    key: str
    value: float
    aggregation: Aggregation


class Environment(ABC):
    """An environment with one or more behaviors, stepped in lock-step."""

    @property
    @abstractmethod
    def behavior_specs(self) -> Mapping[str, BehaviorSpec]:
        """Behavior name -> spec, known after :meth:`reset`."""

    @abstractmethod
    def reset(self) -> None:
        """Reset every episode; afterwards every agent is in the decision steps."""

    @abstractmethod
    def get_steps(self, behavior_name: str) -> tuple[DecisionSteps, TerminalSteps]:
        """Decision and terminal steps of ``behavior_name`` since the last step."""

    @abstractmethod
    def set_actions(self, behavior_name: str, actions: ActionTuple) -> None:
        """Actions for the agents of the latest decision steps, in their order."""

    @abstractmethod
    def step(self) -> None:
        """Advance the simulation with the actions set."""

    @abstractmethod
    def close(self) -> None:
        """Release every resource (processes, sockets). Safe to call twice."""

    def behavior_ids(self, behavior_name: str) -> tuple[str, ...]:
        """The environment's own ids of ``behavior_name``: a Unity build's fully qualified
        ``Name?team=N``, one per team (see :mod:`dojo.envs.behavior_ids`). By default the
        behavior has one id, its name."""
        return (behavior_name,)

    def set_environment_parameters(self, parameters: Mapping[str, float]) -> None:
        """Apply environment parameters (curricula, samplers); ignored by default."""
        del parameters

    def take_stats(self) -> list[EnvironmentStat]:
        """Custom statistics reported since the previous call; none by default.

        The training loop adds them to the statistics of every behavior.
        """
        return []

    def take_dropped_agents(self) -> dict[str, np.ndarray]:
        """Agents whose unfinished experience must be discarded since the previous call.

        Returns behavior name -> agent ids; an environment whose worker crashed and was restarted
        reports that worker's agents, so their partial trajectories are not glued to the
        restarted worker's new episodes. None by default.
        """
        return {}

    @property
    def num_workers(self) -> int:
        """Number of parallel copies (for information and throughput reports)."""
        return 1

    @property
    def description(self) -> str:
        """What the environment is, for messages (``gymnasium:CartPole-v1``)."""
        return type(self).__name__
