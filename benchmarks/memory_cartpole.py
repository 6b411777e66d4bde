"""PPO with and without recurrent memory on CartPole with its velocities hidden.

``dojo/CartPoleNoVel-v0`` shows the agent only the cart position and the pole angle; balancing
needs the velocities, which a policy can only infer by remembering earlier observations. Both
runs use ``configs/ppo/CartPoleNoVel-memory.yaml``; the "no memory" one removes its
``network_settings.memory`` section and changes nothing else. For each run this prints the first
summary step whose mean episode return (``Environment/Cumulative Reward``, every
``summary_freq`` steps) reaches ``--threshold``, the best and the last summary, and the
training time.

    python benchmarks/memory_cartpole.py [--seeds 0 1 2] [--steps 150000] [--jobs 2]
"""

from __future__ import annotations

import argparse
import copy
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from comparison import ROOT, first_reaching, run_dojo

CONFIG = ROOT / "configs" / "ppo" / "CartPoleNoVel-memory.yaml"
BEHAVIOR = "CartPoleNoVel"
KINDS = ("memory", "no memory")


def config_for(kind: str, steps: int) -> dict:
    """The memory config, with ``max_steps`` set and, for "no memory", no ``memory``."""
    config = copy.deepcopy(yaml.safe_load(CONFIG.read_text()))
    behavior = config["behaviors"][BEHAVIOR]
    behavior["max_steps"] = steps
    if kind == "no memory":
        behavior["network_settings"].pop("memory")
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=150_000)
    parser.add_argument("--threshold", type=float, default=475.0)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (1 thread each)")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    args = parser.parse_args()
    jobs = [(kind, seed) for kind in args.kinds for seed in args.seeds]

    def run(job: tuple[str, int]) -> dict:
        kind, seed = job
        return run_dojo(config_for(kind, args.steps), BEHAVIOR, seed, threads=1)

    with ThreadPoolExecutor(args.jobs) as pool:
        results = dict(zip(jobs, pool.map(run, jobs), strict=True))
    print(f"PPO on dojo/CartPoleNoVel-v0, {args.steps} steps, threshold {args.threshold:g}")
    print("| policy | seed | first step >= threshold | best mean return | last | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for (kind, seed), result in results.items():
        points = result["points"]
        reached = first_reaching(points, args.threshold)
        print(
            f"| {kind} | {seed} | {reached if reached is not None else 'never'} "
            f"| {max(v for _, v in points):.1f} | {points[-1][1]:.1f} "
            f"| {result['seconds']:.0f} |"
        )


if __name__ == "__main__":
    main()
