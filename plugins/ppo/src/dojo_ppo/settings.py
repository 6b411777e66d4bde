"""PPO's ``hyperparameters`` section: schema and the frozen settings the trainer receives.

Keys and defaults are ML-Agents 1.1.0's ``PPOSettings``. ``beta_schedule`` and
``epsilon_schedule`` follow ``learning_rate_schedule`` when that key is given, else ``linear``.
``epsilon_final`` is a dojo addition: where a linear epsilon schedule ends (ML-Agents: 0.1;
Stable-Baselines3's linear clip range, as in its rl-zoo settings: 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from marshmallow import ValidationError, post_load, pre_load, validates_schema

from dojo.config.fields import AtLeast, Between, Boolean, Integer, Number, OneOf, StrictSchema, Text

if TYPE_CHECKING:
    from dojo.config.settings import TrainerSettings

SCHEDULES = ("linear", "constant")


@dataclass(frozen=True)
class PPOSettings:
    """Resolved PPO hyperparameters (field order is ML-Agents' configuration.yaml order)."""

    batch_size: int = 1024
    buffer_size: int = 10240
    learning_rate: float = 3.0e-4
    beta: float = 5.0e-3
    epsilon: float = 0.2
    lambd: float = 0.95
    num_epoch: int = 3
    shared_critic: bool = False
    learning_rate_schedule: str = "linear"
    beta_schedule: str = "linear"
    epsilon_schedule: str = "linear"
    epsilon_final: float = 0.1

    def warnings_for(self, behavior: TrainerSettings) -> list[str]:
        """Cross-checks with the behavior's other keys, reported as warnings by the loader."""
        if 0 < behavior.max_steps < self.buffer_size:
            return [
                f"hyperparameters.buffer_size ({self.buffer_size}) is more than max_steps "
                f"({behavior.max_steps}): PPO updates the policy each time buffer_size new steps "
                "are collected, so this run would end without a single update. Lower "
                "buffer_size (e.g. 10 x batch_size) or raise max_steps."
            ]
        return []


class PPOHyperparametersSchema(StrictSchema):
    """``behaviors.<name>.hyperparameters`` when ``trainer_type: ppo``."""

    batch_size = Integer(
        load_default=1024,
        validate=AtLeast(1, "Use the number of experiences per gradient step, e.g. 1024."),
        description="Experiences in each minibatch of gradient descent.",
    )
    buffer_size = Integer(
        load_default=10240,
        validate=AtLeast(1, "Use a multiple of batch_size, e.g. 10 x batch_size."),
        description="Experiences collected before each policy update (a multiple of batch_size).",
    )
    learning_rate = Number(
        load_default=3.0e-4,
        validate=Between(0.0, 1.0, low_open=True, hint="Use e.g. 3.0e-4."),
        description="Initial learning rate of Adam.",
    )
    beta = Number(
        load_default=5.0e-3,
        validate=AtLeast(0.0, "Use e.g. 5.0e-3; 0 disables the entropy bonus."),
        description="Strength of the entropy bonus (exploration).",
    )
    epsilon = Number(
        load_default=0.2,
        validate=Between(0.0, 1.0, low_open=True, hint="Use e.g. 0.2."),
        description="Clipping range of the policy ratio (how far one update may move).",
    )
    lambd = Number(
        load_default=0.95,
        validate=Between(0.0, 1.0, hint="Use e.g. 0.95."),
        description="GAE lambda: bias/variance trade-off of advantage estimates.",
    )
    num_epoch = Integer(
        load_default=3,
        validate=AtLeast(1, "Use e.g. 3 passes over the buffer per update."),
        description="Passes over the experience buffer per update.",
    )
    shared_critic = Boolean(
        load_default=False, description="Actor and critic share the network trunk."
    )
    learning_rate_schedule = Text(
        load_default="linear",
        validate=OneOf(SCHEDULES),
        description="linear decays the learning rate to 1e-10 at max_steps; constant keeps it.",
    )
    beta_schedule = Text(
        load_default="linear",
        validate=OneOf(SCHEDULES),
        description="linear decays beta to 1e-5 at max_steps (default: learning_rate_schedule "
        "if given, else linear).",
    )
    epsilon_schedule = Text(
        load_default="linear",
        validate=OneOf(SCHEDULES),
        description="linear decays epsilon to epsilon_final (0.1) at max_steps (default: "
        "learning_rate_schedule if given, else linear).",
    )

    epsilon_final = Number(
        load_default=0.1,
        validate=Between(0.0, 1.0, hint="Use 0.1 (ML-Agents) or 0 (Stable-Baselines3)."),
        description="Where linear epsilon_schedule ends at max_steps (dojo addition): 0.1 as "
        "in ML-Agents, 0 as Stable-Baselines3's linear clip range.",
    )

    @pre_load
    def _follow_learning_rate_schedule(self, data: Any, **_kwargs: Any) -> Any:
        if isinstance(data, dict) and "learning_rate_schedule" in data:
            data = dict(data)
            data.setdefault("beta_schedule", data["learning_rate_schedule"])
            data.setdefault("epsilon_schedule", data["learning_rate_schedule"])
        return data

    @validates_schema(skip_on_field_errors=True)
    def _check_buffer_holds_a_batch(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data["buffer_size"] < data["batch_size"]:
            raise ValidationError(
                f"must be at least batch_size ({data['batch_size']}), got {data['buffer_size']}: "
                "each update splits the buffer into minibatches of batch_size, and ML-Agents "
                "makes no update at all from a buffer smaller than one minibatch. Raise "
                "buffer_size to a multiple of batch_size (e.g. 10 x batch_size) or lower "
                "batch_size.",
                field_name="buffer_size",
            )

    @post_load
    def _build(self, data: dict[str, Any], **_kwargs: Any) -> PPOSettings:
        return PPOSettings(**data)
