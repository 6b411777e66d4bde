"""Random SIGKILLs of checkpointing runs, each followed by the checks a user would make and by
``--resume``.

A PPO run on CartPole (a checkpoint every 500 steps, three kept) and a SAC run on Pendulum with
``save_replay_buffer`` (a checkpoint every 200 steps) are killed (SIGKILL to the process group)
at a random moment between 2.5 and 9 seconds after the start (start-up takes 2-4 s): some
before the first checkpoint, most between or inside checkpoints. Then:

- right after the kill: every ``.pt`` in the run folder loads with ``torch.load(weights_only=True)``
  and every file ``training_status.json`` lists exists (unrecorded files and ``.tmp`` files of
  an interrupted write may be there: ``--resume`` removes them);
- ``--resume`` for a few hundred more steps exits 0 and its step count goes on from the
  checkpoint (from 0, with a notice, when the run had none);
- afterwards the status lists exactly the checkpoint files on disk, no ``.tmp`` file is left,
  every ``.pt`` loads;
- SAC: the resumed run loaded the replay buffer only if it was saved at the checkpoint's step
  (its transitions = that step), and otherwise said so; never a stale buffer in silence.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from faults.table import Row, markdown_table

MLAGENTS_LEARN = str(Path(sys.executable).parent / "mlagents-learn")
RUN_ID = "killed"
KILL_WINDOW_S = (2.5, 9.0)
STEP_LINE = re.compile(r"^\[INFO\] \S+\. Step: (\d+)\.", re.MULTILINE)
LOADED = re.compile(r"Loaded the replay buffer \((\d+) transitions\)")


def ppo_config(max_steps: int) -> dict[str, Any]:
    return {
        "behaviors": {
            "CartPole": {
                "trainer_type": "ppo",
                "hyperparameters": {"batch_size": 256, "buffer_size": 256, "num_epoch": 3},
                "network_settings": {"hidden_units": 32, "num_layers": 1},
                "max_steps": max_steps,
                "time_horizon": 32,
                "summary_freq": 500,
                "checkpoint_interval": 500,
                "keep_checkpoints": 3,
            }
        },
        "env_settings": {"env_path": "gymnasium:CartPole-v1", "num_envs": 4},
    }


def sac_config(max_steps: int) -> dict[str, Any]:
    return {
        "behaviors": {
            "Pendulum": {
                "trainer_type": "sac",
                "hyperparameters": {
                    "batch_size": 32,
                    "buffer_size": 100_000,
                    "buffer_init_steps": 50,
                    "steps_per_update": 2,
                    "save_replay_buffer": True,
                },
                "network_settings": {"hidden_units": 16, "num_layers": 1},
                "max_steps": max_steps,
                "time_horizon": 10,
                "summary_freq": 200,
                "checkpoint_interval": 200,
                "keep_checkpoints": 3,
            }
        },
        "env_settings": {"env_path": "gymnasium:Pendulum-v1", "num_envs": 2},
    }


@dataclass
class Tally:
    """What the trials of one case saw."""

    passed: int = 0
    failures: list[str] = field(default_factory=list)
    no_checkpoint: int = 0
    leftovers: int = 0
    stale_buffers: int = 0
    loaded_buffers: int = 0
    resume_s: list[float] = field(default_factory=list)


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("PYTHONWARNINGS", None)
    return env


def _learn(cwd: Path, extra: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    args = [MLAGENTS_LEARN, "run.yaml", f"--run-id={RUN_ID}", "--results-dir=results", *extra]
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=_env(),
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _write(cwd: Path, config: dict[str, Any]) -> None:
    (cwd / "run.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def _kill_at_random(cwd: Path, delay: float) -> None:
    process = subprocess.Popen(
        [MLAGENTS_LEARN, "run.yaml", f"--run-id={RUN_ID}", "--results-dir=results"],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL, env=_env(), start_new_session=True,
    )  # fmt: skip
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)


def _status(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "run_logs" / "training_status.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _listed(run_dir: Path, behavior: str) -> set[str]:
    entries = _status(run_dir).get(behavior, {}).get("checkpoints", [])
    return {Path(p).name for e in entries for p in [e["file_path"], *e["auxillary_file_paths"]]}


def _on_disk(run_dir: Path, behavior: str) -> set[str]:
    folder = run_dir / behavior
    pattern = re.compile(rf"{re.escape(behavior)}-\d+\.(pt|onnx)")
    return (
        {p.name for p in folder.iterdir() if pattern.fullmatch(p.name)}
        if folder.is_dir()
        else set()
    )


def _problems_after_kill(run_dir: Path, behavior: str) -> list[str]:
    problems = []
    for path in sorted(run_dir.rglob("*.pt")):
        try:
            torch.load(path, weights_only=True)
        except Exception as err:  # any failure to load is the finding
            problems.append(f"{path.name} does not load: {type(err).__name__}")
    try:
        missing = _listed(run_dir, behavior) - _on_disk(run_dir, behavior)
    except (OSError, ValueError) as err:
        return [*problems, f"training_status.json unreadable: {err}"]
    if missing:
        problems.append(f"status lists deleted files {sorted(missing)}")
    return problems


def _buffer_step(run_dir: Path, behavior: str) -> int | None:
    path = run_dir / behavior / "last_replay_buffer.npz"
    if not path.exists():
        return None
    with np.load(path) as archive:
        return int(archive["__step__"]) if "__step__" in archive.files else -1


def trial(kind: str, seed: int, tally: Tally) -> None:
    """One kill and its checks; adds the outcome to ``tally``."""
    rng = random.Random(seed)
    behavior, make_config = ("CartPole", ppo_config) if kind == "ppo" else ("Pendulum", sac_config)
    with tempfile.TemporaryDirectory(prefix=f"dojo-kill-{kind}-") as folder:
        cwd = Path(folder)
        run_dir = cwd / "results" / RUN_ID
        _write(cwd, make_config(200_000))
        _kill_at_random(cwd, rng.uniform(*KILL_WINDOW_S))
        problems = _problems_after_kill(run_dir, behavior)
        checkpoint = run_dir / behavior / "checkpoint.pt"
        start = (
            int(torch.load(checkpoint, weights_only=True)["global_step"])
            if (checkpoint.exists())
            else 0
        )
        tally.no_checkpoint += start == 0
        tally.leftovers += len(list(run_dir.rglob("*.tmp"))) + len(
            _on_disk(run_dir, behavior) - _listed(run_dir, behavior)
        )
        buffer_step = _buffer_step(run_dir, behavior) if kind == "sac" else None
        more = 1000 if kind == "ppo" else 300
        _write(cwd, make_config(start + more))
        began = time.perf_counter()
        # Killed before the run folder was made: the id is free, a plain run starts it.
        resumed = _learn(cwd, ["--resume"] if run_dir.exists() else [])
        tally.resume_s.append(time.perf_counter() - began)
        output = resumed.stdout + resumed.stderr
        steps = [int(s) for s in STEP_LINE.findall(resumed.stdout)]
        if resumed.returncode != 0 or "Traceback" in output:
            problems.append(f"--resume exit {resumed.returncode}: {resumed.stderr.strip()[-200:]}")
        elif not steps or min(steps) <= start:
            problems.append(f"--resume did not continue from step {start}: {steps[:3]}")
        if (run_dir / behavior).is_dir():
            if _listed(run_dir, behavior) != _on_disk(run_dir, behavior):
                problems.append("status does not list exactly the files on disk after resume")
            problems += [f"{p.name} left" for p in run_dir.rglob("*.tmp")] + _problems_after_kill(
                run_dir, behavior
            )
        if kind == "sac":
            loaded = LOADED.search(output)
            if loaded is not None:
                tally.loaded_buffers += 1
                if int(loaded[1]) != start:
                    problems.append(f"loaded a buffer of {loaded[1]} transitions at step {start}")
            elif buffer_step is not None and buffer_step != start:
                tally.stale_buffers += 1
                if "is not loaded" not in output:
                    problems.append("a buffer of another step was skipped without a word")
        if problems:
            tally.failures.append(f"seed {seed}: " + "; ".join(problems))
        else:
            tally.passed += 1


def _row(kind: str, trials: int, tally: Tally) -> Row:
    case = {
        "ppo": "SIGKILL of PPO (CartPole, checkpoint every 500 steps) + --resume",
        "sac": "SIGKILL of SAC (Pendulum, save_replay_buffer, checkpoint every 200) + --resume",
    }[kind]
    notes = [
        f"killed {KILL_WINDOW_S[0]:g}-{KILL_WINDOW_S[1]:g} s after start",
        f"{tally.no_checkpoint} before the first checkpoint",
        f"{tally.leftovers} leftover files removed by --resume",
    ]
    if kind == "sac":
        notes.append(
            f"buffer loaded {tally.loaded_buffers}x (always the checkpoint's step), "
            f"{tally.stale_buffers}x of another step: refused with a warning"
        )
    if tally.resume_s:
        notes.append(f"median --resume {statistics.median(tally.resume_s):.1f} s")
    notes += tally.failures[:3]
    return Row("kill", case, tally.passed, trials, "; ".join(notes))


def run(quick: bool = False) -> list[Row]:
    """≥ 50 PPO and ≥ 10 SAC kills (5 and 2 with ``quick``)."""
    rows = []
    for kind, trials in (("ppo", 5 if quick else 50), ("sac", 2 if quick else 10)):
        tally = Tally()
        for seed in range(trials):
            trial(kind, seed, tally)
            print(f"  {kind} kill {seed + 1}/{trials}: {tally.passed} passed", file=sys.stderr)
        rows.append(_row(kind, trials, tally))
    return rows


if __name__ == "__main__":
    quick_mode = "--quick" in sys.argv[1:]
    print(markdown_table(run(quick=quick_mode)))
