"""``env_settings.vectorization_mode``: Gymnasium copies in the trainer's process or in workers.

Trains ``configs/ppo/CartPole.yaml`` (PPO, 8 copies) through the real ``mlagents-learn`` with
``sync`` (every copy stepped in the trainer's process) and ``async`` (one worker process per
copy), alternating, on three environments:

- ``CartPole-v1``: a step of about 10 microseconds, far less than a hand-over between processes;
- ``env_workers:ComputingCartPole-v0``: CartPole whose step also computes for 1 ms (a physics
  simulator): the workers share the machine's cores with the trainer;
- ``env_workers:WaitingCartPole-v0``: CartPole whose step also waits 1 ms (a simulator in
  another program or on another machine): the waits overlap.

It prints env steps/s (training loop) per run and the median ratio async / sync.

    python benchmarks/env_workers.py [--pairs 2] [--steps 20000] [--expensive-steps 5000]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from pathlib import Path

import gymnasium as gym
import yaml
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from comparison import ROOT, run_dojo  # noqa: E402

STEP_COST_S = 0.001


class ComputingCartPole(CartPoleEnv):
    """CartPole whose every step also uses :data:`STEP_COST_S` of CPU time."""

    def step(self, action):
        until = time.process_time() + STEP_COST_S  # CPU time: a wait while preempted doesn't count
        while time.process_time() < until:
            pass
        return super().step(action)


class WaitingCartPole(CartPoleEnv):
    """CartPole whose every step also waits :data:`STEP_COST_S` without using a core."""

    def step(self, action):
        time.sleep(STEP_COST_S)
        return super().step(action)


# Registered on import: the workers import this module through the ``env_workers:`` prefix.
gym.register("ComputingCartPole-v0", entry_point=ComputingCartPole, max_episode_steps=500)
gym.register("WaitingCartPole-v0", entry_point=WaitingCartPole, max_episode_steps=500)

ENVIRONMENTS = {
    "CartPole-v1": "CartPole",
    "env_workers:ComputingCartPole-v0": "ComputingCartPole",
    "env_workers:WaitingCartPole-v0": "WaitingCartPole",
}
MODES = ("sync", "async")


def config_for(env_id: str, mode: str, steps: int) -> dict:
    """``configs/ppo/CartPole.yaml`` on ``env_id`` with ``mode`` and ``steps``, no checkpoints."""
    config = copy.deepcopy(yaml.safe_load((ROOT / "configs" / "ppo" / "CartPole.yaml").read_text()))
    settings = config["behaviors"].pop("CartPole")
    settings["max_steps"] = steps
    settings["checkpoint_interval"] = 10**9
    settings["summary_freq"] = min(int(settings["summary_freq"]), steps)
    config["behaviors"][ENVIRONMENTS[env_id]] = settings
    config["env_settings"].update(env_path=f"gymnasium:{env_id}", vectorization_mode=mode)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=2, help="alternating sync/async pairs")
    parser.add_argument("--steps", type=int, default=20_000, help="steps on CartPole-v1")
    parser.add_argument("--expensive-steps", type=int, default=5000, help="on the 1 ms ones")
    args = parser.parse_args()
    # mlagents-learn and its workers import this module by name (``env_workers:...``).
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p
    )
    rows = []
    for env_id, behavior in ENVIRONMENTS.items():
        steps = args.steps if env_id == "CartPole-v1" else args.expensive_steps
        speeds: dict[str, list[float]] = {mode: [] for mode in MODES}
        for _ in range(args.pairs):
            for mode in MODES:
                result = run_dojo(config_for(env_id, mode, steps), behavior, seed=0)
                speeds[mode].append(result["steps"] / result["seconds"])
                print(f"  {env_id} {mode}: {speeds[mode][-1]:,.0f} steps/s", file=sys.stderr)
        ratios = [a / s for s, a in zip(speeds["sync"], speeds["async"], strict=True)]
        rows.append((env_id, steps, speeds, statistics.median(ratios)))
    print("PPO, 8 environments (configs/ppo/CartPole.yaml), seed 0, env steps/s per run")
    print("| environment | steps | sync | async | async / sync (median) |")
    print("|---|---:|---|---|---:|")
    for env_id, steps, speeds, ratio in rows:
        sync = ", ".join(f"{v:,.0f}" for v in speeds["sync"])
        workers = ", ".join(f"{v:,.0f}" for v in speeds["async"])
        print(f"| {env_id} | {steps:,} | {sync} | {workers} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
