"""Updates that diverge: a finite but huge reward (1e30) makes the squared value error overflow,
so an update's loss is infinite. Each run must stop with one ``error:`` line naming the loss,
keep the checkpoints written before it (all finite, all listed in the status file) and save
nothing from the diverged weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from faults.table import Row, markdown_table

MLAGENTS_LEARN = str(Path(sys.executable).parent / "mlagents-learn")

HUGE_REWARD_ENV = '''
import gymnasium as gym
from gymnasium.envs.classic_control.cartpole import CartPoleEnv


class HugeReward(CartPoleEnv):
    """CartPole whose reward is 1e30 from its ``at``-th step on."""

    def __init__(self, at=300, **kwargs):
        super().__init__(**kwargs)
        self.at, self.count = int(at), 0

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        self.count += 1
        return obs, (1.0e30 if self.count >= self.at else reward), terminated, truncated, info


gym.register("HugeReward-v0", entry_point=HugeReward, max_episode_steps=500)
'''

TRAINERS = {
    "ppo": {
        "trainer_type": "ppo",
        "hyperparameters": {"batch_size": 256, "buffer_size": 256, "num_epoch": 3},
        "threaded": False,
    },
    "ppo (threaded)": {
        "trainer_type": "ppo",
        "hyperparameters": {"batch_size": 256, "buffer_size": 256, "num_epoch": 3},
        "threaded": True,
    },
    "sac": {
        "trainer_type": "sac",
        "hyperparameters": {"batch_size": 64, "buffer_size": 5000, "buffer_init_steps": 100},
    },
}


def _problems(folder: Path, stderr: str, returncode: int) -> list[str]:
    problems = []
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    if returncode != 1:
        problems.append(f"exit {returncode}")
    if len(errors) != 1 or "training diverged" not in errors[0]:
        problems.append(f"error lines: {errors}")
    if "Traceback" in stderr:
        problems.append("traceback")
    behavior = folder / "HugeReward"
    on_disk = sorted(int(p.stem.rsplit("-", 1)[1]) for p in behavior.glob("HugeReward-*.pt"))
    status = json.loads((folder / "run_logs" / "training_status.json").read_text())
    listed = sorted(c["steps"] for c in status["HugeReward"]["checkpoints"])
    if not on_disk or listed != on_disk:
        problems.append(f"status lists {listed}, disk has {on_disk}")
    for path in behavior.glob("*.pt"):
        state = torch.load(path, weights_only=True)
        if not all(torch.isfinite(t).all() for t in state["Policy"].values()):
            problems.append(f"{path.name} not finite")
    if (folder / "HugeReward.onnx").exists():
        problems.append("a final model was written")
    return problems


def run(quick: bool = False) -> list[Row]:
    rows = []
    seeds = [0] if quick else [0, 1, 2]
    for trainer, settings in TRAINERS.items():
        failures = []
        for seed in seeds:
            with tempfile.TemporaryDirectory() as tmp:
                Path(tmp, "huge_reward_env.py").write_text(HUGE_REWARD_ENV)
                behavior = {
                    **settings,
                    "network_settings": {"hidden_units": 32, "num_layers": 1},
                    "max_steps": 5000,
                    "time_horizon": 32,
                    "summary_freq": 500,
                    "checkpoint_interval": 200,
                    "keep_checkpoints": 3,
                }
                config = {
                    "behaviors": {"HugeReward": behavior},
                    "env_settings": {
                        "env_path": "gymnasium:huge_reward_env:HugeReward-v0",
                        "num_envs": 4,
                        "env_args": [f"at={150 + 50 * seed}"],
                    },
                }
                Path(tmp, "config.yaml").write_text(yaml.safe_dump(config))
                env = {**os.environ, "PYTHONPATH": os.pathsep.join([tmp, *sys.path])}
                done = subprocess.run(
                    [MLAGENTS_LEARN, "config.yaml", "--run-id=div", f"--seed={seed}"],
                    cwd=tmp,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                problems = _problems(Path(tmp, "results", "div"), done.stderr, done.returncode)
                if problems:
                    failures.append(f"seed {seed}: {'; '.join(problems)}")
        rows.append(
            Row(
                "divergence",
                f"infinite loss ({trainer}): stops, keeps finite checkpoints",
                len(seeds) - len(failures),
                len(seeds),
                " / ".join(failures),
            )
        )
    return rows


if __name__ == "__main__":
    print(markdown_table(run(quick="--quick" in sys.argv)))
