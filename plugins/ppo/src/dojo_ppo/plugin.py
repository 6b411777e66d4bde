"""Registers the ``ppo`` trainer type with dojo (entry point ``dojo.plugins: ppo``)."""

from __future__ import annotations

from dojo.hookspecs import hookimpl
from dojo.registry import Registry


@hookimpl
def dojo_register_trainers(registry: Registry) -> None:
    registry.register(
        "ppo",
        factory="dojo_ppo.trainer:PPOTrainer",
        schema="dojo_ppo.settings:PPOHyperparametersSchema",
        description="Proximal Policy Optimization (on-policy, clipped surrogate, GAE).",
    )
