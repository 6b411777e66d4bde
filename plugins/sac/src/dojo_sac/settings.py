"""SAC's ``hyperparameters`` section: schema and the frozen settings the trainer receives.

Keys and defaults are ML-Agents 1.1.0's ``SACSettings``. ``reward_signal_steps_per_update``
defaults to ``steps_per_update`` when it is not given. ``implementation`` is dojo's own: which
of the two equal forms of the update runs (see :mod:`dojo_sac.trainer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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

SCHEDULES = ("linear", "constant")
#: ``implementation`` values: ``auto`` picks ``fast`` where the networks allow it.
IMPLEMENTATIONS = ("auto", "reference", "fast")


@dataclass(frozen=True)
class SACSettings:
    """Resolved SAC hyperparameters (field order is ML-Agents' configuration.yaml order); each
    key is declared once here, the schema is made from it (:mod:`dojo.config.declare`)."""

    batch_size: int = setting(
        128,
        Integer,
        validate=AtLeast(1, "Use e.g. 128 to 1024 transitions per gradient step."),
        description="Transitions replayed in each gradient step.",
    )
    buffer_size: int = setting(
        50000,
        Integer,
        validate=AtLeast(1, "Use e.g. 50000 to 1000000 (at least batch_size)."),
        description="Replay buffer capacity: the newest transitions kept for replay.",
    )
    learning_rate: float = setting(
        3.0e-4,
        Number,
        validate=Between(0.0, 1.0, low_open=True, hint="Use e.g. 3.0e-4."),
        description="Learning rate of Adam (policy, Q networks and entropy coefficient).",
    )
    learning_rate_schedule: str = setting(
        "constant",
        Text,
        validate=OneOf(SCHEDULES),
        description="constant keeps the learning rate; linear decays it to 1e-10 at max_steps.",
    )
    buffer_init_steps: int = setting(
        0,
        Integer,
        validate=AtLeast(0, "Use 0, or e.g. 1000 random-policy steps before learning."),
        description="Steps collected before the first update (counted from step 0).",
    )
    tau: float = setting(
        0.005,
        Number,
        validate=Between(0.0, 1.0, low_open=True, hint="Use e.g. 0.005."),
        description="Soft update rate of the target Q networks (target += tau * (Q - target)).",
    )
    steps_per_update: float = setting(
        1.0,
        Number,
        validate=Between(0.0, 1e9, low_open=True, hint="Use e.g. 1 (one update per step)."),
        description="Agent steps per gradient update, on average (below 1: several updates "
        "per step).",
    )
    save_replay_buffer: bool = setting(
        False,
        Boolean,
        description="Save the replay buffer when the run ends (last_replay_buffer.npz) and "
        "reload it with --resume.",
    )
    init_entcoef: float = setting(
        1.0,
        Number,
        validate=Between(0.0, 1e9, low_open=True, hint="Use e.g. 1.0 (0.5 to 1.0 typical)."),
        description="Initial entropy coefficient (alpha), then tuned automatically.",
    )
    reward_signal_steps_per_update: float = setting(
        1.0,
        Number,
        validate=Between(0.0, 1e9, low_open=True, hint="Use e.g. the value of steps_per_update."),
        description="Agent steps per reward-signal update (default: steps_per_update).",
    )
    implementation: str = setting(
        "auto",
        Text,
        validate=OneOf(IMPLEMENTATIONS),
        description="Which update runs (dojo addition): reference (autograd on plain torch "
        "layers), fast (the same math with hand-derived gradients; feed-forward networks with "
        "continuous actions only) or auto (fast where it applies, else reference).",
    )


class SACHyperparametersSchema(settings_schema(SACSettings)):
    """``behaviors.<name>.hyperparameters`` when ``trainer_type: sac``."""

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
