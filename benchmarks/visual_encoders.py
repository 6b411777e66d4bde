"""PPO on pixels with each ``vis_encode_type``: mean return against steps on dojo/PixelGrid-v0.

Each encoder trains ``configs/ppo/PixelGrid.yaml`` (a 5 x 5 board, walk to the goal) through the
real ``mlagents-learn`` command, on the smallest image its encoder accepts, rounded up to whole
cells (simple 20 x 20, nature_cnn 40 x 40, resnet 15 x 15, match3 and fully_connected 5 x 5).
It prints the mean episode return of each summary period (``Environment/Cumulative Reward``) at
a few steps, and the wall-clock time. A random policy returns about 0.04, a perfect one about
0.95.

    python benchmarks/visual_encoders.py [--encoders simple resnet] [--steps 30000] [--seed 0]

Measured (seed 0, 2 torch threads, on a 2-core machine shared with other runs, so the times are
only a rough guide):

| vis_encode_type | image | 5k | 10k | 15k | 20k | 30k | time |
|---|---|---:|---:|---:|---:|---:|---:|
| simple | 3x20x20 | 0.11 | 0.42 | 0.77 | 0.91 | 0.94 | 208 s |
| nature_cnn | 3x40x40 | 0.15 | 0.61 | 0.89 | 0.94 | 0.95 | 526 s |
| resnet | 3x15x15 | 0.09 | 0.59 | 0.88 | 0.93 | 0.95 | 427 s |
| match3 | 3x5x5 | 0.09 | 0.26 | 0.73 | 0.86 | 0.94 | 164 s |
| fully_connected | 3x5x5 | 0.09 | 0.15 | 0.46 | 0.63 | 0.82 | 72 s |

Measured again after PPO's unclipped value loss and fused dense bodies (seed 0, dojo's default
of one torch thread, idle machine), ``--steps 15000`` (the learning rate decays over the run):

| vis_encode_type | image | 5k | 10k | 15k | time |
|---|---|---:|---:|---:|---:|
| simple | 3x20x20 | 0.09 | 0.34 | 0.67 | 16 s |
| nature_cnn | 3x40x40 | 0.01 | 0.43 | 0.67 | 40 s |
| resnet | 3x15x15 | 0.03 | 0.38 | 0.76 | 53 s |
| match3 | 3x5x5 | 0.02 | 0.23 | 0.40 | 17 s |
| fully_connected | 3x5x5 | 0.06 | 0.07 | 0.17 | 7 s |

and ``--encoders match3 fully_connected --steps 30000``: match3 0.22 / 0.62 / 0.84 / 0.93 and
fully_connected 0.24 / 0.61 / 0.76 / 0.89 at 10k / 15k / 20k / 30k.
"""

from __future__ import annotations

import argparse
import math
import sys

import yaml
from comparison import ROOT, run_dojo

GRID_SIZE = 5
# ML-Agents' minimum image side per encoder (dojo.torch_layer.visual_encoders.MIN_RESOLUTION;
# repeated so the driver does not import torch).
MIN_RESOLUTION = {
    "simple": 20,
    "nature_cnn": 36,
    "resnet": 15,
    "match3": 5,
    "fully_connected": 1,
}
SUMMARY_FREQ = 2500


def run(encoder: str, steps: int, seed: int, threads: int) -> dict:
    """Train one encoder; its reward curve, wall time and image side."""
    cell_pixels = math.ceil(MIN_RESOLUTION[encoder] / GRID_SIZE)
    config = yaml.safe_load((ROOT / "configs" / "ppo" / "PixelGrid.yaml").read_text())
    behavior = config["behaviors"]["PixelGrid"]
    behavior["network_settings"]["vis_encode_type"] = encoder
    behavior["max_steps"] = steps
    behavior["summary_freq"] = SUMMARY_FREQ
    behavior["checkpoint_interval"] = 10**9
    config["env_settings"]["env_args"] = [f"grid_size={GRID_SIZE}", f"cell_pixels={cell_pixels}"]
    result = run_dojo(config, "PixelGrid", seed, threads)
    return {**result, "side": GRID_SIZE * cell_pixels}


def value_at(points: list[tuple[int, float]], step: int) -> str:
    """The summary at ``step`` (the last one at or before it)."""
    before = [value for at, value in points if at <= step]
    return f"{before[-1]:.2f}" if before else "-"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--encoders", nargs="+", default=list(MIN_RESOLUTION))
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads per run")
    args = parser.parse_args()

    columns = [s for s in (5_000, 10_000, 15_000, 20_000, 30_000, 50_000) if s <= args.steps]
    rows = []
    for encoder in args.encoders:
        result = run(encoder, args.steps, args.seed, args.threads)
        rows.append((encoder, result))
        print(f"  {encoder}: {result['seconds']:.0f} s, {result['points']}", file=sys.stderr)

    print()
    print(
        f"PPO on dojo/PixelGrid-v0 ({GRID_SIZE}x{GRID_SIZE} board), seed {args.seed}: mean "
        "return per summary period (random policy ~0.04, optimal ~0.95)"
    )
    header = " | ".join(f"{s // 1000}k" for s in columns)
    print(f"| vis_encode_type | image | {header} | time |")
    print("|---|---|" + "---:|" * len(columns) + "---:|")
    for encoder, result in rows:
        values = " | ".join(value_at(result["points"], s) for s in columns)
        side = result["side"]
        print(f"| {encoder} | 3x{side}x{side} | {values} | {result['seconds']:.0f} s |")


if __name__ == "__main__":
    main()
