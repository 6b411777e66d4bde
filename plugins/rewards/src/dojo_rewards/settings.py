"""Own keys of the ``curiosity`` and ``rnd`` reward signals (ML-Agents 1.1.0 defaults).

``strength``, ``gamma`` and ``network_settings`` are common to every signal and validated by the
core. The deprecated ``encoding_size`` is declared here, as ML-Agents 1.1.0's
``CuriositySettings`` and ``RNDSettings`` do: it is kept in the resolved configuration, and the
core uses it as the signal's ``network_settings.hidden_units`` when ``network_settings`` is not
given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import post_load

from dojo.config.fields import AtLeast, Between, Integer, Number, StrictSchema


@dataclass(frozen=True)
class IntrinsicSettings:
    learning_rate: float
    encoding_size: int | None = None


def _learning_rate(default: float) -> Number:
    return Number(
        load_default=default,
        validate=Between(0.0, 1.0, low_open=True, hint=f"Use e.g. {default:g}."),
        description="Learning rate of the signal's own networks (Adam).",
    )


def _encoding_size() -> Integer:
    return Integer(
        load_default=None,
        allow_none=True,
        validate=AtLeast(1),
        description="Deprecated: the signal's network_settings.hidden_units when "
        "network_settings is not given.",
    )


class CuriositySchema(StrictSchema):
    """``reward_signals.curiosity``."""

    learning_rate = _learning_rate(3.0e-4)
    encoding_size = _encoding_size()

    @post_load
    def _build(self, data: dict[str, Any], **_kwargs: Any) -> IntrinsicSettings:
        return IntrinsicSettings(**data)


class RNDSchema(StrictSchema):
    """``reward_signals.rnd``."""

    learning_rate = _learning_rate(1.0e-4)
    encoding_size = _encoding_size()

    @post_load
    def _build(self, data: dict[str, Any], **_kwargs: Any) -> IntrinsicSettings:
        return IntrinsicSettings(**data)
