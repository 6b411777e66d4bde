"""Fault injection: bad and hostile input to the real ``mlagents-learn``.

Each case runs ``mlagents-learn`` as a user would (a subprocess, in a fresh folder with a
``results`` folder holding one earlier run) and passes when the command exits with 1, prints
exactly one ``error:`` line on stderr, no ``Traceback`` anywhere, and leaves the folder (the
results included) exactly as it was. Rows group the cases: configuration file, command line,
run id, resume.

Run alone: ``.venv/bin/python benchmarks/faults/bad_inputs.py [--quick]``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from faults.table import Row, markdown_table

MLAGENTS_LEARN = Path(sys.executable).parent / "mlagents-learn"
TIMEOUT = 300
RUN_ID = "earlier"

SMALL = {
    "behaviors": {
        "CartPole": {
            "trainer_type": "ppo",
            "hyperparameters": {"batch_size": 64, "buffer_size": 256},
            "network_settings": {"hidden_units": 32, "num_layers": 1},
            "max_steps": 500,
            "summary_freq": 250,
            "checkpoint_interval": 250,
        }
    },
    "env_settings": {"env_path": "gymnasium:CartPole-v1"},
}


def _with(path: str, value: object, base: dict | None = None) -> dict:
    data = yaml.safe_load(yaml.safe_dump(base or SMALL))
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return data


@dataclass(frozen=True)
class Case:
    """A configuration (dict or YAML text), the flags, and a change to the earlier run."""

    group: str
    name: str
    config: dict | str
    flags: tuple[str, ...] = ()
    prepare: Callable[[Path], None] | None = None
    quick: bool = True
    tags: tuple[str, ...] = field(default=())


def _corrupt_checkpoint(folder: Path) -> None:
    (folder / "results" / RUN_ID / "CartPole" / "checkpoint.pt").write_bytes(b"garbage" * 10)


def _truncate_checkpoint(folder: Path) -> None:
    path = folder / "results" / RUN_ID / "CartPole" / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[:300])


SAC = _with(
    "behaviors.CartPole",
    {
        "trainer_type": "sac",
        "hyperparameters": {"batch_size": 64, "buffer_size": 1000},
        "max_steps": 1000,
    },
)
RESUME = ("--resume", f"--run-id={RUN_ID}")
MB50 = 50 * 1024 * 1024


def cases() -> list[Case]:
    """Every bad input, in table order."""
    file = "config file"
    cli = "command line"
    run_id = "run id"
    resume = "resume"
    return [
        Case(file, "duplicate top-level key (behaviors: twice)",
             "behaviors:\n  CartPole:\n    trainer_type: ppo\n"
             "behaviors:\n  CartPole:\n    trainer_type: sac\n"),
        Case(file, "duplicate nested key",
             "behaviors:\n  CartPole:\n    trainer_type: ppo\n    max_steps: 10\n"
             "    max_steps: 20\n"),
        Case(file, "10,000 nested '['", "behaviors: " + "[" * 10_000 + "]" * 10_000 + "\n"),
        Case(file, "10,000 nested mappings", "a: " + "{b: " * 10_000 + "1" + "}" * 10_000),
        Case(file, "integer of 5,000 digits", "behaviors:\n  CartPole:\n    max_steps: 1"
             + "0" * 5000 + "\n"),
        Case(file, "hidden_units: 1e9", _with("behaviors.CartPole.network_settings.hidden_units",
                                             "1e9")),
        Case(file, "hidden_units 30000 x 3 layers",
             _with("behaviors.CartPole.network_settings", {"hidden_units": 30000,
                                                           "num_layers": 3})),
        Case(file, "memory_size: 1e6", _with("behaviors.CartPole.network_settings.memory",
                                            {"memory_size": 10**6, "sequence_length": 8})),
        Case(file, "PPO buffer_size < batch_size",
             _with("behaviors.CartPole.hyperparameters.buffer_size", 32)),
        Case(file, "SAC buffer_size < batch_size",
             _with("behaviors.CartPole.hyperparameters.buffer_size", 32, SAC)),
        Case(file, "SAC buffer_size: 1e12",
             _with("behaviors.CartPole.hyperparameters.buffer_size", "1e12", SAC)),
        Case(file, "max_steps: 1e300", _with("behaviors.CartPole.max_steps", 1e300)),
        Case(file, "trainer_type of 50 MB", _with("behaviors.CartPole.trainer_type",
                                                 "p" * MB50), quick=False),
        Case(file, "unknown key of 2 MB (flow mapping)",
             "behaviors: {CartPole: {\"" + "k" * 2 * 1024 * 1024 + "\": 1}}\n", quick=False),
        Case(file, "wrong types (behaviors: a list)", "behaviors: [1, 2]\n"),
        Case(file, "wrong types (hyperparameters: text)",
             _with("behaviors.CartPole.hyperparameters", "fast")),
        Case(file, "wrong types (network_settings: 5)",
             _with("behaviors.CartPole.network_settings", 5)),
        Case(file, "num_threads: 1e12", {**SMALL, "torch_settings": {"num_threads": 10**12}}),
        Case(file, "env_path with a NUL byte", _with("env_settings.env_path", "a\0b")),
        Case(cli, "unknown flag", SMALL, ("--bogus",)),
        Case(cli, "flag without its value", SMALL, ("--num-envs",)),
        Case(cli, "bad int (--num-envs many)", SMALL, ("--num-envs", "many")),
        Case(cli, "--seed 2**70", SMALL, (f"--seed={2**70}",)),
        Case(cli, "--seed -5", SMALL, ("--seed=-5",)),
        Case(cli, "--seed 2**31", SMALL, (f"--seed={2**31}",)),
        Case(cli, "--time-scale nan", SMALL, ("--time-scale=nan",)),
        Case(cli, "--num-threads 1e12", SMALL, (f"--num-threads={10**12}",)),
        Case(cli, "--env remote:", SMALL, ("--env=remote:",)),
        Case(cli, "--env gymnasium:", SMALL, ("--env=gymnasium:",)),
        Case(cli, "--curriculum (removed flag)", SMALL, ("--curriculum=c.yaml",)),
        Case(cli, "value of 100 kB", SMALL, ("--torch-device=" + "x" * 100_000,)),
        Case(run_id, "--run-id ..", SMALL, ("--run-id=..",)),
        Case(run_id, "--run-id .", SMALL, ("--run-id=.",)),
        Case(run_id, "--run-id a/b", SMALL, ("--run-id=a/b",)),
        Case(run_id, "--run-id ../x", SMALL, ("--run-id=../x",)),
        Case(run_id, "--run-id a\\b", SMALL, ("--run-id=a\\b",)),
        Case(run_id, "--run-id with a newline", SMALL, ("--run-id=a\nb",)),
        Case(run_id, "--run-id with a tab", SMALL, ("--run-id=a\tb",)),
        Case(run_id, "--run-id empty", SMALL, ("--run-id=",)),
        Case(run_id, "--run-id of 300 characters", SMALL, ("--run-id=" + "r" * 300,)),
        Case(run_id, "run_id with a NUL byte (YAML)", _with("checkpoint_settings.run_id", "a\0b")),
        Case(run_id, "run_id ../../x (YAML)", _with("checkpoint_settings.run_id", "../../x")),
        Case(run_id, "run_id of 50 MB (YAML)", _with("checkpoint_settings.run_id", "a" * MB50),
             quick=False),
        Case(run_id, "--initialize-from ..", SMALL, ("--initialize-from=..",)),
        Case(resume, "--resume as SAC (trainer_type changed)", SAC, RESUME),
        Case(resume, "--resume with a corrupt checkpoint.pt",
             _with("behaviors.CartPole.max_steps", 1000), RESUME, _corrupt_checkpoint),
        Case(resume, "--resume with a truncated checkpoint.pt",
             _with("behaviors.CartPole.max_steps", 1000), RESUME, _truncate_checkpoint),
        Case(resume, "--resume of a run id that does not exist", SMALL,
             ("--resume", "--run-id=nothing")),
        Case(resume, "same run id without --resume or --force", SMALL, (f"--run-id={RUN_ID}",)),
    ]  # fmt: skip


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        path.relative_to(folder).as_posix(): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
    }


def _earlier_run(root: Path) -> Path:
    """A finished 500-step PPO run (``results/earlier``), made once and copied per case."""
    folder = root / "earlier_run"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(SMALL), encoding="utf-8")
    subprocess.run(
        [str(MLAGENTS_LEARN), "config.yaml", f"--run-id={RUN_ID}", "--seed=1"],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    (folder / "config.yaml").unlink()
    return folder


def run_case(case: Case, template: Path, root: Path) -> str | None:
    """Run one case; returns what went wrong, or ``None`` when every check passed."""
    folder = root / f"case{abs(hash(case.name))}"
    shutil.copytree(template, folder)
    config = folder / "bad.yaml"
    text = case.config if isinstance(case.config, str) else yaml.safe_dump(case.config)
    config.write_text(text, encoding="utf-8")
    if case.prepare is not None:
        case.prepare(folder)
    before = _listing(folder)
    try:
        process = subprocess.run(
            [str(MLAGENTS_LEARN), "bad.yaml", *case.flags],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return f"no exit within {TIMEOUT} s"
    finally:
        after = _listing(folder)
        shutil.rmtree(folder, ignore_errors=True)
    errors = [line for line in process.stderr.splitlines() if line.startswith("error:")]
    problems = []
    if process.returncode != 1:
        problems.append(f"exit {process.returncode}")
    if len(errors) != 1:
        problems.append(f"{len(errors)} error lines")
    if "Traceback" in process.stdout + process.stderr:
        problems.append("traceback")
    if len(process.stderr) > 2000:
        problems.append(f"{len(process.stderr)} characters on stderr")
    if after != before:
        changed = sorted(set(after) ^ set(before)) or ["(a file changed)"]
        problems.append(f"files changed: {', '.join(changed[:3])}")
    return "; ".join(problems) or None


def run(quick: bool = False) -> list[Row]:
    """One row per group: how many of its bad inputs were refused cleanly."""
    rows: dict[str, Row] = {}
    with tempfile.TemporaryDirectory(prefix="dojo-bad-inputs-") as tmp:
        root = Path(tmp)
        template = _earlier_run(root)
        for case in cases():
            if quick and not case.quick:
                continue
            start = time.monotonic()
            problem = run_case(case, template, root)
            elapsed = time.monotonic() - start
            row = rows.setdefault(case.group, Row("input", case.group, 0, 0, ""))
            row.total += 1
            if problem is None:
                row.passed += 1
            else:
                failed = f"{case.name}: {problem}"
                row.detail = f"{row.detail}; {failed}" if row.detail else failed
            print(f"  {'ok ' if problem is None else 'BAD'} {elapsed:5.1f} s  {case.name}"
                  + (f"  ({problem})" if problem else ""), file=sys.stderr)  # fmt: skip
    for row in rows.values():
        if row.ok:
            row.detail = "each: exit 1, one error line, no traceback, folder untouched"
    return list(rows.values())


if __name__ == "__main__":
    print(markdown_table(run(quick="--quick" in sys.argv[1:])))
