"""Stopping a run with a signal, as a terminal, ``docker stop``, systemd or Kubernetes do.

SIGINT and SIGTERM, sent to the whole process group (workers included) or to the trainer
alone, in both vectorization modes, once the run has printed its first progress line; then a
hung environment (copy 2 sleeps for an hour in its step 300) stopped by SIGTERM to the group.
The environment's step takes 2 ms (a simulator), so the signal mostly arrives while the trainer
waits for the copies. Each run must exit 0 as "interrupted", with its checkpoint, final model
and status saved and finite, no ``error:`` line, no traceback, no process of its group left, and
within ``docker stop``'s 10 s.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
from faults.env_faults import put_faulty_envs_on_path  # noqa: E402
from faults.table import Row, markdown_table  # noqa: E402
from tests.e2e.helpers import Completed, LearnProcess  # noqa: E402
from tests.e2e.test_env_faults_run import RUN_ARGS, faulty_config, non_finite_weights  # noqa: E402
from tests.e2e.test_interrupt_and_resume import _running_in_group  # noqa: E402

# (signal, to the group, mode, environment fault, progress text to wait for)
CASES = [
    (signum, group, mode, "slow", "Step: 500")
    for signum in (signal.SIGINT, signal.SIGTERM)
    for group in (True, False)
    for mode in ("sync", "async")
] + [(signal.SIGTERM, True, mode, "hang", "Step: 1000") for mode in ("sync", "async")]


def _problems(run_dir: Path, completed: Completed, hung: bool) -> list[str]:
    problems = []
    if completed.returncode != 0:
        problems.append(f"exit {completed.returncode}")
    if "Training stopped: interrupted." not in completed.stdout:
        problems.append("not reported as interrupted")
    if "Traceback" in completed.output:
        problems.append("traceback")
    errors = [line[:160] for line in completed.stderr.splitlines() if line.startswith("error")]
    if errors:
        problems.append(f"errors: {errors}")
    warnings = [line for line in completed.stdout.splitlines() if "[WARNING]" in line]
    if hung != any("was abandoned" in line for line in warnings):
        problems.append(f"warnings: {warnings}")
    try:
        status = json.loads((run_dir / "run_logs" / "training_status.json").read_text())
        final = status["Faulty"]["final_checkpoint"]  # paths relative to the working folder
        cwd = run_dir.parents[1]
        saved = [final["file_path"], *final["auxillary_file_paths"]]
        if not all((cwd / path).is_file() for path in saved):
            problems.append(f"final files missing: {saved}")
    except (OSError, KeyError, ValueError) as err:
        problems.append(f"status: {type(err).__name__}: {err}")
    problems += [f"not finite: {name}" for name in non_finite_weights(run_dir)]
    return problems


def _trial(
    cwd: Path, signum: int, group: bool, mode: str, fault: str, wait_for: str
) -> tuple[list[str], float]:
    faulty_config(cwd, mode, fault, at=0 if fault == "slow" else 300, max_steps=1_000_000)
    process = LearnProcess(RUN_ARGS, cwd)
    try:
        process.wait_for_text(wait_for)
        if fault == "hang":
            time.sleep(1.0)  # in the hung step
        started = time.monotonic()
        if group:
            os.killpg(process.process.pid, signum)
        else:
            process.send_signal(signum)
        completed = process.wait(timeout=120)
        elapsed = time.monotonic() - started
        problems = _problems(cwd / "results" / "bad", completed, fault == "hang")
        if elapsed >= 10:
            problems.append(f"{elapsed:.1f} s to exit")
        if _running_in_group(process.process.pid):
            problems.append("processes left running")
        return problems, elapsed
    finally:
        process.kill()


def run(quick: bool = False) -> list[Row]:
    """One row per signal, target, mode (and the hung environment)."""
    trials = 1 if quick else 3
    rows = []
    with tempfile.TemporaryDirectory(prefix="dojo-signals-") as tmp:
        put_faulty_envs_on_path(Path(tmp))
        for index, (signum, group, mode, fault, wait_for) in enumerate(CASES):
            failures: list[str] = []
            seconds = []
            passed = 0
            for trial in range(trials):
                cwd = Path(tmp) / f"case{index}-{trial}"
                cwd.mkdir()
                problems, elapsed = _trial(cwd, signum, group, mode, fault, wait_for)
                seconds.append(elapsed)
                passed += not problems
                failures += problems
            name = signal.Signals(signum).name
            target = "the process group" if group else "the trainer alone"
            case = f"{name} to {target}, {mode}" + (
                ", environment hung in step()" if fault == "hang" else ""
            )
            detail = "; ".join(failures[:3]) or (
                f"exit {statistics.median(seconds):.1f} s after the signal (median)"
            )
            rows.append(Row("signal", case, passed, trials, detail))
    return rows


if __name__ == "__main__":
    print(markdown_table(run(quick="--quick" in sys.argv)))
