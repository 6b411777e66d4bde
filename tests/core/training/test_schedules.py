"""ML-Agents' linear and constant schedules."""

from __future__ import annotations

import pytest

from dojo.training.schedules import decayed_value


def test_linear_decays_to_minimum_at_max_steps_and_stays() -> None:
    assert decayed_value("linear", 3e-4, 1e-10, 0, 1000) == pytest.approx(3e-4)
    assert decayed_value("linear", 0.2, 0.1, 500, 1000) == pytest.approx(0.15)
    assert decayed_value("linear", 0.2, 0.1, 1000, 1000) == pytest.approx(0.1)
    assert decayed_value("linear", 0.2, 0.1, 5000, 1000) == pytest.approx(0.1)


def test_constant_never_changes() -> None:
    assert decayed_value("constant", 0.2, 0.1, 999, 1000) == 0.2
