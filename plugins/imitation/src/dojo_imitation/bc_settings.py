"""The ``behavioral_cloning`` behavior section: its settings, declared once (schema included).

Keys and defaults are ML-Agents 1.1.0's ``BehavioralCloningSettings``.
"""

from __future__ import annotations

from dataclasses import dataclass

from dojo.api import REQUIRED, AtLeast, Integer, Number, Text, setting, settings_schema


@dataclass(frozen=True)
class BehavioralCloningSettings:
    """Resolved ``behaviors.<name>.behavioral_cloning``."""

    demo_path: str = setting(
        REQUIRED, Text, description="A .demo file or a folder of .demo files (the expert)."
    )
    strength: float = setting(
        1.0,
        Number,
        validate=AtLeast(0.0, "Use e.g. 0.5; 0 turns cloning off."),
        description="Learning rate of cloning relative to the trainer's learning rate.",
    )
    steps: int = setting(
        0,
        Integer,
        validate=AtLeast(0, "Use 0 for constant strength, or the trainer steps to anneal over."),
        description="Trainer steps over which cloning's learning rate decays to ~0; 0 = constant.",
    )
    samples_per_update: int = setting(
        0,
        Integer,
        validate=AtLeast(0, "Use 0 for every demonstration step, or e.g. 10000."),
        description="Demonstration steps used per update; 0 uses all of them.",
    )
    num_epoch: int | None = setting(
        None,
        Integer,
        allow_none=True,
        validate=AtLeast(1, "Use e.g. 3, or leave it out for the trainer's num_epoch."),
        description="Passes over the demonstration steps per update (default: the trainer's).",
    )
    batch_size: int | None = setting(
        None,
        Integer,
        allow_none=True,
        validate=AtLeast(1, "Use e.g. 512, or leave it out for the trainer's batch_size."),
        description="Demonstration steps per gradient step (default: the trainer's batch_size).",
    )


BehavioralCloningSchema = settings_schema(BehavioralCloningSettings)
