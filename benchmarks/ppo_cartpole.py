"""dojo PPO vs Stable-Baselines3 PPO on CartPole-v1 with identical hyperparameters.

Runs each (framework, seed) pair in its own subprocess, alternating frameworks, and prints a
table of env steps per second, their ratio, and the steps each needed to reach a mean episode
return of 475 (mean over the episodes finished in each 5,000-step window, as dojo's
``Environment/Cumulative Reward`` summary reports it).

    python benchmarks/ppo_cartpole.py [--seeds 0 1 2] [--steps 100000]

Stable-Baselines3 is a benchmark-only dependency: ``pip install stable-baselines3``.
Hyperparameters are SB3 rl-zoo's tuned CartPole setting: 8 envs x 32 steps, batch 256,
20 epochs, gamma 0.98, lambda 0.8, learning rate 1e-3 (linear), clip 0.2, no entropy bonus,
64x64 networks. Both run with one torch thread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = 475.0
WINDOW = 5000


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
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

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

    def linear(initial: float):
        return lambda progress: progress * initial

    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=32,
        batch_size=256,
        n_epochs=20,
        gamma=0.98,
        gae_lambda=0.8,
        ent_coef=0.0,
        learning_rate=linear(1e-3),
        clip_range=linear(0.2),
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
    config = yaml.safe_load((ROOT / "configs" / "ppo" / "CartPole.yaml").read_text())
    behavior = config["behaviors"]["CartPole"]
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
        points = read_reward_curve(run_dir / "CartPole")
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


def measure(framework: str, seed: int, steps: int) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        framework,
        "--seeds",
        str(seed),
        "--steps",
        str(steps),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
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
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--worker", choices=["dojo", "sb3"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker, args.seeds[0], args.steps)
        return

    rows = []
    for seed in args.seeds:
        for framework in ("dojo", "sb3"):  # alternate so machine noise hits both alike
            result = measure(framework, seed, args.steps)
            rows.append((framework, seed, result))
            print(
                f"  {framework:4} seed {seed}: {result['steps_per_second']:8.0f} steps/s, "
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

    dojo_speed, dojo_median, dojo_reached = summary("dojo")
    sb3_speed, sb3_median, sb3_reached = summary("sb3")
    print()
    print(f"PPO CartPole-v1, {args.steps} steps, seeds {args.seeds} (median over seeds)")
    print(
        f"| framework | env steps/s | steps to {THRESHOLD:g} (per seed) "
        f"| median steps to {THRESHOLD:g} |"
    )
    print("|---|---:|---|---:|")
    print(f"| dojo | {dojo_speed:,.0f} | {dojo_reached} | {dojo_median} |")
    print(f"| Stable-Baselines3 | {sb3_speed:,.0f} | {sb3_reached} | {sb3_median} |")
    print(f"| ratio dojo/SB3 | {dojo_speed / sb3_speed:.2f}x | | |")


if __name__ == "__main__":
    main()
