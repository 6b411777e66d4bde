"""CartPole PPO over the Unity protocol vs in-process Gymnasium: throughput and learning.

Trains ``configs/ppo/CartPole.yaml`` (8 environments, 100,000 steps) twice per seed with
``mlagents-learn``: once with ``env_path: gymnasium:CartPole-v1`` (8 copies stepped in the
trainer's process) and once with ``env_path`` pointing at an executable script that runs
``python -m dojo_unity.serve gymnasium:CartPole-v1`` -- 8 player processes, each a real gRPC
client of the trainer, launched exactly as Unity builds are (``--mlagents-port``, ``-logFile``).
Prints env steps per second (training-loop seconds from ``timers.json``) and the first
5,000-step window whose mean episode return (``Environment/Cumulative Reward``) reaches 475.

    python benchmarks/grpc_throughput.py [--seeds 0 1] [--steps 100000] [--num-envs 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from comparison import benchmark_config, first_reaching, run_dojo

THRESHOLD = 475.0
WINDOW = 5000


def player_script(folder: Path) -> Path:
    """An executable that serves CartPole as a Unity player would (accepts the same flags)."""
    path = folder / "CartPolePlayer"
    path.write_text(
        f'#!/bin/sh\nexec {sys.executable} -m dojo_unity.serve gymnasium:CartPole-v1 "$@"\n'
    )
    path.chmod(0o755)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--num-envs", type=int, default=8)
    args = parser.parse_args()
    rows: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        player = player_script(Path(tmp))
        paths = {
            "gymnasium, in-process": "gymnasium:CartPole-v1",
            "gRPC player processes": str(player),
        }
        for seed in args.seeds:
            for label, env_path in paths.items():
                config = benchmark_config(
                    "configs/ppo/CartPole.yaml", "CartPole", args.steps, WINDOW
                )
                config["env_settings"]["env_path"] = env_path
                config["env_settings"]["num_envs"] = args.num_envs
                result = run_dojo(config, "CartPole", seed)
                result["reached"] = first_reaching(result["points"], THRESHOLD)
                result["best"] = max((m for _, m in result["points"]), default=float("nan"))
                rows.setdefault(label, []).append(result)
                speed = result["steps"] / result["seconds"]
                print(
                    f"seed {seed} {label}: {speed:.0f} steps/s, reached {THRESHOLD:g} at "
                    f"{result['reached']}, best window {result['best']:.1f}",
                    flush=True,
                )
    print()
    print(
        f"| environment path ({args.num_envs} envs) | env steps/s (median) "
        f"| steps to {THRESHOLD:g} | best window mean |"
    )
    print("|---|---|---|---|")
    for label, results in rows.items():
        speed = statistics.median(r["steps"] / r["seconds"] for r in results)
        reached = ", ".join(str(r["reached"]) for r in results)
        best = ", ".join(f"{r['best']:.1f}" for r in results)
        print(f"| {label} | {speed:,.0f} | {reached} | {best} |")


if __name__ == "__main__":
    main()
