"""Registers the ``sac`` trainer type with dojo (entry point ``dojo.plugins: sac``)."""

from __future__ import annotations

from dojo.hookspecs import hookimpl
from dojo.registry import Registry


@hookimpl
def dojo_register_trainers(registry: Registry) -> None:
    registry.register(
        "sac",
        factory="dojo_sac.trainer:SACTrainer",
        schema="dojo_sac.settings:SACHyperparametersSchema",
        description="Soft Actor-Critic (off-policy, twin Q networks, automatic entropy tuning).",
    )
