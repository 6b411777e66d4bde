"""``random_opponent``: a wrapper that acts at random for every ``every``-th agent and keeps
their experience from the trainer (what a ghost trainer does with past policies)."""

from dataclasses import dataclass

import numpy as np
import torch
from marshmallow import post_load

from dojo.api import ActionOutput, ActionTuple, AtLeast, Integer, StrictSchema, TrainerWrapper


@dataclass(frozen=True)
class RandomOpponentSettings:
    every: int


class RandomOpponentSchema(StrictSchema):
    every = Integer(load_default=2, validate=AtLeast(2), description="Every n-th agent is random.")

    @post_load
    def _build(self, data, **_kwargs):
        return RandomOpponentSettings(**data)


class RandomOpponent(TrainerWrapper):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rng = np.random.default_rng(self.context.seed)
        self.random_steps = 0

    def _random(self, agent_ids):
        return np.asarray(agent_ids) % self.section_settings.every == 0

    def act(self, decision_steps):
        output = self.trainer.act(decision_steps)
        chosen = self._random(decision_steps.agent_id)
        count = int(chosen.sum())
        continuous = output.actions.continuous.copy()
        discrete = output.actions.discrete.copy()
        spec = self.behavior_spec.action_spec
        if count and continuous.shape[1]:
            continuous[chosen] = self.rng.uniform(-1, 1, (count, continuous.shape[1]))
        if count and discrete.shape[1]:
            discrete[chosen] = np.stack(
                [self.rng.integers(0, n, count) for n in spec.discrete_branches], axis=1
            )
        self.random_steps += count
        return ActionOutput(ActionTuple(continuous, discrete), output.extras, output.entropy)

    def learned_trajectories(self, trajectories):
        # The random agents' experience is neither learned from nor counted in max_steps.
        self.context.stats.add_stat("Opponent/Random Steps", self.random_steps)
        return [t for t in trajectories if not self._random(t.agent_id)]

    def state_dict(self):
        return {"random_steps": torch.tensor(self.random_steps)}

    def load_state_dict(self, state):
        self.random_steps = int(state["random_steps"])
