"""Hierarchical timers and timers.json (ML-Agents layout)."""

from __future__ import annotations

import json
import sys
import threading
import time
import timeit
from collections.abc import Iterator
from pathlib import Path

import pytest

import dojo
from dojo.artifacts import timers as timers_module
from dojo.artifacts.timers import (
    TimerNode,
    TimerStack,
    get_timer_stack,
    hierarchical_timer,
    reset_timers,
    set_gauge,
    timed,
    timers_to_dict,
    write_timers,
)


@pytest.fixture(autouse=True)
def fresh_timers() -> Iterator[None]:
    reset_timers()
    yield
    reset_timers()


def test_nesting_counts_and_self_arithmetic(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fake clock makes every total exact: each perf_counter() call advances 1 s.
    ticks = iter(range(1000))
    monkeypatch.setattr(timers_module, "perf_counter", lambda: float(next(ticks)))
    stack = TimerStack()  # start_time = 0
    with hierarchical_timer("outer", stack):  # enter 1
        for _ in range(2):
            with hierarchical_timer("inner", stack):  # enter 2/4, exit 3/5
                pass
    # outer exits at 6: outer = 5 s, inner = 2 x 1 s; root read at 7.
    tree = stack.to_dict()
    assert tree["total"] == 7.0 and tree["count"] == 1
    outer = tree["children"]["outer"]
    assert (outer["total"], outer["count"], outer["self"]) == (5.0, 1, 3.0)
    inner = outer["children"]["inner"]
    assert (inner["total"], inner["count"], inner["self"]) == (2.0, 2, 2.0)
    assert "children" not in inner
    assert tree["self"] == 2.0


def test_self_is_floored_at_zero() -> None:
    node = TimerNode()
    node.total = 1.0
    node.get_child("parallel").total = 3.0
    assert node.to_dict()["self"] == 0.0


def test_timed_uses_qualname_and_default_stack() -> None:
    class Trainer:
        @timed
        def advance(self, x: int) -> int:
            """Docstring kept."""
            return x + 1

    trainer = Trainer()
    with hierarchical_timer("TrainerController.advance"):
        assert trainer.advance(1) == 2
        assert trainer.advance(2) == 3
    tree = timers_to_dict()
    parent = tree["children"]["TrainerController.advance"]
    name = "test_timed_uses_qualname_and_default_stack.<locals>.Trainer.advance"
    assert parent["children"][name]["count"] == 2
    assert Trainer.advance.__doc__ == "Docstring kept."


def test_exception_still_records_and_pops() -> None:
    with pytest.raises(ValueError), hierarchical_timer("fails"):
        raise ValueError
    with hierarchical_timer("after"):
        pass
    children = timers_to_dict()["children"]
    assert children["fails"]["count"] == 1
    assert "after" in children  # a sibling, not a child of "fails"


def test_layout_and_metadata(tmp_path: Path) -> None:
    with hierarchical_timer("run_training.setup"):
        pass
    set_gauge("3DBall.Environment.CumulativeReward.mean", 1.0)
    set_gauge("3DBall.Environment.CumulativeReward.mean", float("nan"))  # ignored
    set_gauge("3DBall.Environment.CumulativeReward.mean", -2.0)
    path = tmp_path / "timers.json"
    write_timers(path, {"command_line_arguments": "mlagents-learn config.yaml --run-id=x"})

    text = path.read_text()
    tree = json.loads(text)
    assert text.startswith('{\n    "name": "root"')
    assert list(tree) == ["name", "gauges", "metadata", "total", "count", "self", "children"]
    assert tree["gauges"] == {
        "3DBall.Environment.CumulativeReward.mean": {
            "value": -2.0,
            "min": -2.0,
            "max": 1.0,
            "count": 2,
        }
    }
    metadata = tree["metadata"]
    assert list(metadata) == [
        "timer_format_version",
        "start_time_seconds",
        "python_version",
        "command_line_arguments",
        "mlagents_version",
        "mlagents_envs_version",
        "communication_protocol_version",
        "pytorch_version",
        "numpy_version",
        "end_time_seconds",
    ]
    assert all(isinstance(value, str) for value in metadata.values())
    assert metadata["timer_format_version"] == "0.1.0"
    assert metadata["communication_protocol_version"] == "1.5.0"
    assert metadata["mlagents_version"] == dojo.__version__
    assert metadata["python_version"] == sys.version
    assert metadata["command_line_arguments"] == "mlagents-learn config.yaml --run-id=x"
    assert metadata["pytorch_version"] and metadata["numpy_version"]
    assert int(metadata["start_time_seconds"]) <= int(metadata["end_time_seconds"])
    assert tree["children"]["run_training.setup"]["count"] == 1


def test_no_gauges_key_without_gauges() -> None:
    assert "gauges" not in timers_to_dict()


def test_reset_clears_everything() -> None:
    stack = get_timer_stack()
    with hierarchical_timer("a"):
        set_gauge("g", 1.0)
    reset_timers()
    assert get_timer_stack() is stack
    tree = timers_to_dict()
    assert "children" not in tree and "gauges" not in tree


def test_other_threads_are_recorded_separately() -> None:
    def update() -> None:
        for _ in range(3):
            with hierarchical_timer("_update_policy"):
                time.sleep(0.001)

    with hierarchical_timer("TrainerController.advance"):
        worker = threading.Thread(target=update, name="trainer-3DBall")
        worker.start()
        worker.join()
    tree = timers_to_dict()
    main = tree["children"]["TrainerController.advance"]
    assert "children" not in main  # the thread's blocks did not nest into the main thread's
    thread_node = tree["children"]["thread:trainer-3DBall"]
    assert thread_node["is_parallel"] is True
    update_node = thread_node["children"]["_update_policy"]
    assert update_node["count"] == 3 and update_node["is_parallel"] is True
    assert thread_node["total"] == pytest.approx(update_node["total"])
    # Parallel thread time does not eat into the main thread's self time.
    assert tree["self"] == pytest.approx(tree["total"] - main["total"])


def test_merge_worker_tree() -> None:
    worker = TimerStack()
    with hierarchical_timer("env_step", worker):
        pass
    with hierarchical_timer("workers") as node:
        node.merge(worker.get_root(), root_name="worker_root", is_parallel=True)
    worker_root = timers_to_dict()["children"]["workers"]["children"]["worker_root"]
    assert worker_root["is_parallel"] is True
    assert worker_root["children"]["env_step"]["count"] == 1


def test_overhead_is_small() -> None:
    """Guard against regressions: ~0.4-0.6 µs per block on a desktop CPU; allow 10x for CI."""

    def plain() -> None:
        pass

    timed_plain = timed(plain)

    def block() -> None:
        with hierarchical_timer("hot"):
            pass

    number = 20000
    base = min(timeit.repeat(plain, number=number, repeat=5)) / number
    decorated = min(timeit.repeat(timed_plain, number=number, repeat=5)) / number - base
    context = min(timeit.repeat(block, number=number, repeat=5)) / number - base
    assert decorated < 5e-6
    assert context < 5e-6
