"""GaugeWriter: summaries become gauges in timers.json."""

from __future__ import annotations

import json
from pathlib import Path

from dojo.api import Aggregation, StatsSummary
from dojo.artifacts.timers import TimerStack, get_timer_stack, write_timers
from dojo.stats.gauge_writer import GaugeWriter, gauge_name


def test_gauge_names() -> None:
    assert gauge_name("3DBall.Environment/Cumulative Reward.mean") == (
        "3DBall.Environment.CumulativeReward.mean"
    )
    assert gauge_name("My Agent.Losses/Policy Loss.sum") == "MyAgent.Losses.PolicyLoss.sum"


def test_gauges_in_timers_json(tmp_path: Path) -> None:
    timers = TimerStack()
    writer = GaugeWriter(timer_stack=timers)
    reward = "Environment/Cumulative Reward"
    writer.write_stats("3DBall", {reward: StatsSummary((1.0, 3.0), Aggregation.HISTOGRAM)}, 1000)
    writer.write_stats("3DBall", {reward: StatsSummary((5.0,), Aggregation.HISTOGRAM)}, 2000)
    writer.write_stats(
        "3DBall", {"Is Training": StatsSummary((1.0,), Aggregation.MOST_RECENT)}, 2000
    )
    path = tmp_path / "timers.json"
    write_timers(path, timer_stack=timers)

    gauges = json.loads(path.read_text())["gauges"]
    assert gauges["3DBall.Environment.CumulativeReward.mean"] == {
        "value": 5.0,
        "min": 2.0,
        "max": 5.0,
        "count": 2,
    }
    assert gauges["3DBall.Environment.CumulativeReward.sum"] == {
        "value": 5.0,
        "min": 4.0,
        "max": 5.0,
        "count": 2,
    }
    # Like ML-Agents, hidden statistics are gauges too.
    assert gauges["3DBall.IsTraining.mean"]["value"] == 1.0


def test_defaults_to_the_process_wide_timers() -> None:
    stack = get_timer_stack()
    GaugeWriter().write_stats(
        "Walker", {"Losses/Value Loss": StatsSummary((2.0,), Aggregation.AVERAGE)}, 1
    )
    try:
        assert stack.gauges["Walker.Losses.ValueLoss.mean"].value == 2.0
    finally:
        stack.reset()
