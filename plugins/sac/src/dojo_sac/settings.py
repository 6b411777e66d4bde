"""SAC's ``hyperparameters`` section: schema and the frozen settings the trainer receives.

Keys and defaults are ML-Agents 1.1.0's ``SACSettings``. ``reward_signal_steps_per_update``
defaults to ``steps_per_update`` when it is not given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError, post_load, pre_load, validates_schema

from dojo.config.fields import AtLeast, Between, Boolean, Integer, Number, OneOf, StrictSchema, Text

SCHEDULES = ("linear", "constant")


@dataclass(frozen=True)
class SACSettings:
    """Resolved SAC hyperparameters (field order is ML-Agents' configuration.yaml order)."""

    batch_size: int = 128
    buffer_size: int = 50000
    learning_rate: float = 3.0e-4
    learning_rate_schedule: str = "constant"
    buffer_init_steps: int = 0
    tau: float = 0.005
    steps_per_update: float = 1.0
    save_replay_buffer: bool = False
    init_entcoef: float = 1.0
    reward_signal_steps_per_update: float = 1.0


class SACHyperparametersSchema(StrictSchema):
    """``behaviors.<name>.hyperparameters`` when ``trainer_type: sac``."""

    batch_size = Integer(
        load_default=128,
        validate=AtLeast(1, "Use e.g. 128 to 1024 transitions per gradient step."),
        description="Transitions replayed in each gradient step.",
    )
    buffer_size = Integer(
        load_default=50000,
        validate=AtLeast(1, "Use e.g. 50000 to 1000000 (at least batch_size)."),
        description="Replay buffer capacity: the newest transitions kept for replay.",
    )
    learning_rate = Number(
        load_default=3.0e-4,
        validate=Between(0.0, 1.0, low_open=True, hint="Use e.g. 3.0e-4."),
        description="Learning rate of Adam (policy, Q networks and entropy coefficient).",
    )
    learning_rate_schedule = Text(
        load_default="constant",
        validate=OneOf(SCHEDULES),
        description="constant keeps the learning rate; linear decays it to 1e-10 at max_steps.",
    )
    buffer_init_steps = Integer(
        load_default=0,
        validate=AtLeast(0, "Use 0, or e.g. 1000 random-policy steps before learning."),
        description="Steps collected before the first update (counted from step 0).",
    )
    tau = Number(
        load_default=0.005,
        validate=Between(0.0, 1.0, low_open=True, hint="Use e.g. 0.005."),
        description="Soft update rate of the target Q networks (target += tau * (Q - target)).",
    )
    steps_per_update = Number(
        load_default=1.0,
        validate=Between(0.0, 1e9, low_open=True, hint="Use e.g. 1 (one update per step)."),
        description="Agent steps per gradient update, on average (below 1: several updates "
        "per step).",
    )
    save_replay_buffer = Boolean(
        load_default=False,
        description="Save the replay buffer when the run ends (last_replay_buffer.npz) and "
        "reload it with --resume.",
    )
    init_entcoef = Number(
        load_default=1.0,
        validate=Between(0.0, 1e9, low_open=True, hint="Use e.g. 1.0 (0.5 to 1.0 typical)."),
        description="Initial entropy coefficient (alpha), then tuned automatically.",
    )
    reward_signal_steps_per_update = Number(
        load_default=1.0,
        validate=Between(0.0, 1e9, low_open=True, hint="Use e.g. the value of steps_per_update."),
        description="Agent steps per reward-signal update (default: steps_per_update).",
    )

    @pre_load
    def _follow_steps_per_update(self, data: Any, **_kwargs: Any) -> Any:
        if isinstance(data, dict) and "reward_signal_steps_per_update" not in data:
            data = dict(data)
            data["reward_signal_steps_per_update"] = data.get("steps_per_update", 1.0)
        return data

    @validates_schema(skip_on_field_errors=True)
    def _check_buffer_holds_a_batch(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data["buffer_size"] < data["batch_size"]:
            raise ValidationError(
                f"must be at least batch_size ({data['batch_size']}), got {data['buffer_size']}: "
                "the replay buffer keeps at most buffer_size transitions and each update "
                "samples batch_size of them, so SAC (in dojo as in ML-Agents) would never "
                "update. Raise buffer_size (e.g. 50000) or lower batch_size.",
                field_name="buffer_size",
            )

    @post_load
    def _build(self, data: dict[str, Any], **_kwargs: Any) -> SACSettings:
        return SACSettings(**data)
