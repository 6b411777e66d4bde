"""An environment that turns bad mid-run, in each way, in both vectorization modes.

Copy 2 of ``Faulty-v0`` (CartPole; ``tests/core/envs/test_env_faults.py``) misbehaves at its
step 300, after several checkpoints (every 200 steps): NaN or infinite observations and
rewards, a wrong shape or type, raising in ``step()`` or ``reset()``, hanging in ``step()``
(stopped by a SIGTERM to the process group a second later), or its worker process is killed
(``async`` only). Each run must end with exactly one ``error:`` line naming the fault (for a
hang: exit 0 with one warning and the final model saved, within ``docker stop``'s 10 s), print
no traceback, and leave only checkpoints and models whose weights are all finite.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
from faults.table import Row, markdown_table  # noqa: E402
from tests.core.envs.test_env_faults import FAULTY_ENVS  # noqa: E402
from tests.e2e.helpers import Completed, LearnProcess, learn  # noqa: E402
from tests.e2e.test_env_faults_run import (  # noqa: E402
    RUN_ARGS,
    faulty_config,
    non_finite_weights,
    worker_pids,
)
from tests.e2e.test_interrupt_and_resume import _running_in_group  # noqa: E402

# fault -> (what the run is checked for, text the one error line must hold)
FAULTS: dict[str, tuple[str, str]] = {
    "nan_obs": ("NaN observation", "returned a non-finite observation 0"),
    "inf_obs": ("infinite observation", "returned a non-finite observation 0"),
    "nan_reward": ("NaN reward", "returned a non-finite reward"),
    "inf_reward": ("infinite reward", "returned a non-finite reward"),
    "short_obs": ("wrong shape: (3,) for a (4,) Box", "returned a wrong observation"),
    "string_obs": ("wrong type: a string observation", "returned a wrong observation"),
    "object_obs": ("wrong type: an object array", "returned a wrong observation"),
    "dict_obs": ("wrong type: a dict for a Box", "returned a wrong observation"),
    "string_reward": ("wrong type: a string reward", "returned a wrong reward"),
    "raise_step": ("raises in step()", "RuntimeError: the simulator crashed"),
    "raise_reset": ("raises in reset()", "RuntimeError: the simulator crashed in reset"),
    "hang": ("hangs in step(), SIGTERM to the group after 1 s", ""),
    "killed": ("worker process killed (SIGKILL)", "worker process ended: copy 1 (exit code -9)"),
}


def _problems(run_dir: Path, completed: Completed, fault: str, said: str) -> list[str]:
    """What a user would find wrong after the run."""
    problems = []
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    if fault == "hang":
        warnings = [line for line in completed.stdout.splitlines() if "[WARNING]" in line]
        if completed.returncode != 0:
            problems.append(f"exit {completed.returncode}")
        if errors or len(warnings) != 1 or "was abandoned" not in warnings[0]:
            problems.append(f"errors {errors}, warnings {warnings}")
        if not (run_dir / "Faulty.onnx").is_file():
            problems.append("no final model")
    else:
        if completed.returncode != 1:
            problems.append(f"exit {completed.returncode}")
        if len(errors) != 1 or said not in errors[0] or "copy " not in errors[0]:
            problems.append(f"error lines: {[e[:160] for e in errors]}")
    if "Traceback" in completed.output:
        problems.append("traceback")
    if len(list((run_dir / "Faulty").glob("*.pt"))) < 3:
        problems.append("fewer than 3 checkpoints")
    problems += [f"not finite: {name}" for name in non_finite_weights(run_dir)]
    return problems


def _trial(cwd: Path, mode: str, fault: str) -> tuple[list[str], float]:
    """One run with ``fault``; its problems and the seconds it took to exit after the fault
    (hang: after the signal)."""
    said = FAULTS[fault][1]
    faulty_config(cwd, mode, "none" if fault == "killed" else fault, max_steps=1_000_000)
    if fault not in ("hang", "killed"):
        started = time.monotonic()
        completed = learn(RUN_ARGS, cwd)
        return _problems(cwd / "results" / "bad", completed, fault, said), (
            time.monotonic() - started
        )
    process = LearnProcess(RUN_ARGS, cwd)
    try:
        process.wait_for_text("Step: 1000")
        started = time.monotonic()
        if fault == "killed":
            os.kill(worker_pids(process.process.pid)[1], signal.SIGKILL)
        else:
            time.sleep(1.0)
            started = time.monotonic()
            os.killpg(process.process.pid, signal.SIGTERM)
        completed = process.wait(timeout=120)
        elapsed = time.monotonic() - started
        problems = _problems(cwd / "results" / "bad", completed, fault, said)
        if fault == "hang" and elapsed >= 10:
            problems.append(f"{elapsed:.1f} s to exit")
        if _running_in_group(process.process.pid):
            problems.append("processes left running")
        return problems, elapsed
    finally:
        process.kill()


def put_faulty_envs_on_path(folder: Path) -> None:
    """Write module ``dojo_env_faults`` (the faulty environments) under ``folder`` and put it on
    the ``PYTHONPATH`` of the commands started from now on."""
    module_dir = folder / "modules"
    module_dir.mkdir()
    (module_dir / "dojo_env_faults.py").write_text(FAULTY_ENVS)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(module_dir), os.environ.get("PYTHONPATH", "")])
    )


def run(quick: bool = False) -> list[Row]:
    """One row per fault: its trials in both vectorization modes (``killed``: async only)."""
    trials = 1 if quick else 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="dojo-env-faults-") as tmp:
        put_faulty_envs_on_path(Path(tmp))
        for fault, (case, _) in FAULTS.items():
            modes = ["async"] if fault == "killed" else ["sync", "async"]
            failures: list[str] = []
            seconds: list[float] = []
            passed = 0
            for mode in modes:
                for index in range(trials):
                    cwd = Path(tmp) / f"{fault}-{mode}-{index}"
                    cwd.mkdir()
                    problems, elapsed = _trial(cwd, mode, fault)
                    seconds.append(elapsed)
                    passed += not problems
                    failures += [f"{mode}: {problem}" for problem in problems]
            detail = " and ".join(modes)
            if fault == "hang":
                detail += f"; exit at most {max(seconds):.1f} s after the signal"
            if failures:
                detail = "; ".join(failures[:3])
            rows.append(Row("environment", case, passed, len(modes) * trials, detail))
    return rows


if __name__ == "__main__":
    print(markdown_table(run(quick="--quick" in sys.argv)))
