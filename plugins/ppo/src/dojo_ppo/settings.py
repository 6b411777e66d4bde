"""PPO's ``hyperparameters`` section: schema and the frozen settings the trainer receives.

Keys and defaults are ML-Agents 1.1.0's ``PPOSettings``. ``beta_schedule`` and
``epsilon_schedule`` follow ``learning_rate_schedule`` when that key is given, else ``linear``.
``epsilon_final`` is a dojo addition: where a linear epsilon schedule ends (ML-Agents: 0.1;
Stable-Baselines3's linear clip range, as in its rl-zoo settings: 0). ``implementation`` is
another: which implementation of the update runs (:mod:`dojo_ppo.implementation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from marshmallow import ValidationError, pre_load, validates_schema

from dojo.api import (
    AtLeast,
    Between,
    Boolean,
    Integer,
    Number,
    OneOf,
    Text,
    setting,
    settings_schema,
)

if TYPE_CHECKING:
    from dojo.config.settings import TrainerSettings

SCHEDULES = ("linear", "constant")
IMPLEMENTATIONS = ("auto", "reference", "fast")


@dataclass(frozen=True)
class PPOSettings:
    """Resolved PPO hyperparameters (field order is ML-Agents' configuration.yaml order); each
    key is declared once here, the schema is made from it (:mod:`dojo.config.declare`)."""

    batch_size: int = setting(
        1024,
        Integer,
        validate=AtLeast(1, "Use the number of experiences per gradient step, e.g. 1024."),
        description="Experiences in each minibatch of gradient descent.",
    )
    buffer_size: int = setting(
        10240,
        Integer,
        validate=AtLeast(1, "Use a multiple of batch_size, e.g. 10 x batch_size."),
        description="Experiences collected before each policy update (a multiple of batch_size).",
    )
    learning_rate: float = setting(
        3.0e-4,
        Number,
        validate=Between(0.0, 1.0, low_open=True, hint="Use e.g. 3.0e-4."),
        description="Initial learning rate of Adam.",
    )
    beta: float = setting(
        5.0e-3,
        Number,
        validate=AtLeast(0.0, "Use e.g. 5.0e-3; 0 disables the entropy bonus."),
        description="Strength of the entropy bonus (exploration).",
    )
    epsilon: float = setting(
        0.2,
        Number,
        validate=Between(0.0, 1.0, low_open=True, hint="Use e.g. 0.2."),
        description="Clipping range of the policy ratio (how far one update may move).",
    )
    lambd: float = setting(
        0.95,
        Number,
        validate=Between(0.0, 1.0, hint="Use e.g. 0.95."),
        description="GAE lambda: bias/variance trade-off of advantage estimates.",
    )
    num_epoch: int = setting(
        3,
        Integer,
        validate=AtLeast(1, "Use e.g. 3 passes over the buffer per update."),
        description="Passes over the experience buffer per update.",
    )
    shared_critic: bool = setting(
        False, Boolean, description="Actor and critic share the network trunk."
    )
    learning_rate_schedule: str = setting(
        "linear",
        Text,
        validate=OneOf(SCHEDULES),
        description="linear decays the learning rate to 1e-10 at max_steps; constant keeps it.",
    )
    beta_schedule: str = setting(
        "linear",
        Text,
        validate=OneOf(SCHEDULES),
        description="linear decays beta to 1e-5 at max_steps (default: learning_rate_schedule "
        "if given, else linear).",
    )
    epsilon_schedule: str = setting(
        "linear",
        Text,
        validate=OneOf(SCHEDULES),
        description="linear decays epsilon to epsilon_final (0.1) at max_steps (default: "
        "learning_rate_schedule if given, else linear).",
    )
    epsilon_final: float = setting(
        0.1,
        Number,
        validate=Between(0.0, 1.0, hint="Use 0.1 (ML-Agents) or 0 (Stable-Baselines3)."),
        description="Where linear epsilon_schedule ends at max_steps (dojo addition): 0.1 as "
        "in ML-Agents, 0 as Stable-Baselines3's linear clip range.",
    )
    implementation: str = setting(
        "auto",
        Text,
        validate=OneOf(IMPLEMENTATIONS),
        description="Which update runs (dojo addition): reference (autograd on plain torch "
        "layers), fast (the same math with hand-derived gradients; feed-forward networks with "
        "discrete actions on the CPU) or auto (fast where it applies, else reference).",
    )

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


class PPOHyperparametersSchema(settings_schema(PPOSettings)):
    """``behaviors.<name>.hyperparameters`` when ``trainer_type: ppo``."""

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
