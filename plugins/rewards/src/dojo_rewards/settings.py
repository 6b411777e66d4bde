"""Own keys of the ``curiosity`` and ``rnd`` reward signals (ML-Agents 1.1.0 defaults).

``strength``, ``gamma`` and ``network_settings`` are common to every signal and validated by the
core. The deprecated ``encoding_size`` is declared here, as ML-Agents 1.1.0's
``CuriositySettings`` and ``RNDSettings`` do: it is kept in the resolved configuration, and the
core uses it as the signal's ``network_settings.hidden_units`` when ``network_settings`` is not
given. Each key is declared once, on the settings dataclass; the schemas are derived from it
(:mod:`dojo.config.declare`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dojo.config.declare import setting, settings_schema
from dojo.config.fields import AtLeast, Between, Integer, Number


def _learning_rate(default: float) -> Any:
    return setting(
        default,
        Number,
        validate=Between(0.0, 1.0, low_open=True, hint=f"Use e.g. {default:g}."),
        description="Learning rate of the signal's own networks (Adam).",
    )


def _encoding_size() -> Any:
    return setting(
        None,
        Integer,
        validate=AtLeast(1),
        description="Deprecated: the signal's network_settings.hidden_units when "
        "network_settings is not given.",
    )


@dataclass(frozen=True)
class CuriositySettings:
    learning_rate: float = _learning_rate(3.0e-4)
    encoding_size: int | None = _encoding_size()


@dataclass(frozen=True)
class RNDSettings:
    learning_rate: float = _learning_rate(1.0e-4)
    encoding_size: int | None = _encoding_size()


class CuriositySchema(settings_schema(CuriositySettings)):
    """``reward_signals.curiosity``."""


class RNDSchema(settings_schema(RNDSettings)):
    """``reward_signals.rnd``."""
