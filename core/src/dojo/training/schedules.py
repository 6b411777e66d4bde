"""Hyperparameter schedules as ML-Agents defines them (``linear`` or ``constant``)."""

from __future__ import annotations


def decayed_value(schedule: str, initial: float, minimum: float, step: int, max_step: int) -> float:
    """The scheduled value at ``step``.

    ``linear`` decays from ``initial`` to ``minimum`` at ``max_step`` and stays there
    (ML-Agents: learning rate to 1e-10, epsilon to 0.1, beta to 1e-5); ``constant`` keeps
    ``initial``.
    """
    if schedule == "constant" or max_step <= 0:
        return float(initial)
    fraction = min(max(step, 0), max_step) / max_step
    return float((initial - minimum) * (1.0 - fraction) + minimum)
