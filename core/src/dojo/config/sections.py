"""marshmallow schemas of the run-level sections: ``env_settings``, ``engine_settings``,
``checkpoint_settings`` and ``torch_settings`` (ML-Agents 1.1.0 names and defaults; the flags of
``mlagents-learn`` override them). Their keys are declared once, in :mod:`dojo.config.settings`;
these classes add the sections' descriptions and cross-field checks. Re-exported by
:mod:`dojo.config.schemas`.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, validates_schema

from dojo.config.declare import settings_schema
from dojo.config.settings import (
    INT32_MAX,
    CheckpointSettings,
    EngineSettings,
    EnvSettings,
    TorchSettings,
)


class EnvSettingsSchema(settings_schema(EnvSettings)):
    """``env_settings``: which environment to run and how many copies."""

    @validates_schema(skip_on_field_errors=True)
    def _check_worker_seeds(self, data: dict[str, Any], **_kwargs: Any) -> None:
        seed, num_envs = data["seed"], data["num_envs"]
        if seed >= 0 and seed + num_envs - 1 > INT32_MAX:
            raise ValidationError(
                f"is {seed}, and copy i of the {num_envs} environments gets seed + i, which "
                f"passes {INT32_MAX} (the largest seed a Unity environment takes). Use a seed "
                f"of at most {INT32_MAX - num_envs + 1}.",
                field_name="seed",
            )


class EngineSettingsSchema(settings_schema(EngineSettings)):
    """``engine_settings``: the Unity player's window and clock."""


class CheckpointSettingsSchema(settings_schema(CheckpointSettings)):
    """``checkpoint_settings``: the run id, its folder, and resume / initialise behaviour."""


class TorchSettingsSchema(settings_schema(TorchSettings)):
    """``torch_settings``: where and how PyTorch runs."""
