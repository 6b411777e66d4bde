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

from comparison import benchmark_config, compare, run_dojo, timed_learn

THRESHOLD = 475.0
WINDOW = 5000
NAMES = {"dojo": "dojo", "sb3": "Stable-Baselines3"}


def run_sb3(seed: int, steps: int) -> dict:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)

    def linear(initial: float):  # SB3's "lin_" schedules: progress goes from 1 to 0
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
    return timed_learn(model, steps)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--worker", choices=list(NAMES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        seed = args.seeds[0]
        if args.worker == "sb3":
            result = run_sb3(seed, args.steps)
        else:
            config = benchmark_config("configs/ppo/CartPole.yaml", "CartPole", args.steps, WINDOW)
            result = run_dojo(config, "CartPole", seed)
        print(json.dumps(result))
        return

    runs = [("dojo", "dojo", None), ("sb3", "sb3", None)]
    title = f"PPO CartPole-v1, {args.steps} steps, seeds {args.seeds} (median over seeds)"
    compare(__file__, args.seeds, args.steps, runs, WINDOW, THRESHOLD, NAMES, title)


if __name__ == "__main__":
    main()
