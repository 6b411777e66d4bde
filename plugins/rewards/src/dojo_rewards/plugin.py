"""Registers the ``curiosity`` and ``rnd`` reward signals (entry point ``rewards``)."""

from __future__ import annotations

from dojo.hookspecs import hookimpl
from dojo.registry import Registry


@hookimpl
def dojo_register_reward_signals(registry: Registry) -> None:
    registry.register(
        "curiosity",
        factory="dojo_rewards.curiosity:CuriositySignal",
        schema="dojo_rewards.settings:CuriositySchema",
        description="Intrinsic curiosity module: reward for transitions the agent cannot predict.",
    )
    registry.register(
        "rnd",
        factory="dojo_rewards.rnd:RNDSignal",
        schema="dojo_rewards.settings:RNDSchema",
        description="Random network distillation: reward for observations seen rarely.",
    )
