"""Built-in reward signal: ``extrinsic`` (the environment's own reward)."""

from __future__ import annotations

from dojo.hookspecs import hookimpl
from dojo.registry import Registry


@hookimpl
def dojo_register_reward_signals(registry: Registry) -> None:
    registry.register(
        "extrinsic",
        factory="dojo.rewards.extrinsic:ExtrinsicRewardSignal",
        schema=None,
        description="The environment's reward, scaled by strength and discounted by gamma.",
    )
