"""``l2_anchor``: an add-on that decays the policy's weights after every update of its trainer.

It knows nothing of the trainer: it uses the policy the trainer exposes, its learning rate, its
lock, its statistics and its share of the checkpoint.
"""

from dataclasses import dataclass

import torch
from marshmallow import post_load

from dojo.api import AtLeast, Number, StrictSchema, TrainerAddOn


@dataclass(frozen=True)
class L2AnchorSettings:
    coefficient: float


class L2AnchorSchema(StrictSchema):
    coefficient = Number(
        load_default=1e-3, validate=AtLeast(0.0), description="Weight of the L2 penalty."
    )

    @post_load
    def _build(self, data, **_kwargs):
        return L2AnchorSettings(**data)


class L2Anchor(TrainerAddOn):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.updates = 0

    def update(self) -> None:
        shrink = 1.0 - self.policy.learning_rate() * self.settings.coefficient
        with self.policy.lock, torch.no_grad():
            penalty = sum(float(p.square().sum()) for p in self.policy.parameters)
            for parameter in self.policy.parameters:
                parameter.mul_(shrink)
        self.policy.changed()
        self.updates += 1
        stats = self.trainer.context.stats
        stats.add_stat("Losses/L2 Anchor Loss", self.settings.coefficient * penalty)
        stats.add_stat("Policy/L2 Anchor Updates", self.updates)

    def state_dict(self):
        return {"updates": torch.tensor(self.updates)}

    def load_state_dict(self, state):
        self.updates = int(state["updates"])
