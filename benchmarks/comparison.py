"""Shared machinery of the dojo-vs-Stable-Baselines3 benchmarks.

Each (framework, seed) run happens in its own subprocess (the benchmark script re-invoked with
``--worker``), frameworks alternate so machine noise hits both alike, and the learning curve of
both is the mean return of the episodes finished in each window of steps, as dojo's
``Environment/Cumulative Reward`` summary reports it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
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


def read_reward_curve(folder: Path) -> Curve:
    """``Environment/Cumulative Reward`` of a behavior folder's TensorBoard events."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder))
    accumulator.Reload()
    return [(e.step, e.value) for e in accumulator.Scalars("Environment/Cumulative Reward")]


def run_dojo(config: dict[str, Any], behavior: str, seed: int, threads: int = 1) -> dict:
    """Train ``config`` with ``mlagents-learn``; training seconds (timers.json) and curve."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        cmd = [
            str(Path(sys.executable).with_name("mlagents-learn")),
            str(path),
            "--run-id=bench",
            f"--seed={seed}",
            f"--results-dir={tmp}/results",
            f"--num-threads={threads}",
        ]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        run_dir = Path(tmp) / "results" / "bench"
        timers = json.loads((run_dir / "run_logs" / "timers.json").read_text())
        seconds = timers["children"]["TrainerController.start_learning"]["total"]
        points = read_reward_curve(run_dir / behavior)
    steps = config["behaviors"][behavior]["max_steps"]
    return {"steps": steps, "seconds": seconds, "points": points}


def episode_recorder() -> Any:
    """An SB3 callback collecting ``(timestep, episode return)`` of every finished episode."""
    from stable_baselines3.common.callbacks import BaseCallback

    class Episodes(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.episodes: Curve = []

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    self.episodes.append((self.num_timesteps, float(info["episode"]["r"])))
            return True

    return Episodes()


def measure(
    script: str,
    worker: str,
    seed: int,
    steps: int,
    window: int,
    threshold: float,
    env: dict[str, str] | None = None,
) -> dict:
    """Run ``script --worker worker`` in a subprocess and add speed and steps to threshold."""
    cmd = [sys.executable, script, "--worker", worker, "--seeds", str(seed), "--steps", str(steps)]
    out = subprocess.run(
        cmd, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})}
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if "episodes" in result:
        result["points"] = window_means([tuple(e) for e in result.pop("episodes")], window)
    result["reached"] = first_reaching([tuple(p) for p in result["points"]], threshold)
    result["steps_per_second"] = result["steps"] / result["seconds"]
    return result


def print_table(
    title: str, rows: list[tuple[str, int, dict]], names: dict[str, str], threshold: float
) -> None:
    """Median speed, speed relative to SB3 and steps to ``threshold`` per framework."""
    present = [name for name in names if any(row[0] == name for row in rows)]
    summary = {}
    for name in present:
        results = [r for f, _seed, r in rows if f == name]
        reached = [r["reached"] for r in results]
        found = [x for x in reached if x is not None]
        median = statistics.median(found) if len(found) == len(reached) else None
        speed = statistics.median(r["steps_per_second"] for r in results)
        summary[name] = (speed, reached, median)
    reference = summary["sb3"][0]
    print()
    print(title)
    print(
        f"| framework | env steps/s | steps/s vs SB3 | steps to {threshold:g} (per seed) "
        f"| median steps to {threshold:g} |"
    )
    print("|---|---:|---:|---|---:|")
    for name in present:
        speed, reached, median = summary[name]
        print(f"| {names[name]} | {speed:,.0f} | {speed / reference:.2f}x | {reached} | {median} |")


def benchmark_config(relative_path: str, behavior: str, steps: int, window: int) -> dict:
    """A shipped config trained for ``steps`` with a summary every ``window`` steps and no
    periodic checkpoints (their ONNX exports would be timed too)."""
    config = yaml.safe_load((ROOT / relative_path).read_text())
    settings = config["behaviors"][behavior]
    settings["max_steps"] = steps
    settings["summary_freq"] = window
    settings["checkpoint_interval"] = 10**9
    return config


def timed_learn(model: Any, steps: int) -> dict:
    """Train an SB3 model; its training seconds and finished episodes."""
    import time

    callback = episode_recorder()
    start = time.perf_counter()
    model.learn(total_timesteps=steps, callback=callback)
    seconds = time.perf_counter() - start
    return {"steps": steps, "seconds": seconds, "episodes": callback.episodes}


def compare(
    script: str,
    seeds: list[int],
    steps: int,
    runs: list[tuple[str, str, dict[str, str] | None]],
    window: int,
    threshold: float,
    names: dict[str, str],
    title: str,
) -> None:
    """Measure every ``(label, worker, extra environment)`` run for each seed, alternating
    frameworks so machine noise hits all alike, then print the table."""
    rows = []
    for seed in seeds:
        for label, worker, env in runs:
            result = measure(script, worker, seed, steps, window, threshold, env)
            rows.append((label, seed, result))
            print(
                f"  {label:9} seed {seed}: {result['steps_per_second']:8.0f} steps/s, "
                f"reached {threshold:g} at {result['reached']}",
                file=sys.stderr,
            )
    print_table(title, rows, names, threshold)
