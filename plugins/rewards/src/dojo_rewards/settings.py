"""Own keys of the ``curiosity`` and ``rnd`` reward signals (ML-Agents 1.1.0 defaults).

``strength``, ``gamma``, ``network_settings`` and the deprecated ``encoding_size`` are common to
every signal and validated by the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import post_load

from dojo.config.fields import Between, Number, StrictSchema


@dataclass(frozen=True)
class IntrinsicSettings:
    learning_rate: float


def _learning_rate(default: float) -> Number:
    return Number(
        load_default=default,
        validate=Between(0.0, 1.0, low_open=True, hint=f"Use e.g. {default:g}."),
        description="Learning rate of the signal's own networks (Adam).",
    )


class CuriositySchema(StrictSchema):
    """``reward_signals.curiosity``."""

    learning_rate = _learning_rate(3.0e-4)

    @post_load
    def _build(self, data: dict[str, Any], **_kwargs: Any) -> IntrinsicSettings:
        return IntrinsicSettings(**data)


class RNDSchema(StrictSchema):
    """``reward_signals.rnd``."""

    learning_rate = _learning_rate(1.0e-4)

    @post_load
    def _build(self, data: dict[str, Any], **_kwargs: Any) -> IntrinsicSettings:
        return IntrinsicSettings(**data)
