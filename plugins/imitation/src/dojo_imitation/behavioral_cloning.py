"""``behavioral_cloning``: after each update of its trainer, fit the policy to an expert's actions.

This is ML-Agents' ``BCModule`` as a dojo add-on (:class:`dojo.api.TrainerAddOn`): it works on
the policy whatever trainer exposes it (PPO, SAC), with an Adam of its own whose learning rate
is ``strength`` times the trainer's ``learning_rate``, decaying linearly to ~0 over ``steps``
trainer steps when ``steps`` is set. Each update takes ``num_epoch`` passes over (up to
``samples_per_update``) shuffled demonstration steps, in minibatches of ``batch_size``.

The loss is the mean negative log-likelihood of the expert's actions under the policy,
``-log pi(a_expert | o)``. For discrete actions this is exactly ML-Agents' loss (the
cross-entropy of the expert's choice under the masked logits). For continuous actions
ML-Agents takes the mean squared error between a *sampled* action and the expert's: its
gradient moves the mean only, is noisy (the sample includes the exploration noise) and leaves
the standard deviation to the trainer. The likelihood moves the mean toward the expert's action
without that noise and also fits the standard deviation to how far the policy is from the
expert, which is what "make the expert's actions likely" means for a Gaussian policy; one loss
serves continuous, discrete and hybrid actions alike. The expert's continuous actions are
environment actions in [-1, 1]; they are mapped into the policy's own action space first
(``3 a`` for PPO's ``clip(raw, -3, 3) / 3``, unchanged for SAC's ``tanh`` squash).

A recurrent policy is fitted step by step with zero memories (ML-Agents feeds sequences).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from dojo.api import ConfigError, TrainerAddOn
from dojo.torch_layer.action_model import ACTION_CLIP, allowed_action_mask
from dojo_imitation.bc_settings import BehavioralCloningSettings
from dojo_imitation.demo_reader import load_demonstration
from dojo_imitation.demonstration import Demonstration, DemonstrationError, describe_spec

#: Where ML-Agents' linear decay of the cloning learning rate ends.
FINAL_LEARNING_RATE = 1e-10
LOSS_STAT = "Losses/Pretraining Loss"


class BehavioralCloning(TrainerAddOn):
    """Behavioral cloning from a demonstration, on the policy of the behavior's trainer."""

    settings: BehavioralCloningSettings

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.where = f"behaviors.{self.trainer.behavior_name}.{self.name}.demo_path"
        demonstration = self._load_matching_demonstration()
        hyperparameters = self.trainer.settings.hyperparameters
        #: Learning rate at step 0: strength x the trainer's (initial) learning rate.
        self.initial_learning_rate = self.settings.strength * float(hyperparameters.learning_rate)
        self.num_epoch = self.settings.num_epoch or getattr(hyperparameters, "num_epoch", 1)
        self.batch_size = self.settings.batch_size or getattr(hyperparameters, "batch_size", None)
        self.data = _DemonstrationTensors(
            demonstration, self.policy.actor, torch.device(self.policy.device)
        )
        self.optimizer = torch.optim.Adam(self.policy.parameters, lr=self.initial_learning_rate)
        self.generator = torch.Generator().manual_seed(int(self.trainer.context.seed))
        #: Updates done, checkpointed (counted on after --resume).
        self.updates = 0

    def _load_matching_demonstration(self) -> Demonstration:
        try:
            demonstration = load_demonstration(self.settings.demo_path)
        except DemonstrationError as err:
            raise ConfigError(f"{self.where}: {err}") from err
        expected = self.trainer.behavior_spec
        demo_shapes = [tuple(o.shape) for o in demonstration.behavior_spec.observation_specs]
        shapes = [tuple(o.shape) for o in expected.observation_specs]
        if demo_shapes != shapes or demonstration.behavior_spec.action_spec != expected.action_spec:
            raise ConfigError(
                f"{self.where}: {self.settings.demo_path} records "
                f"{describe_spec(demonstration.behavior_spec)}, but behavior "
                f"{self.trainer.behavior_name!r} has {describe_spec(expected)}. Record the "
                "demonstration with this behavior's agent, or remove the section."
            )
        return demonstration

    def learning_rate(self) -> float:
        """The cloning learning rate at the trainer's step (ML-Agents' linear decay)."""
        anneal = self.settings.steps
        if anneal <= 0:
            return self.initial_learning_rate
        left = 1.0 - min(self.trainer.step, anneal) / anneal
        return (self.initial_learning_rate - FINAL_LEARNING_RATE) * left + FINAL_LEARNING_RATE

    def update(self) -> None:
        """``num_epoch`` passes of minibatch Adam on the expert's negative log-likelihood."""
        learning_rate = self.learning_rate()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate
        samples = self.data.steps
        if self.settings.samples_per_update:
            samples = min(samples, self.settings.samples_per_update)
        batch_size = min(self.batch_size or samples, samples)
        losses = []
        for _epoch in range(self.num_epoch):
            order = torch.randperm(self.data.steps, generator=self.generator)[:samples]
            # Whole minibatches only, as ML-Agents (at least one when samples < batch_size).
            for start in range(0, max(samples // batch_size, 1) * batch_size, batch_size):
                losses.append(self._gradient_step(order[start : start + batch_size]))
        self.policy.changed()
        self.updates += 1
        self.trainer.context.stats.add_stat(LOSS_STAT, float(np.mean(losses)))

    def _gradient_step(self, rows: torch.Tensor) -> float:
        rows = rows.to(self.data.device)
        with self.policy.lock:
            log_prob, _entropy = self.policy.actor.evaluate(*self.data.minibatch(rows))
            loss = -log_prob.mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            # Leave no gradients behind for the trainer's own optimizer.
            self.optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    def state_dict(self) -> dict[str, Any]:
        return {"updates": torch.tensor(self.updates), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> list[str] | None:
        self.updates = int(state["updates"])
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (KeyError, ValueError) as err:
            return [f"the cloning optimizer's state ({err}); it starts afresh"]
        return None


class _DemonstrationTensors:
    """The demonstration as tensors in the form ``Actor.evaluate`` takes, on the policy's
    device: observations, allowed-action masks, and actions in the actor's own space."""

    def __init__(self, demonstration: Demonstration, actor: Any, device: torch.device) -> None:
        self.device = device
        self.steps = demonstration.steps
        self.observations = [torch.as_tensor(o, device=device) for o in demonstration.observations]
        action_spec = demonstration.behavior_spec.action_spec
        self.continuous = None
        if action_spec.continuous_size:
            continuous = torch.as_tensor(demonstration.continuous_actions, device=device)
            if not actor.action_model.tanh_squash:
                # The raw action whose clip(raw, -3, 3) / 3 the expert took.
                continuous = continuous.clamp(-1.0, 1.0) * ACTION_CLIP
            self.continuous = continuous
        self.discrete = None
        self.masks = None
        if action_spec.discrete_size:
            self.discrete = torch.as_tensor(demonstration.discrete_actions, device=device)
            if demonstration.action_masks is not None:
                width = sum(action_spec.discrete_branches)
                masks = allowed_action_mask(demonstration.action_masks[:, :width])
                self.masks = masks.to(device)

    def minibatch(
        self, rows: torch.Tensor
    ) -> tuple[list[torch.Tensor], torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """``(obs_list, masks, continuous, discrete)`` of the given rows."""

        def pick(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return None if tensor is None else tensor[rows]

        return (
            [o[rows] for o in self.observations],
            pick(self.masks),
            pick(self.continuous),
            pick(self.discrete),
        )
