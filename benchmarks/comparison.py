"""Shared machinery of the dojo-vs-Stable-Baselines3 benchmarks.

Each (framework, seed) run happens in its own subprocess (the benchmark script re-invoked with
``--worker``), frameworks alternate so machine noise hits both alike, and the learning curve of
both is the mean return of the episodes finished in each window of steps, as dojo's
``Environment/Cumulative Reward`` summary reports it.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
Curve = list[tuple[int, float]]


def window_means(episodes: Curve, window: int) -> Curve:
    """Mean return of the episodes finished in each ``window`` of steps: (window end, mean)."""
    out: Curve = []
    bucket: list[float] = []
    boundary = window
    for step, ret in episodes:
        while step >= boundary:
            if bucket:
                out.append((boundary, sum(bucket) / len(bucket)))
            bucket = []
            boundary += window
        bucket.append(ret)
    return out


def first_reaching(points: Curve, threshold: float) -> int | None:
    """First window end whose mean return is at least ``threshold``."""
    return next((step for step, value in points if value >= threshold), None)


def read_reward_events(folder: Path) -> list[tuple[int, float, float]]:
    """``Environment/Cumulative Reward`` of a behavior folder's TensorBoard events:
    (step, value, wall-clock time of the summary)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder))
    accumulator.Reload()
    return [
        (e.step, e.value, e.wall_time) for e in accumulator.Scalars("Environment/Cumulative Reward")
    ]


def launched_at() -> float:
    """When the parent started this worker (``BENCH_LAUNCHED_AT``), else now."""
    return float(os.environ.get("BENCH_LAUNCHED_AT", time.time()))


def run_dojo(config: dict[str, Any], behavior: str, seed: int, threads: int | None = None) -> dict:
    """Train ``config`` with ``mlagents-learn``: training seconds (timers.json), the reward
    curve, its wall-clock times since launch, and the peak resident memory of the trainer.
    ``threads`` sets ``--num-threads`` (default: dojo's own choice)."""
    start = launched_at()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        cmd = [
            str(Path(sys.executable).with_name("mlagents-learn")),
            str(path),
            "--run-id=bench",
            f"--seed={seed}",
            f"--results-dir={tmp}/results",
        ]
        if threads is not None:
            cmd.append(f"--num-threads={threads}")
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        run_dir = Path(tmp) / "results" / "bench"
        timers = json.loads((run_dir / "run_logs" / "timers.json").read_text())
        seconds = timers["children"]["TrainerController.start_learning"]["total"]
        events = read_reward_events(run_dir / behavior)
    steps = config["behaviors"][behavior]["max_steps"]
    return {
        "steps": steps,
        "seconds": seconds,
        "points": [(step, value) for step, value, _ in events],
        "wall": [wall - start for _, _, wall in events],
        "peak_rss_mb": peak_kb / 1024,
    }


def episode_recorder() -> Any:
    """An SB3 callback collecting ``(timestep, episode return, seconds since launch)`` of every
    finished episode."""
    from stable_baselines3.common.callbacks import BaseCallback

    start = launched_at()

    class Episodes(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.episodes: list[tuple[int, float, float]] = []

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    self.episodes.append(
                        (self.num_timesteps, float(info["episode"]["r"]), time.time() - start)
                    )
            return True

    return Episodes()


def timed_learn(model: Any, steps: int) -> dict:
    """Train an SB3 model: its training seconds, finished episodes and peak resident memory."""
    callback = episode_recorder()
    begin = time.perf_counter()
    model.learn(total_timesteps=steps, callback=callback)
    seconds = time.perf_counter() - begin
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "steps": steps,
        "seconds": seconds,
        "episodes": callback.episodes,
        "peak_rss_mb": peak_kb / 1024,
    }


def episodes_to_windows(
    episodes: list[tuple[int, float, float]], window: int
) -> tuple[Curve, list[float]]:
    """Window means of SB3 episodes (as :func:`window_means`) and, per window, the wall time
    at which training passed its end (the first episode finished beyond it)."""
    points = window_means([(step, ret) for step, ret, _ in episodes], window)
    walls = []
    for boundary, _mean in points:
        after = [wall for step, _ret, wall in episodes if step >= boundary]
        walls.append(after[0] if after else episodes[-1][2])
    return points, walls


def benchmark_config(relative_path: str, behavior: str, steps: int, window: int) -> dict:
    """A shipped config trained for ``steps`` with a summary every ``window`` steps and no
    periodic checkpoints (their ONNX exports would be timed too)."""
    config = yaml.safe_load((ROOT / relative_path).read_text())
    settings = config["behaviors"][behavior]
    settings["max_steps"] = steps
    settings["summary_freq"] = window
    settings["checkpoint_interval"] = 10**9
    return config


def measure(script: str, args: list[str], window: int, threshold: float) -> dict:
    """Run ``script --worker ... args`` in a subprocess; add speed, steps and wall seconds to
    ``threshold``."""
    cmd = [sys.executable, script, *args]
    env = {**os.environ, "BENCH_LAUNCHED_AT": repr(time.time())}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if "episodes" in result:
        result["points"], result["wall"] = episodes_to_windows(
            [tuple(e) for e in result.pop("episodes")], window
        )
    points = [tuple(p) for p in result["points"]]
    result["reached"] = first_reaching(points, threshold)
    result["reached_seconds"] = next(
        (
            wall
            for (_, value), wall in zip(points, result["wall"], strict=True)
            if value >= threshold
        ),
        None,
    )
    result["steps_per_second"] = result["steps"] / result["seconds"]
    return result


def median_or_none(values: list[float | None]) -> float | None:
    """Median of ``values`` if none is ``None`` (a seed that never reached counts as worse)."""
    if any(v is None for v in values):
        return None
    return statistics.median(values)  # type: ignore[type-var]
