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

from comparison import benchmark_config, compare, run_dojo, timed_learn

THRESHOLD = -200.0
WINDOW = 1000
NAMES = {"dojo": "dojo", "dojo-bf16": "dojo (bfloat16)", "sb3": "Stable-Baselines3"}


def run_sb3(seed: int, steps: int) -> dict:
    import gymnasium as gym
    import torch
    from stable_baselines3 import SAC
    from stable_baselines3.common.monitor import Monitor

    torch.set_num_threads(1)

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
    return timed_learn(model, steps)


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
        seed = args.seeds[0]
        if args.worker == "sb3":
            result = run_sb3(seed, args.steps)
        else:
            config = benchmark_config("configs/sac/Pendulum.yaml", "Pendulum", args.steps, WINDOW)
            result = run_dojo(config, "Pendulum", seed)
        print(json.dumps(result))
        return

    runs = [("dojo", "dojo", None), ("sb3", "sb3", None)]
    if args.bf16:
        runs.append(("dojo-bf16", "dojo", {"DOJO_SAC_MATMUL": "bfloat16"}))
    title = f"SAC Pendulum-v1, {args.steps} steps, seeds {args.seeds} (median over seeds)"
    compare(__file__, args.seeds, args.steps, runs, WINDOW, THRESHOLD, NAMES, title)


if __name__ == "__main__":
    main()
