"""Results that cannot be written or read.

- A full disk during training: the run's ``--results-dir`` is a 4 MB tmpfs, filled with a file
  once the first checkpoint is listed in ``training_status.json``; the first write to fail is a
  checkpoint (summaries rare) or the TensorBoard events (summaries every 100 steps). Expected:
  one ``error:`` line, exit 1, no traceback; the checkpoints the status lists are on disk,
  ``checkpoint.pt`` loads, and ``--resume`` continues from it once the file is removed.
- An unusable ``--results-dir`` (a file, a path under a file, a read-only tmpfs): one
  ``error:`` line naming it, before the environment is built, nothing written.
- An unreadable ``training_status.json`` on ``--resume`` (not UTF-8, wrong types): one
  ``error:`` line naming the file, the run folder unchanged.

Mounting a tmpfs needs root; without it those rows report 0/0 and say so.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from faults.table import Row, markdown_table

MLAGENTS_LEARN = str(Path(sys.executable).parent / "mlagents-learn")

BAD_STATUS = {
    "not UTF-8": b'{"metadata": {}, "CartPole": {"checkpoints": [{"steps": 1\xff}]}}',
    "checkpoints not a list": b'{"metadata": {}, "CartPole": {"checkpoints": 7}}',
    "steps a string": b'{"metadata": {}, "CartPole": {"checkpoints": [{"steps": "1", '
    b'"file_path": "x"}]}}',
    "behavior not an object": b'{"metadata": {}, "CartPole": [1, 2]}',
}


def config(max_steps: int, summary_freq: int = 500, checkpoint_interval: int = 500) -> str:
    behavior = {
        "trainer_type": "ppo",
        "hyperparameters": {"batch_size": 256, "buffer_size": 256, "num_epoch": 3},
        "network_settings": {"hidden_units": 32, "num_layers": 1},
        "max_steps": max_steps,
        "time_horizon": 32,
        "summary_freq": summary_freq,
        "checkpoint_interval": checkpoint_interval,
        "keep_checkpoints": 2,
    }
    run = {
        "behaviors": {"CartPole": behavior},
        "env_settings": {"env_path": "gymnasium:CartPole-v1", "num_envs": 4},
    }
    return yaml.safe_dump(run, sort_keys=False)


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("PYTHONWARNINGS", None)
    return env


def learn(cwd: Path, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MLAGENTS_LEARN, "run.yaml", *args], cwd=cwd, capture_output=True, text=True,
        timeout=300, env=_env(), stdin=subprocess.DEVNULL,
    )  # fmt: skip


def one_error_line(stderr: str, stdout: str, *fragments: str) -> str | None:
    """``None`` if ``stderr`` is one ``error:`` line holding ``fragments``, else what is wrong."""
    lines = stderr.splitlines()
    if len(lines) != 1 or not lines[0].startswith("error: "):
        return f"stderr is not one error line: {stderr.strip()[-300:]!r}"
    if "Traceback" in stdout:
        return "a traceback on stdout"
    missing = [f for f in fragments if f not in lines[0]]
    return f"error line lacks {missing}: {lines[0]}" if missing else None


@contextlib.contextmanager
def tmpfs(folder: Path, size: str, read_only: bool = False) -> Iterator[Path | None]:
    """A tmpfs mounted on ``folder``, or ``None`` when this process may not mount one."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        yield None
        return
    options = f"size={size}" + (",ro" if read_only else "")
    mount = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)]
    if subprocess.run(mount, capture_output=True).returncode != 0:
        yield None
        return
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _status(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "run_logs" / "training_status.json").read_text())


def full_disk_trial(summary_freq: int, checkpoint_interval: int, expected: str) -> str | None:
    """One run filled up mid-training; ``None`` when every check passed, else the failure."""
    with tempfile.TemporaryDirectory(prefix="dojo-full-disk-") as folder:
        cwd = Path(folder)
        with tmpfs(cwd / "disk", "4m") as disk:
            if disk is None:
                return "skipped"
            (cwd / "run.yaml").write_text(config(200_000, summary_freq, checkpoint_interval))
            args = ["--run-id=full", f"--results-dir={disk}", "--seed=0"]
            run_dir = disk / "full"
            process = subprocess.Popen(
                [MLAGENTS_LEARN, "run.yaml", *args], cwd=cwd, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, env=_env(), stdin=subprocess.DEVNULL,
            )  # fmt: skip
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and process.poll() is None:
                with contextlib.suppress(OSError, ValueError, KeyError):
                    if _status(run_dir)["CartPole"]["checkpoints"]:
                        break
                time.sleep(0.05)
            filler = disk / "filler"
            with open(filler, "wb") as file, contextlib.suppress(OSError):
                while True:
                    file.write(b"\0" * 65536)
                    file.flush()
            stdout, stderr = process.communicate(timeout=120)
            if process.returncode != 1:
                return f"exit {process.returncode}: {stderr.strip()[-200:]}"
            problem = one_error_line(stderr, stdout, "could not write", expected)
            if problem:
                return problem
            for entry in _status(run_dir)["CartPole"]["checkpoints"]:
                for path in [entry["file_path"], *entry["auxillary_file_paths"]]:
                    if not (run_dir / "CartPole" / Path(path).name).is_file():
                        return f"the status lists a missing file {path}"
            step = int(
                torch.load(run_dir / "CartPole" / "checkpoint.pt", weights_only=True)["global_step"]
            )
            filler.unlink()
            (cwd / "run.yaml").write_text(config(step + 500, summary_freq, checkpoint_interval))
            resumed = learn(cwd, [*args, "--resume"])
            if resumed.returncode != 0:
                return f"--resume after freeing space: exit {resumed.returncode}"
            if list(run_dir.rglob("*.tmp")):
                return "temporary files left after --resume"
    return None


def full_disk_rows(trials: int) -> list[Row]:
    rows = []
    cases = [
        ("a checkpoint is the first write to fail", 100_000, 500, "checkpoint of CartPole"),
        ("TensorBoard events are the first write to fail", 100, 1000, "TensorBoard events"),
    ]
    for case, summary_freq, interval, expected in cases:
        results = [full_disk_trial(summary_freq, interval, expected) for _ in range(trials)]
        if "skipped" in results:
            rows.append(Row("disk", f"full disk (tmpfs): {case}", 0, 0, "skipped: needs root"))
            continue
        failures = [r for r in results if r is not None]
        detail = "one error line, last checkpoint intact, --resume continues after freeing space"
        rows.append(
            Row(
                "disk",
                f"full disk (4 MB tmpfs): {case}",
                trials - len(failures),
                trials,
                "; ".join(failures[:2]) or detail,
            )
        )
    return rows


def results_dir_rows() -> list[Row]:
    passed, total, failures = 0, 0, []
    with tempfile.TemporaryDirectory(prefix="dojo-results-dir-") as folder:
        cwd = Path(folder)
        (cwd / "run.yaml").write_text(config(1000))
        (cwd / "a_file").write_text("not a folder")
        cases = {"a file": cwd / "a_file", "under a file": cwd / "a_file" / "results"}
        with tmpfs(cwd / "ro", "1m", read_only=True) as read_only:
            if read_only is not None:
                cases["read-only"] = read_only
            for case, results in cases.items():
                total += 1
                args = ["--run-id=r", f"--results-dir={results}", "--env=gymnasium:NoSuchEnv-v0"]
                completed = learn(cwd, args)
                reason = "read-only" if case == "read-only" else "not a folder"
                problem = one_error_line(
                    completed.stderr, completed.stdout, "--results-dir", reason
                )
                if problem is None and completed.returncode == 1:
                    passed += 1
                else:
                    failures.append(f"{case}: {problem or completed.returncode}")
    cases_done = "a file, under a file" + (", read-only" if total == 3 else " (read-only: no root)")
    detail = "; ".join(failures) or f"{cases_done}: refused before the environment is built"
    return [Row("disk", "unusable --results-dir", passed, total, detail)]


def status_rows() -> list[Row]:
    passed, failures = 0, []
    with tempfile.TemporaryDirectory(prefix="dojo-bad-status-") as folder:
        source = Path(folder) / "source"
        source.mkdir()
        (source / "run.yaml").write_text(config(1000))
        finished = learn(source, ["--run-id=r", "--results-dir=results"])
        if finished.returncode != 0:
            return [Row("disk", "unreadable training_status.json", 0, len(BAD_STATUS), "no run")]
        for index, (case, content) in enumerate(BAD_STATUS.items()):
            cwd = Path(folder) / f"case{index}"
            shutil.copytree(source, cwd)
            status = cwd / "results" / "r" / "run_logs" / "training_status.json"
            status.write_bytes(content)
            before = sorted((p, p.stat().st_mtime_ns) for p in (cwd / "results").rglob("*"))
            completed = learn(cwd, ["--run-id=r", "--results-dir=results", "--resume"])
            problem = one_error_line(completed.stderr, completed.stdout, "training_status.json")
            after = sorted((p, p.stat().st_mtime_ns) for p in (cwd / "results").rglob("*"))
            if problem is None and completed.returncode == 1 and before == after:
                passed += 1
            else:
                failures.append(f"{case}: {problem or 'run folder changed'}")
    detail = "; ".join(failures) or ", ".join(BAD_STATUS) + ": refused, folder unchanged"
    return [Row("input", "unreadable training_status.json on --resume", passed, 4, detail)]


def run(quick: bool = False) -> list[Row]:
    """Full disks (3 runs per case, 1 with ``quick``), unusable results folders, bad status."""
    return [*full_disk_rows(1 if quick else 3), *results_dir_rows(), *status_rows()]


if __name__ == "__main__":
    print(markdown_table(run(quick="--quick" in sys.argv[1:])))
