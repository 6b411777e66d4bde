"""Built-in stats writers: ``tensorboard``, ``console`` and ``gauges`` (timers.json gauges)."""

from __future__ import annotations

from dojo.hookspecs import hookimpl
from dojo.registry import Registry


@hookimpl
def dojo_register_stats_writers(registry: Registry) -> None:
    registry.register(
        "tensorboard",
        factory="dojo.stats.tensorboard_writer:TensorBoardWriter",
        schema=None,
        description="TensorBoard event files per behavior in results/<run-id>/<Behavior>/.",
    )
    registry.register(
        "console",
        factory="dojo.stats.console_writer:ConsoleWriter",
        schema=None,
        description="The ML-Agents progress line (Step, Time Elapsed, Mean Reward) per summary.",
    )
    registry.register(
        "gauges",
        factory="dojo.stats.gauge_writer:GaugeWriter",
        schema=None,
        description="Mean and sum of every statistic as gauges in run_logs/timers.json.",
    )
