"""dojo SAC vs Stable-Baselines3 SAC on Pendulum-v1 with identical hyperparameters.

Runs each (framework, seed) pair in its own subprocess, alternating frameworks, and prints a
table of env steps per second, their ratio, and the steps each needed to reach a mean episode
return of -200 (mean over the episodes finished in each 1,000-step window, as dojo's
``Environment/Cumulative Reward`` summary reports it with ``summary_freq: 1000``).

    python benchmarks/sac_pendulum.py [--seeds 0 1 2] [--steps 20000] [--bf16]

Stable-Baselines3 is a benchmark-only dependency: ``pip install stable-baselines3``.
Hyperparameters (configs/sac/Pendulum.yaml, SB3 rl-zoo's Pendulum setting): one environment,
learning rate 1e-3 (constant), batch 256, replay 1e6, 256x256 ReLU networks, tau 0.005,
gamma 0.99, one gradient step per environment step after 100 initial steps, automatic entropy
tuning from 1.0 with target entropy -1. Both run with one torch thread in float32; ``--bf16``
adds a dojo row with its experimental bfloat16 hidden-layer products (``DOJO_SAC_MATMUL``, see
dojo_sac.trainer).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = -200.0
WINDOW = 1000
FRAMEWORKS = ("dojo", "sb3")


def window_means(episodes: list[tuple[int, float]], window: int) -> list[tuple[int, float]]:
    """Mean return of the episodes finished in each ``window`` of steps: (window end, mean)."""
    out: list[tuple[int, float]] = []
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


def first_reaching(points: list[tuple[int, float]], threshold: float) -> int | None:
    return next((step for step, value in points if value >= threshold), None)


# ------------------------------------------------------------------------------ workers
def run_sb3(seed: int, steps: int) -> dict:
    import gymnasium as gym
    import torch
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.monitor import Monitor

    torch.set_num_threads(1)

    class Episodes(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.episodes: list[tuple[int, float]] = []

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    self.episodes.append((self.num_timesteps, float(info["episode"]["r"])))
            return True

    env = Monitor(gym.make("Pendulum-v1"))
    model = SAC(
        "MlpPolicy",
        env,
        learning_rate=1e-3,
        buffer_size=1_000_000,
        learning_starts=100,
        batch_size=256,
        tau=0.005,
        gamma=0.99,
        train_freq=1,
        gradient_steps=1,
        ent_coef="auto_1.0",
        policy_kwargs={"net_arch": [256, 256]},
        seed=seed,
        device="cpu",
        verbose=0,
    )
    callback = Episodes()
    start = time.perf_counter()
    model.learn(total_timesteps=steps, callback=callback)
    seconds = time.perf_counter() - start
    return {"steps": steps, "seconds": seconds, "episodes": callback.episodes}


def run_dojo(seed: int, steps: int) -> dict:
    config = yaml.safe_load((ROOT / "configs" / "sac" / "Pendulum.yaml").read_text())
    behavior = config["behaviors"]["Pendulum"]
    behavior["max_steps"] = steps
    behavior["summary_freq"] = WINDOW
    behavior["checkpoint_interval"] = 10**9
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        cmd = [
            str(Path(sys.executable).with_name("mlagents-learn")),
            str(path),
            "--run-id=bench",
            f"--seed={seed}",
            f"--results-dir={tmp}/results",
            "--num-threads=1",
        ]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        run_dir = Path(tmp) / "results" / "bench"
        timers = json.loads((run_dir / "run_logs" / "timers.json").read_text())
        seconds = timers["children"]["TrainerController.start_learning"]["total"]
        points = read_reward_curve(run_dir / "Pendulum")
    return {"steps": steps, "seconds": seconds, "points": points}


def read_reward_curve(folder: Path) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder))
    accumulator.Reload()
    return [(e.step, e.value) for e in accumulator.Scalars("Environment/Cumulative Reward")]


# ------------------------------------------------------------------------------ driver
def worker_main(framework: str, seed: int, steps: int) -> None:
    result = run_sb3(seed, steps) if framework == "sb3" else run_dojo(seed, steps)
    print(json.dumps(result))


def _environment(framework: str) -> dict[str, str]:
    env = dict(os.environ)
    if framework == "dojo-bf16":
        env["DOJO_SAC_MATMUL"] = "bfloat16"
    return env


def measure(framework: str, seed: int, steps: int) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        framework.removesuffix("-bf16"),
        "--seeds",
        str(seed),
        "--steps",
        str(steps),
    ]
    out = subprocess.run(
        cmd, check=True, capture_output=True, text=True, env=_environment(framework)
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if framework == "sb3":
        result["points"] = window_means([tuple(e) for e in result.pop("episodes")], WINDOW)
    result["reached"] = first_reaching([tuple(p) for p in result["points"]], THRESHOLD)
    result["steps_per_second"] = result["steps"] / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--bf16", action="store_true", help="add a dojo row in bfloat16")
    parser.add_argument("--worker", choices=["dojo", "sb3"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker, args.seeds[0], args.steps)
        return

    rows = []
    for seed in args.seeds:
        frameworks = (*FRAMEWORKS, "dojo-bf16") if args.bf16 else FRAMEWORKS
        for framework in frameworks:  # alternate so machine noise hits all alike
            result = measure(framework, seed, args.steps)
            rows.append((framework, seed, result))
            print(
                f"  {framework:9} seed {seed}: {result['steps_per_second']:8.0f} steps/s, "
                f"reached {THRESHOLD:g} at {result['reached']}",
                file=sys.stderr,
            )

    def summary(framework: str) -> tuple[float, float | None, list]:
        results = [r for f, _s, r in rows if f == framework]
        speed = statistics.median(r["steps_per_second"] for r in results)
        reached = [r["reached"] for r in results]
        found = [x for x in reached if x is not None]
        median = statistics.median(found) if len(found) == len(reached) else None
        return speed, median, reached

    names = {"dojo": "dojo", "dojo-bf16": "dojo (bfloat16)", "sb3": "Stable-Baselines3"}
    present = [f for f in ("dojo", "dojo-bf16", "sb3") if any(r[0] == f for r in rows)]
    results = {f: summary(f) for f in present}
    sb3_speed = results["sb3"][0]
    print()
    print(f"SAC Pendulum-v1, {args.steps} steps, seeds {args.seeds} (median over seeds)")
    print(
        f"| framework | env steps/s | steps/s vs SB3 | steps to {THRESHOLD:g} (per seed) "
        f"| median steps to {THRESHOLD:g} |"
    )
    print("|---|---:|---:|---|---:|")
    for f in present:
        speed, median, reached = results[f]
        print(f"| {names[f]} | {speed:,.0f} | {speed / sb3_speed:.2f}x | {reached} | {median} |")


if __name__ == "__main__":
    main()
