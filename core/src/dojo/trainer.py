"""The trainer contract: :class:`Trainer` and the :class:`TrainerContext` it is built with.

Re-exported by :mod:`dojo.api`, where plugin authors import it from.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from dojo.api import ActionOutput, RewardSignal, Trajectory
    from dojo.config.settings import TrainerSettings
    from dojo.envs.base import BehaviorSpec, DecisionSteps
    from dojo.extensions import TrainablePolicy, TrainerAddOn
    from dojo.stats.reporter import StatsReporter
    from dojo.torch_layer.checkpoint import CheckpointLoader


# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainerContext:
    """What the core hands every trainer besides its settings.

    Attributes:
        artifact_path: ``results/<run-id>/<Behavior>``: where checkpoints go.
        seed: the run's seed (already resolved from -1).
        device: torch device string.
        training: ``False`` under ``--inference`` (no updates).
        stats: reporter of this behavior's statistics.
    """

    artifact_path: Path
    seed: int
    device: str
    training: bool
    stats: StatsReporter


class Trainer(ABC):
    """Learns one behavior's policy from trajectories.

    Constructed with keyword arguments ``behavior_name``, ``behavior_spec``, ``settings`` (the
    behavior's :class:`~dojo.config.settings.TrainerSettings`, whose ``hyperparameters`` is the
    trainer's own dataclass), ``reward_signals`` (name -> :class:`RewardSignal`) and
    ``context`` (:class:`TrainerContext`).

    The training loop calls, in order: :meth:`act` for every batch of decision steps,
    :meth:`process_trajectories` whenever trajectories are cut, :meth:`advance` after that
    (update when ready), :meth:`end_episodes` when agents finished an episode, and
    :meth:`save_checkpoint` / :meth:`export_onnx` / :meth:`save_resume_files` at checkpoints.

    Checkpoints: implement :meth:`checkpoint_state` and :meth:`restore_checkpoint_state`; the
    base class's :meth:`save_checkpoint` / :meth:`load_checkpoint` add the step, the reward
    signals' and the add-ons' states and write atomically (or override those two instead).

    Add-ons (:class:`dojo.extensions.TrainerAddOn`, e.g. behavioral cloning) need the policy:
    return it from :meth:`trainable_policy` and call :meth:`run_add_ons` after each update (the
    core's :class:`~dojo.training.on_policy.OnPolicyTrainer` and
    :class:`~dojo.training.off_policy.OffPolicyTrainer` do).
    """

    def __init__(
        self,
        *,
        behavior_name: str,
        behavior_spec: BehaviorSpec,
        settings: TrainerSettings,
        reward_signals: Mapping[str, RewardSignal],
        context: TrainerContext,
    ) -> None:
        self.behavior_name = behavior_name
        self.behavior_spec = behavior_spec
        self.settings = settings
        self.reward_signals = dict(reward_signals)
        self.context = context
        self.step = 0
        #: Held while parameters change, so a threaded update never races :meth:`act`.
        self.policy_lock = threading.Lock()
        #: Add-ons attached by the core, run by :meth:`run_add_ons`.
        self.add_ons: list[TrainerAddOn] = []
        #: Extensions with state in this trainer's checkpoints: entry key -> object with
        #: ``state_dict()`` and ``load_state_dict(state)`` (add-ons, wrappers).
        self.checkpoint_parts: dict[str, Any] = {}

    @abstractmethod
    def act(self, decision_steps: DecisionSteps) -> ActionOutput:
        """Choose actions for a batch of agents (one forward pass)."""

    def learned_trajectories(self, trajectories: list[Trajectory]) -> list[Trajectory]:
        """The trajectories this trainer learns from and counts toward ``max_steps``, out of
        those the behavior's agents finished: all of them (a wrapper that acts for some
        agents with other policies keeps theirs out, as self-play's ghost trainer does)."""
        return trajectories

    @abstractmethod
    def process_trajectories(self, trajectories: list[Trajectory]) -> None:
        """Take ownership of finished trajectories; adds their lengths to :attr:`step`."""

    @abstractmethod
    def advance(self) -> None:
        """Update the policy if enough experience was collected (no-op when not training)."""

    def checkpoint_state(self) -> dict[str, Any]:
        """The trainer's own checkpoint entries: networks, optimizers, counters (ML-Agents'
        names where they exist: ``Policy``, ``Optimizer:<name>``). Tensors and state dicts,
        read by :meth:`restore_checkpoint_state`."""
        raise NotImplementedError(
            f"{type(self).__name__} implements neither checkpoint_state() nor save_checkpoint()"
        )

    def restore_checkpoint_state(self, checkpoint: CheckpointLoader, reset_step: bool) -> None:
        """Restore :meth:`checkpoint_state`'s entries, non-strictly (what no longer fits the
        networks keeps its initial values: ``checkpoint.module(key, module)``,
        ``checkpoint.optimizer(...)``, ``checkpoint.tensor(...)``). ``reset_step``
        (``--initialize-from``): weights only, no optimizer state or counters. The base
        class restores :attr:`step` afterwards (``checkpoint.step()`` reads it earlier)."""
        raise NotImplementedError(
            f"{type(self).__name__} implements neither restore_checkpoint_state() nor "
            "load_checkpoint()"
        )

    def save_checkpoint(self, path: Path) -> None:
        """Write a loadable checkpoint to ``path``, atomically: :meth:`checkpoint_state`, the
        step (``global_step``), the reward signals' and the extensions' states."""
        import torch

        from dojo.torch_layer.checkpoint import save_state

        state = dict(self.checkpoint_state())
        state["global_step"] = torch.tensor(self.step)
        state.update(self.reward_signal_state())
        state.update(self.extension_state())
        with self.policy_lock:
            save_state(path, state)

    def load_checkpoint(self, path: Path, reset_step: bool = False) -> None:
        """Restore from ``path``; ``reset_step`` (``--initialize-from``) keeps weights only.
        One warning names whatever did not fit."""
        from dojo.torch_layer.checkpoint import CheckpointLoader

        checkpoint = CheckpointLoader.read(path)
        self.restore_checkpoint_state(checkpoint, reset_step)
        checkpoint.note(self.load_reward_signal_state(checkpoint.state))
        checkpoint.note(self.load_extension_state(checkpoint.state))
        if not reset_step:
            self.step = checkpoint.step()
        checkpoint.warn(self.behavior_name)

    @abstractmethod
    def export_onnx(self, path: Path) -> None:
        """Export the policy to ONNX with ML-Agents' input and output names."""

    def save_resume_files(self, folder: Path) -> list[Path]:
        """Write state that ``--resume`` needs besides the checkpoint and that is too large to
        copy into every ``<Behavior>-<step>.pt`` (an off-policy trainer's replay buffer) into
        ``folder`` (the behavior's artifact folder); returns the files written.

        Called at every checkpoint, after ``<Behavior>-<step>.pt`` and its ONNX model and just
        before ``checkpoint.pt`` is replaced. Each file must be written atomically and record
        :attr:`step`; :meth:`load_checkpoint` loads it only when that step is the checkpoint's,
        and says so when it is not (a run killed between the two writes). Nothing by default.
        """
        return []

    def end_episodes(self, agent_ids: np.ndarray) -> None:  # noqa: B027
        """Forget per-agent state kept between steps (a recurrent policy's memories) for
        ``agent_ids`` ``[n]``, whose episodes ended: called by the training loop with the
        terminal steps' agent ids before the next :meth:`act`, in training and inference.
        Nothing to do by default."""

    def trainable_policy(self) -> TrainablePolicy | None:
        """The policy that add-ons may train (:class:`dojo.extensions.TrainablePolicy`), or
        ``None`` (the default) when this trainer does not expose it."""
        return None

    def attach_add_on(self, add_on: TrainerAddOn) -> None:
        """Attach an add-on (the core does, for each behavior section that is one); its state
        goes into checkpoints as ``AddOn:<name>``."""
        self.add_ons.append(add_on)
        self.checkpoint_parts[f"AddOn:{add_on.name}"] = add_on

    def run_add_ons(self) -> None:
        """Run each attached add-on's update: call after each update of the policy."""
        for add_on in self.add_ons:
            add_on.update()

    def reward_signal_state(self) -> dict[str, Any]:
        """Checkpoint entries ``Module:<Signal>`` of the reward signals that have parameters."""
        return _states({f"Module:{s.stat_name}": s for s in self.reward_signals.values()})

    def load_reward_signal_state(self, checkpoint: Mapping[str, Any]) -> list[str]:
        """Restore what :meth:`reward_signal_state` put in ``checkpoint``, non-strictly: a
        signal whose entry is absent, or does not fit, keeps its initial state.

        Returns:
            The parts that did not fit, ``"Module:<Signal>: <what>"`` each, for the warning of
            :class:`~dojo.torch_layer.checkpoint.CheckpointLoader`.
        """
        parts = {f"Module:{s.stat_name}": s for s in self.reward_signals.values()}
        return _load_states(parts, checkpoint)

    def extension_state(self) -> dict[str, Any]:
        """Checkpoint entries of the add-ons and wrappers that have state (``AddOn:<name>``,
        ``Wrapper:<name>``)."""
        return _states(self.checkpoint_parts)

    def load_extension_state(self, checkpoint: Mapping[str, Any]) -> list[str]:
        """Restore what :meth:`extension_state` put in ``checkpoint``, as
        :meth:`load_reward_signal_state` does for the reward signals."""
        return _load_states(self.checkpoint_parts, checkpoint)

    def close(self) -> None:  # noqa: B027
        """Stop background work; called once at the end of the run, after the final checkpoint
        (or after a failure that left no checkpoint to write). State that must survive belongs
        in :meth:`save_checkpoint` / :meth:`save_resume_files`, written with each checkpoint,
        not here: a run that is killed never gets here."""

    @property
    def threaded(self) -> bool:
        return bool(self.settings.threaded)

    @property
    def threaded_lookahead(self) -> int:
        """With ``threaded: true``: how many collected steps may wait for the update thread
        while it trains (one batch of trajectories at least, the default 0)."""
        return 0


def _states(parts: Mapping[str, Any]) -> dict[str, Any]:
    """``key -> part.state_dict()`` of the parts whose state is not empty."""
    states = {key: part.state_dict() for key, part in parts.items()}
    return {key: state for key, state in states.items() if state}


def _load_states(parts: Mapping[str, Any], checkpoint: Mapping[str, Any]) -> list[str]:
    """Load each part's entry of ``checkpoint`` (``part.load_state_dict``), non-strictly.

    Returns:
        What did not fit, ``"<key>: <what>"`` each: a part with state whose entry is absent
        keeps its initial state, one that fails to load (another plugin's, loading strictly)
        too.
    """
    misfits: list[str] = []
    for key, part in parts.items():
        if key not in checkpoint:
            if part.state_dict():
                misfits.append(f"{key}: not in the checkpoint, initialised anew")
            continue
        try:
            loaded = part.load_state_dict(checkpoint[key])
        except (KeyError, IndexError, RuntimeError, TypeError, ValueError) as err:
            misfits.append(f"{key}: could not be loaded ({type(err).__name__}: {err})")
            continue
        misfits.extend(f"{key}: {what}" for what in loaded or ())
    return misfits
