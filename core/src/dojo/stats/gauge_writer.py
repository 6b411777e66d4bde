"""Summaries as gauges in ``timers.json``, as ML-Agents' ``GaugeWriter`` does.

Each statistic of each summary sets two gauges, ``<category>.<key>.mean`` and ``.sum``, with
slashes turned into dots and spaces removed: ``3DBall.Environment.CumulativeReward.mean``.
The gauge keeps the last value, the minimum, the maximum and the number of summaries.
"""

from __future__ import annotations

from collections.abc import Mapping

from dojo.api import RunInfo, StatsSummary, StatsWriter
from dojo.artifacts.timers import TimerStack, get_timer_stack


def gauge_name(text: str) -> str:
    """Slashes to dots, spaces removed: ``"3DBall.Environment.CumulativeReward.mean"``."""
    return text.replace("/", ".").replace(" ", "")


class GaugeWriter(StatsWriter):
    """Sets the mean and the sum of every statistic as gauges of the run's timers.

    Constructed as ``GaugeWriter(run=RunInfo)``. ``timer_stack`` is for tests; by default the
    process-wide stack (the one written to ``run_logs/timers.json``) is used.
    """

    def __init__(
        self, *, run: RunInfo | None = None, timer_stack: TimerStack | None = None
    ) -> None:
        del run
        self._timer_stack = timer_stack

    def write_stats(self, category: str, values: Mapping[str, StatsSummary], step: int) -> None:
        """Set ``<category>.<key>.mean`` and ``.sum`` for every statistic (hidden ones too)."""
        timers = self._timer_stack or get_timer_stack()
        for key, summary in values.items():
            timers.set_gauge(gauge_name(f"{category}.{key}.mean"), summary.mean)
            timers.set_gauge(gauge_name(f"{category}.{key}.sum"), summary.sum)
