"""PPO on MountainCar-v0 with curiosity, with RND, and with the extrinsic reward only.

MountainCar's reward is -1 per step until the car reaches the flag, and an episode ends after
200 steps: random play never finds the flag, so without an exploration bonus PPO stays at -200.
For each configuration and seed this trains ``--steps`` steps and prints the first summary step
whose mean episode return (``Environment/Cumulative Reward``) reaches ``--threshold``, and the
last summary's value.

    python benchmarks/intrinsic_mountaincar.py [--seeds 0 1 2] [--steps 300000] [--jobs 2]

Needs the dojo-rewards plugin (``pip install ./plugins/rewards``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "curiosity": ROOT / "configs" / "ppo" / "MountainCar-curiosity.yaml",
    "rnd": ROOT / "configs" / "ppo" / "MountainCar-rnd.yaml",
    "extrinsic only": ROOT / "configs" / "ppo" / "MountainCar-curiosity.yaml",
}


def train(kind: str, seed: int, steps: int, folder: Path) -> list[tuple[int, float]]:
    config = yaml.safe_load(CONFIGS[kind].read_text())
    behavior = config["behaviors"]["MountainCar"]
    behavior["max_steps"] = steps
    if kind == "extrinsic only":
        behavior["reward_signals"] = {"extrinsic": behavior["reward_signals"]["extrinsic"]}
    run_id = f"{kind.replace(' ', '-')}-{seed}"
    path = folder / f"{run_id}.yaml"
    path.write_text(yaml.safe_dump(config))
    learn = str(Path(sys.executable).with_name("mlagents-learn"))
    subprocess.run(
        [learn, str(path), f"--run-id={run_id}", f"--seed={seed}", f"--results-dir={folder}"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder / run_id / "MountainCar"))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars("Environment/Cumulative Reward")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=300_000)
    parser.add_argument("--threshold", type=float, default=-160.0)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel")
    parser.add_argument("--kinds", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    args = parser.parse_args()
    jobs = [(kind, seed) for kind in args.kinds for seed in args.seeds]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        curves = dict(
            zip(jobs, pool.map(lambda job: train(*job, args.steps, Path(tmp)), jobs), strict=True)
        )
    print(f"PPO MountainCar-v0, {args.steps} steps, threshold {args.threshold:g}")
    print("| reward signals | seed | first step >= threshold | best mean return | last |")
    print("|---|---:|---:|---:|---:|")
    for (kind, seed), points in curves.items():
        reached = next((s for s, v in points if v >= args.threshold), None)
        best = max(v for _, v in points)
        print(
            f"| {kind} | {seed} | {reached if reached is not None else 'never'} "
            f"| {best:.1f} | {points[-1][1]:.1f} |"
        )


if __name__ == "__main__":
    main()
