"""Contracts of the plugins that extend another plugin's trainer: add-ons and wrappers.

A plugin registers a *behavior section* (``dojo_register_behavior_sections``): a key of
``behaviors.<name>`` with its own schema, and a factory that is one of

- a :class:`TrainerAddOn`, whose :meth:`~TrainerAddOn.update` runs on the behavior's trainer
  after each of the trainer's updates, on the policy the trainer exposes
  (:meth:`dojo.api.Trainer.trainable_policy`). Behavioral cloning is one: PPO and SAC expose
  their policy and know nothing of it.
- a :class:`TrainerWrapper`, which stands in for the behavior's trainer: it sees every call the
  training loop makes (decisions, trajectories, updates, checkpoints) and passes them on, and
  can act for some agents with other policies and keep their trajectories from the trainer
  (:meth:`~dojo.api.Trainer.learned_trajectories`), as the ghost trainer of self-play does.

The core constructs them for each behavior whose section is given (not ``null``), in the order
the sections were registered: add-ons are attached to the trainer, then wrappers wrap it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dojo.api import ActionOutput, Trajectory
from dojo.envs.base import DecisionSteps
from dojo.trainer import Trainer


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class TrainablePolicy:
    """What a trainer exposes of its policy to add-ons (:meth:`Trainer.trainable_policy`).

    Attributes:
        actor: the policy network (``torch.nn.Module``). dojo's trainers give a
            :class:`dojo.torch_layer.networks.Actor`, whose ``evaluate(obs, masks, continuous,
            discrete)`` returns the log-probabilities and entropies of given actions.
        parameters: the tensors an add-on may change (the actor's), in place: a trainer may
            keep views of them (PPO's numpy rollout path, its update process).
        learning_rate: the trainer's current learning rate (its schedule at its step).
        lock: hold it while changing :attr:`parameters`: a threaded trainer acts meanwhile.
        changed: call it after changing :attr:`parameters`, so the trainer refreshes what it
            keeps of them (copies of the weights it acts with).
        device: the torch device of the parameters.
    """

    actor: Any
    parameters: Sequence[Any]
    learning_rate: Callable[[], float]
    lock: AbstractContextManager[Any]
    changed: Callable[[], None] = _nothing
    device: str = "cpu"


class TrainerAddOn(ABC):
    """An update of a plugin's own, run on another plugin's trainer.

    Constructed by the core with keyword arguments ``name`` (the section's key), ``settings``
    (what the section's schema loaded), ``trainer`` (the behavior's trainer: ``step``,
    ``settings``, ``behavior_spec``, ``context.stats`` for statistics) and ``policy`` (the
    :class:`TrainablePolicy` it exposes). A trainer that exposes no policy cannot take add-ons:
    the run stops before training with a message naming the section and the trainer.
    """

    def __init__(
        self, *, name: str, settings: Any, trainer: Trainer, policy: TrainablePolicy
    ) -> None:
        self.name = name
        self.settings = settings
        self.trainer = trainer
        self.policy = policy

    @abstractmethod
    def update(self) -> None:
        """Run once after each of the trainer's updates (in the thread that updated), while
        training. Report statistics with ``self.trainer.context.stats.add_stat``."""

    def state_dict(self) -> dict[str, Any]:
        """What to keep in the trainer's checkpoints (entry ``AddOn:<name>``); empty = nothing."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> list[str] | None:
        """Restore what :meth:`state_dict` returned; returns descriptions of the parts that did
        not fit (named in the trainer's warning), or ``None``."""
        del state
        return None


class TrainerWrapper(Trainer):
    """Stands in for a behavior's trainer and passes every call on to it.

    Constructed by the core with keyword arguments ``name`` (the section's key), ``settings``
    (what the section's schema loaded) and ``trainer`` (the trainer it wraps, possibly another
    wrapper). Override what the wrapper changes; everything else reaches :attr:`trainer`
    unchanged. :attr:`step` is the wrapped trainer's.
    """

    def __init__(self, *, name: str, settings: Any, trainer: Trainer) -> None:
        # Not Trainer.__init__: the wrapped trainer owns the state (step, add-ons, settings).
        self.name = name
        self.section_settings = settings
        self.trainer = trainer
        self.behavior_name = trainer.behavior_name
        self.behavior_spec = trainer.behavior_spec
        self.reward_signals = trainer.reward_signals
        self.context = trainer.context
        # Its state (state_dict) goes into the wrapped trainer's checkpoints.
        trainer.checkpoint_parts[f"Wrapper:{name}"] = self

    def state_dict(self) -> dict[str, Any]:
        """What to keep in the checkpoints (entry ``Wrapper:<name>``); empty = nothing."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> list[str] | None:
        """Restore what :meth:`state_dict` returned; returns what did not fit, or ``None``."""
        del state
        return None

    @property  # type: ignore[override]
    def step(self) -> int:
        return self.trainer.step

    @step.setter
    def step(self, value: int) -> None:
        self.trainer.step = value

    @property  # type: ignore[override]
    def settings(self) -> Any:
        return self.trainer.settings

    @property  # type: ignore[override]
    def add_ons(self) -> list[TrainerAddOn]:
        return self.trainer.add_ons

    def act(self, decision_steps: DecisionSteps) -> ActionOutput:
        return self.trainer.act(decision_steps)

    def learned_trajectories(self, trajectories: list[Trajectory]) -> list[Trajectory]:
        return self.trainer.learned_trajectories(trajectories)

    def process_trajectories(self, trajectories: list[Trajectory]) -> None:
        self.trainer.process_trajectories(trajectories)

    def advance(self) -> None:
        self.trainer.advance()

    def end_episodes(self, agent_ids: np.ndarray) -> None:
        self.trainer.end_episodes(agent_ids)

    def save_checkpoint(self, path: Path) -> None:
        self.trainer.save_checkpoint(path)

    def load_checkpoint(self, path: Path, reset_step: bool = False) -> None:
        self.trainer.load_checkpoint(path, reset_step)

    def export_onnx(self, path: Path) -> None:
        self.trainer.export_onnx(path)

    def save_resume_files(self, folder: Path) -> list[Path]:
        return self.trainer.save_resume_files(folder)

    def trainable_policy(self) -> TrainablePolicy | None:
        return self.trainer.trainable_policy()

    @property  # type: ignore[override]
    def checkpoint_parts(self) -> dict[str, Any]:
        return self.trainer.checkpoint_parts

    @property  # type: ignore[override]
    def policy_lock(self) -> Any:
        return self.trainer.policy_lock

    def close(self) -> None:
        self.trainer.close()

    @property
    def threaded(self) -> bool:
        return self.trainer.threaded

    @property
    def threaded_lookahead(self) -> int:
        return self.trainer.threaded_lookahead
