"""dojo vs Stable-Baselines3 on the same work, side by side, in one command.

    python benchmarks/compare.py [--seeds 0 1 2] [--only ppo-cartpole sac-pendulum ...]
                                 [--out results/benchmarks] [--no-scaling] [--no-threaded]

For each benchmark and seed, dojo and SB3 train with identical hyperparameters, each in its own
subprocess, alternating so machine noise hits both alike. Printed per benchmark (medians over
seeds): env steps/s, the ratio to SB3, the steps and wall seconds (from process launch) until
the mean return of a window of steps first reaches the threshold, and peak resident memory.
Then dojo alone: PPO CartPole steps/s at ``--num-envs`` 1, 8, 32 and 128, and ``threaded:
true`` against ``false``. Everything is also written to ``<out>/compare.json``, and the return
against wall-clock time of every run to ``<out>/compare.png``.

Benchmarks (hyperparameters: SB3 rl-zoo's tuned settings; dojo's configs say the same):

- ``ppo-cartpole``: CartPole-v1, 8 envs x 32 steps, batch 256, 20 epochs, gamma 0.98,
  lambda 0.8, lr 1e-3 and clip 0.2 both linear to 0, no entropy bonus, 64x64 tanh; 100k steps,
  threshold 475 over 5k-step windows (``configs/ppo/CartPole.yaml``).
- ``ppo-acrobot``: Acrobot-v1, 16 envs x 256 steps, batch 64, 4 epochs, gamma 0.99,
  lambda 0.94, lr 3e-4, clip 0.2, observation normalisation (SB3's ``VecNormalize`` without
  reward normalisation, which ML-Agents does not have); 200k steps, threshold -100 over
  10k-step windows (``configs/ppo/Acrobot.yaml``).
- ``sac-pendulum``: Pendulum-v1, 1 env, lr 1e-3, batch 256, buffer 1e6, 256x256 ReLU, tau
  0.005, one update per step after 100 steps, entropy coefficient tuned from 1.0; 10k steps,
  threshold -200 over 1k-step windows (``configs/sac/Pendulum.yaml``).

Threads: dojo runs with its defaults. SB3 runs at its faster torch thread count: a short probe
run of each benchmark at 1 thread and at PyTorch's default (one per core) picks it, so the
ratio is against SB3's best (``--sb3-threads N`` skips the probe).

Benchmark-only dependencies: ``pip install stable-baselines3 matplotlib`` (``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from comparison import ROOT, benchmark_config, measure, median_or_none, run_dojo, timed_learn


@dataclass(frozen=True)
class Benchmark:
    title: str
    config: str
    behavior: str
    steps: int
    window: int
    threshold: float
    sb3: Callable[[int, int], dict]
    probe_steps: int


def sb3_ppo_cartpole(seed: int, steps: int) -> dict:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    def linear(initial: float) -> Callable[[float], float]:
        return lambda progress: progress * initial  # SB3 progress goes from 1 to 0

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
    )
    return timed_learn(model, steps)


def sb3_ppo_acrobot(seed: int, steps: int) -> dict:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    env = VecNormalize(
        make_vec_env("Acrobot-v1", n_envs=16, seed=seed), norm_obs=True, norm_reward=False
    )
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=256,
        batch_size=64,
        n_epochs=4,
        gamma=0.99,
        gae_lambda=0.94,
        ent_coef=0.0,
        learning_rate=3e-4,
        clip_range=0.2,
        seed=seed,
        device="cpu",
    )
    return timed_learn(model, steps)


def sb3_sac_pendulum(seed: int, steps: int) -> dict:
    import gymnasium as gym
    from stable_baselines3 import SAC
    from stable_baselines3.common.monitor import Monitor

    model = SAC(
        "MlpPolicy",
        Monitor(gym.make("Pendulum-v1")),
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
    )
    return timed_learn(model, steps)


BENCHMARKS = {
    "ppo-cartpole": Benchmark(
        "PPO CartPole-v1", "configs/ppo/CartPole.yaml", "CartPole", 100_000, 5000, 475.0,
        sb3_ppo_cartpole, 20_000,
    ),
    "ppo-acrobot": Benchmark(
        "PPO Acrobot-v1", "configs/ppo/Acrobot.yaml", "Acrobot", 200_000, 10_000, -100.0,
        sb3_ppo_acrobot, 16_384,
    ),
    "sac-pendulum": Benchmark(
        "SAC Pendulum-v1", "configs/sac/Pendulum.yaml", "Pendulum", 10_000, 1000, -200.0,
        sb3_sac_pendulum, 1100,
    ),
}  # fmt: skip
SCALING_ENVS = (1, 8, 32, 128)
SCALING_STEPS = 30_000
# threaded: true/false, alternating pairs at seed 0 (the median of the pairs' ratios). PPO runs
# its benchmark length: the update process takes about a second to start, and a short run
# would mostly measure that.
THREADED_STEPS = {"ppo-cartpole": 100_000, "sac-pendulum": 3000}
THREADED_PAIRS = 3


def worker(args: argparse.Namespace) -> dict:
    """One training run in this process (``--worker``); its result as a dict."""
    bench = BENCHMARKS[args.bench]
    if args.worker == "sb3":
        if args.sb3_threads:
            import torch

            torch.set_num_threads(args.sb3_threads)
        return bench.sb3(args.seed, args.steps)
    config = benchmark_config(bench.config, bench.behavior, args.steps, bench.window)
    if args.num_envs:
        config["env_settings"]["num_envs"] = args.num_envs
    if args.threaded is not None:
        config["behaviors"][bench.behavior]["threaded"] = args.threaded == "true"
    return run_dojo(config, bench.behavior, args.seed)


def run(name: str, framework: str, seed: int, steps: int, extra: list[str]) -> dict:
    bench = BENCHMARKS[name]
    args = ["--worker", framework, "--bench", name, "--seed", str(seed), "--steps", str(steps)]
    result = measure(__file__, args + extra, bench.window, bench.threshold)
    print(
        f"  {name} {framework:4} seed {seed}{' ' + ' '.join(extra) if extra else ''}: "
        f"{result['steps_per_second']:8.0f} steps/s, {bench.threshold:g} at step "
        f"{result['reached']} ({_seconds(result['reached_seconds'])}), "
        f"peak {result['peak_rss_mb']:.0f} MB",
        file=sys.stderr,
        flush=True,
    )
    return result


def probe_sb3_threads(name: str) -> int:
    """SB3's faster torch thread count on this machine for benchmark ``name``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    candidates = sorted({1, cores or 1})
    if len(candidates) == 1:
        return 1
    steps = BENCHMARKS[name].probe_steps
    speeds = {
        n: run(name, "sb3", 0, steps, [f"--sb3-threads={n}"])["steps_per_second"]
        for n in candidates
    }
    best = max(speeds, key=speeds.__getitem__)
    print(f"  {name}: SB3 probe {speeds} steps/s by threads -> {best}", file=sys.stderr)
    return best


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def summarise(results: list[dict]) -> dict[str, Any]:
    return {
        "steps_per_second": statistics.median(r["steps_per_second"] for r in results),
        "reached": [r["reached"] for r in results],
        "median_reached": median_or_none([r["reached"] for r in results]),
        "median_reached_seconds": median_or_none([r["reached_seconds"] for r in results]),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
    }


def print_comparison(name: str, seeds: list[int], summary: dict[str, dict]) -> None:
    bench = BENCHMARKS[name]
    dojo, sb3 = summary["dojo"], summary["sb3"]
    t = f"{bench.threshold:g}"
    print(
        f"\n{bench.title}, {bench.steps:,} steps, seeds {seeds} (medians over seeds; SB3 with "
        f"{summary['sb3_threads']} torch thread(s))"
    )
    print(
        f"| framework | env steps/s | vs SB3 | steps to {t} (per seed) | median steps to {t} "
        f"| median wall s to {t} | peak RSS MB |"
    )
    print("|---|---:|---:|---|---:|---:|---:|")
    for label, row in (("dojo", dojo), ("Stable-Baselines3", sb3)):
        ratio = row["steps_per_second"] / sb3["steps_per_second"]
        seconds = row["median_reached_seconds"]
        print(
            f"| {label} | {row['steps_per_second']:,.0f} | {ratio:.2f}x | {row['reached']} "
            f"| {row['median_reached']} | {'never' if seconds is None else f'{seconds:.1f}'} "
            f"| {row['peak_rss_mb']:.0f} |"
        )


def plot(runs: dict[str, dict[str, list[dict]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 4), squeeze=False)
    colours = {"dojo": "tab:blue", "sb3": "tab:orange"}
    for ax, (name, by_framework) in zip(axes[0], runs.items(), strict=True):
        bench = BENCHMARKS[name]
        for framework, results in by_framework.items():
            for i, result in enumerate(results):
                values = [value for _step, value in result["points"]]
                ax.plot(
                    result["wall"],
                    values,
                    color=colours[framework],
                    alpha=0.8,
                    label=("dojo" if framework == "dojo" else "Stable-Baselines3")
                    if i == 0
                    else None,
                )
        ax.axhline(bench.threshold, color="grey", linestyle="--", linewidth=1)
        ax.set_title(bench.title)
        ax.set_xlabel("wall-clock seconds since launch")
        ax.set_ylabel("mean episode return")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmarks")
    parser.add_argument("--sb3-threads", type=int, help="torch threads for SB3 (default: torch's)")
    parser.add_argument("--no-scaling", action="store_true", help="skip the --num-envs sweep")
    parser.add_argument("--no-threaded", action="store_true", help="skip threaded: true/false")
    # Worker mode (one run per subprocess).
    parser.add_argument("--worker", choices=["dojo", "sb3"], help=argparse.SUPPRESS)
    parser.add_argument("--bench", choices=list(BENCHMARKS), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--num-envs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--threaded", choices=["true", "false"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return

    report: dict[str, Any] = {"seeds": args.seeds, "benchmarks": {}}
    runs: dict[str, dict[str, list[dict]]] = {}
    for name in args.only:
        bench = BENCHMARKS[name]
        threads = args.sb3_threads or probe_sb3_threads(name)
        sb3_extra = [f"--sb3-threads={threads}"]
        runs[name] = {"dojo": [], "sb3": []}
        for seed in args.seeds:
            runs[name]["dojo"].append(run(name, "dojo", seed, bench.steps, []))
            runs[name]["sb3"].append(run(name, "sb3", seed, bench.steps, sb3_extra))
        summary: dict[str, Any] = {
            framework: summarise(results) for framework, results in runs[name].items()
        }
        summary["sb3_threads"] = threads
        summary["ratio"] = summary["dojo"]["steps_per_second"] / summary["sb3"]["steps_per_second"]
        report["benchmarks"][name] = {"summary": summary, "runs": runs[name]}
        print_comparison(name, args.seeds, summary)

    if not args.no_scaling:
        print(f"\nPPO CartPole-v1, dojo, {SCALING_STEPS:,} steps, seed 0: --num-envs scaling")
        print("| --num-envs | env steps/s |\n|---:|---:|")
        scaling = {}
        for n in SCALING_ENVS:
            result = run("ppo-cartpole", "dojo", 0, SCALING_STEPS, [f"--num-envs={n}"])
            scaling[n] = result["steps_per_second"]
            print(f"| {n} | {scaling[n]:,.0f} |")
        report["num_envs_scaling"] = scaling

    if not args.no_threaded:
        print(f"\ndojo, threaded: false vs true (seed 0, {THREADED_PAIRS} alternating pairs)")
        print("| benchmark | steps | false steps/s | true steps/s | true / false (median) |")
        print("|---|---:|---:|---:|---:|")
        threaded = {}
        for name, steps in THREADED_STEPS.items():
            if name not in args.only:
                continue
            pairs = [
                {
                    flag: run(name, "dojo", 0, steps, [f"--threaded={flag}"])["steps_per_second"]
                    for flag in ("false", "true")
                }
                for _ in range(THREADED_PAIRS)
            ]
            ratio = statistics.median(p["true"] / p["false"] for p in pairs)
            threaded[name] = {"pairs": pairs, "median_ratio": ratio}
            falses = ", ".join(f"{p['false']:,.0f}" for p in pairs)
            trues = ", ".join(f"{p['true']:,.0f}" for p in pairs)
            print(f"| {name} | {steps:,} | {falses} | {trues} | {ratio:.2f} |")
        report["threaded"] = threaded

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compare.json").write_text(json.dumps(report, indent=1))
    if runs:
        plot(runs, args.out / "compare.png")
    print(f"\nWrote {args.out / 'compare.json'} and {args.out / 'compare.png'}")


if __name__ == "__main__":
    main()
