"""Contracts that plugins implement: trainers, reward signals, stats writers.

(The trainer contract itself is defined in :mod:`dojo.trainer`, the add-on and wrapper
contracts in :mod:`dojo.extensions`; import them from here.)

Each contract is a small abstract class, constructed with keyword arguments only, and fully
formed when ``__init__`` returns. Registration happens through the hooks in
:mod:`dojo.hookspecs`; construction is done by the core from the validated YAML.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dojo.envs.base import ActionTuple, BehaviorSpec
from dojo.envs.base import DecisionSteps as DecisionSteps
from dojo.trainer import Trainer as Trainer
from dojo.trainer import TrainerContext as TrainerContext

if TYPE_CHECKING:
    from dojo.config.settings import RewardSignalSettings, RunOptions


# --------------------------------------------------------------------------------------------
# Run facts handed to lifecycle hooks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunInfo:
    """Facts about a run, passed to lifecycle hooks and stats writers."""

    run_id: str
    run_dir: Path
    options: RunOptions
    behaviors: tuple[str, ...] = ()
    cli_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckpointInfo:
    """A checkpoint written for one behavior."""

    behavior_name: str
    step: int
    pt_path: Path
    onnx_path: Path | None
    reward: float | None
    creation_time: float
    final: bool = False


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


class Aggregation(Enum):
    """How values of one statistic are combined over a summary period (as in ML-Agents)."""

    AVERAGE = 0
    MOST_RECENT = 1
    SUM = 2
    HISTOGRAM = 3


@dataclass(frozen=True)
class StatsSummary:
    """Summary of one statistic over a summary period."""

    full_dist: tuple[float, ...]
    aggregation: Aggregation

    @property
    def mean(self) -> float:
        return float(np.mean(self.full_dist)) if self.full_dist else 0.0

    @property
    def std(self) -> float:
        return float(np.std(self.full_dist)) if self.full_dist else 0.0

    @property
    def sum(self) -> float:
        return float(np.sum(self.full_dist))

    @property
    def num(self) -> int:
        return len(self.full_dist)

    @property
    def value(self) -> float:
        """The scalar written for this statistic, per its aggregation."""
        if self.aggregation is Aggregation.SUM:
            return self.sum
        if self.aggregation is Aggregation.MOST_RECENT:
            return self.full_dist[-1] if self.full_dist else 0.0
        return self.mean


class StatsWriter(ABC):
    """Receives summaries every ``summary_freq`` steps.

    Constructed as ``Writer(run=RunInfo)``.
    """

    @abstractmethod
    def write_stats(self, category: str, values: Mapping[str, StatsSummary], step: int) -> None:
        """Write the summaries of behavior ``category`` at ``step``."""

    def add_property(self, category: str, key: str, value: Any) -> None:  # noqa: B027
        """Receive a non-scalar fact (e.g. ``"hyperparameters"``); ignored by default."""

    def close(self) -> None:  # noqa: B027
        """Flush and release files; called once at the end of the run."""


# --------------------------------------------------------------------------------------------
# Trajectories
# --------------------------------------------------------------------------------------------


@dataclass
class Trajectory:
    """Consecutive experiences of one agent, cut at ``time_horizon`` or at episode end.

    Step ``t`` holds the observation the agent acted on, the action it took and the reward
    it received *for that action*. ``next_obs`` is the observation after the last step (the
    true final observation when the episode ended), used for bootstrapping.

    Attributes:
        obs: one array per observation, each ``[T, *shape]``.
        next_obs: one array per observation, each ``[*shape]``.
        actions: ``[T, ...]`` actions taken.
        action_mask: ``[T, sum(branches)]`` bool (True = disabled) or ``None``.
        rewards: ``[T]`` float32 environment rewards.
        extras: per-step policy outputs stored at act time (``[T, ...]`` arrays keyed by name,
            e.g. ``"log_probs"``), exactly as the trainer's :meth:`Trainer.act` returned them.
        done: the episode ended at the last step.
        interrupted: it ended by a step limit (truncation), so the value is bootstrapped.
        agent_id: the agent's id.
    """

    obs: list[np.ndarray]
    next_obs: list[np.ndarray]
    actions: ActionTuple
    action_mask: np.ndarray | None
    rewards: np.ndarray
    extras: dict[str, np.ndarray]
    done: bool
    interrupted: bool
    agent_id: int

    def __len__(self) -> int:
        return len(self.rewards)


@dataclass
class ActionOutput:
    """What a policy returns for a batch of decision steps.

    Attributes:
        actions: actions to send to the environment, ``[n_agents, ...]``.
        extras: per-agent arrays ``[n_agents, ...]`` to store in the trajectory (log
            probabilities, memories, ...); the agent processor copies them without looking.
        entropy: mean entropy of the action distribution over the batch (for
            ``Policy/Entropy``), or ``None``.
    """

    actions: ActionTuple
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    entropy: float | None = None


# --------------------------------------------------------------------------------------------
# Reward signals
# --------------------------------------------------------------------------------------------


@dataclass
class SignalBatch:
    """Transitions a reward signal rewards or learns from (numpy, batch-first).

    Attributes:
        obs: one array per observation, ``[B, *shape]``: what the agent saw.
        next_obs: one array per observation, ``[B, *shape]``: what it saw after acting.
        continuous: ``[B, continuous_size]`` actions as the environment received them.
        discrete: ``[B, n_branches]`` int64 actions.
        rewards: ``[B]`` environment rewards.
        done: ``[B]`` float, 1 where the episode truly ended after the transition.
    """

    obs: list[np.ndarray]
    next_obs: list[np.ndarray]
    continuous: np.ndarray
    discrete: np.ndarray
    rewards: np.ndarray
    done: np.ndarray

    def __len__(self) -> int:
        return len(self.rewards)

    @classmethod
    def from_trajectory(cls, trajectory: Trajectory) -> SignalBatch:
        """The transitions of one trajectory (its ``next_obs`` closes the last one)."""
        n = len(trajectory)
        done = np.zeros(n, np.float32)
        if trajectory.done and not trajectory.interrupted:
            done[-1] = 1.0
        return cls(
            obs=trajectory.obs,
            next_obs=[
                np.concatenate([o[1:], nxt[None]])
                for o, nxt in zip(trajectory.obs, trajectory.next_obs, strict=True)
            ],
            continuous=trajectory.actions.continuous,
            discrete=trajectory.actions.discrete,
            rewards=trajectory.rewards,
            done=done,
        )


class RewardSignal(ABC):
    """A source of reward that a trainer optimises (extrinsic, curiosity, GAIL, ...).

    Constructed as ``Signal(name=..., settings=..., behavior_spec=..., device=...)``. Trainers
    call :meth:`evaluate` on the transitions they learn from and :meth:`update` on their
    minibatches (both :class:`SignalBatch`); signals that train networks of their own persist
    them through :meth:`state_dict`.

    Attributes:
        name: the key under ``reward_signals`` (``"extrinsic"``).
        strength: multiplier applied to :meth:`evaluate`'s rewards.
        gamma: discount factor of this signal's own value head.
    """

    #: Suffix of the ``Policy/<Stat> Reward`` and ``Policy/<Stat> Value Estimate`` tags.
    stat_name: str = ""

    def __init__(
        self,
        *,
        name: str,
        settings: RewardSignalSettings,
        behavior_spec: BehaviorSpec,
        device: str = "cpu",
    ) -> None:
        self.name = name
        self.settings = settings
        self.behavior_spec = behavior_spec
        self.device = device
        self.strength = float(settings.strength)
        self.gamma = float(settings.gamma)
        if not self.stat_name:
            self.stat_name = name.capitalize()

    @abstractmethod
    def evaluate(self, batch: SignalBatch) -> np.ndarray:
        """Rewards ``[B]`` for the transitions of ``batch``, *before* :attr:`strength`."""

    def update(self, batch: SignalBatch) -> dict[str, float]:
        """Train the signal's own networks on a trainer minibatch.

        Returns:
            Statistics to report, tag -> value (e.g. ``{"Losses/RND Loss": 0.1}``).
        """
        del batch
        return {}

    @property
    def learns(self) -> bool:
        """Whether :meth:`update` trains anything (trainers skip building batches otherwise)."""
        return type(self).update is not RewardSignal.update

    def state_dict(self) -> dict[str, Any]:
        """Tensors to put in checkpoints (empty when the signal has no parameters)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> list[str] | None:
        """Restore what :meth:`state_dict` returned, as much as fits the signal's networks
        (saved with other network settings, some parts may not; see
        :class:`dojo.torch_layer.checkpoint.CheckpointLoader` and
        :func:`~dojo.torch_layer.checkpoint.load_matching`).

        Returns:
            The parts that did not fit and keep their initial values, one description each
            (named in the trainer's warning), or ``None`` when everything loaded.
        """
        del state
        return None


# --------------------------------------------------------------------------------------------
# Environment parameters: samplers and lesson completion criteria
# --------------------------------------------------------------------------------------------


class Sampler(ABC):
    """Draws values of an environment parameter (``sampler_type`` in YAML).

    Constructed as ``Sampler(seed=..., **sampler_parameters)`` where the parameters were
    validated by the schema the sampler registered.
    """

    def __init__(self, *, seed: int = -1) -> None:
        self.seed = int(seed)
        self.rng = np.random.default_rng(None if self.seed < 0 else self.seed)

    @abstractmethod
    def sample(self) -> float:
        """One value of the parameter."""


@dataclass(frozen=True)
class LessonProgress:
    """What a completion criterion can measure about one behavior.

    Attributes:
        step: the behavior's trainer step.
        max_steps: the behavior's ``max_steps``.
        episode_rewards: cumulative rewards of the episodes finished during the lesson.
    """

    step: int
    max_steps: int
    episode_rewards: tuple[float, ...]


class CompletionCriterion(ABC):
    """Measures how far a behavior is in a curriculum lesson (``measure`` in YAML).

    Constructed as ``Criterion(**completion_criteria)`` (behavior, threshold,
    min_lesson_length, signal_smoothing, require_reset, measure).
    """

    def __init__(
        self,
        *,
        behavior: str,
        measure: str,
        threshold: float = 0.0,
        min_lesson_length: int = 0,
        signal_smoothing: bool = True,
        require_reset: bool = False,
    ) -> None:
        self.behavior = behavior
        self.measure_name = measure
        self.threshold = float(threshold)
        self.min_lesson_length = int(min_lesson_length)
        self.signal_smoothing = bool(signal_smoothing)
        self.require_reset = bool(require_reset)

    @abstractmethod
    def measure(self, progress: LessonProgress) -> float | None:
        """The measured value, or ``None`` when there is nothing to measure yet."""


# --------------------------------------------------------------------------------------------
# The supported API: plugin authors import everything from ``dojo.api``
# --------------------------------------------------------------------------------------------
# Besides the contracts above, dojo.api re-exports what plugins use from the rest of dojo (the
# table is dojo.api_exports.EXPORTS), each loaded on first use (PEP 562) so that importing
# dojo.api never imports torch. Keep this block last: __all__ lists every public name bound
# above it to a class or function of dojo, and the table.

from dojo.api_exports import EXPORTS as _EXPORTS  # noqa: E402
from dojo.api_exports import load as _load_export  # noqa: E402


def __getattr__(name: str) -> Any:
    return _load_export(name, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = sorted(
    {*_EXPORTS}
    | {
        name
        for name, value in dict(globals()).items()
        if not name.startswith("_")
        and str(getattr(value, "__module__", "")).partition(".")[0] == "dojo"
    }
)
