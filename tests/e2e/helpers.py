"""Run the real ``mlagents-learn`` / ``dojo`` commands and read what they leave behind.

The commands are the console scripts installed next to the interpreter running the tests
(``.venv/bin/mlagents-learn``), started as subprocesses exactly as a user would start them.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

BIN = Path(sys.executable).parent
MLAGENTS_LEARN = str(BIN / "mlagents-learn")
DOJO = str(BIN / "dojo")

# Generous: a run here takes ~5 s, but a loaded 2-core machine can be several times slower.
TIMEOUT = 180.0

# ML-Agents' ConsoleWriter line, e.g. "[INFO] CartPole. Step: 500. Time Elapsed: 0.194 s.
# Mean Reward: 17.926. Std of Reward: 7.398. Training." (one line).
STEP_LINE = re.compile(
    r"^\[INFO\] (?P<behavior>[^ ]+)\. Step: (?P<step>\d+)\. "
    r"Time Elapsed: (?P<elapsed>\d+\.\d{3}) s\. "
    r"(?:Mean Reward: (?P<mean>-?\d+\.\d{3})\. Std of Reward: (?P<std>\d+\.\d{3})\.|"
    r"No episode was completed since last summary\.) "
    r"(?P<mode>Training|Not Training)\.$"
)


@dataclass(frozen=True)
class Completed:
    """A finished command: its exit code and everything it printed."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def step_lines(self) -> list[re.Match[str]]:
        """The console progress lines, in order."""
        lines = (STEP_LINE.match(line) for line in self.stdout.splitlines())
        return [match for match in lines if match]

    def steps(self) -> list[int]:
        """Steps of the console progress lines, in order."""
        return [int(match["step"]) for match in self.step_lines()]

    def describe(self) -> str:
        """Everything needed to understand a failed assertion."""
        return (
            f"command: {' '.join(self.args)}\nexit code: {self.returncode}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    # The tests' own warning filters must not leak into the commands under test.
    env.pop("PYTHONWARNINGS", None)
    return env


def run_command(
    args: Sequence[str], cwd: Path, timeout: float = TIMEOUT, env: dict[str, str] | None = None
) -> Completed:
    """Run ``args`` in ``cwd`` to the end."""
    process = subprocess.run(
        list(args),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or _env(),
        stdin=subprocess.DEVNULL,
    )
    return Completed(tuple(args), process.returncode, process.stdout, process.stderr)


def learn(args: Sequence[str], cwd: Path, timeout: float = TIMEOUT) -> Completed:
    """``mlagents-learn ARGS`` in ``cwd``."""
    return run_command([MLAGENTS_LEARN, *args], cwd, timeout)


def dojo(args: Sequence[str], cwd: Path, timeout: float = TIMEOUT) -> Completed:
    """``dojo ARGS`` in ``cwd``."""
    return run_command([DOJO, *args], cwd, timeout)


class LearnProcess:
    """``mlagents-learn`` running in the background, to be signalled like a user at a terminal.

    Output is read by two threads as it arrives, so the process never blocks on a full pipe.
    """

    def __init__(self, args: Sequence[str], cwd: Path) -> None:
        self.args = (MLAGENTS_LEARN, *args)
        self.process = subprocess.Popen(
            self.args,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=_env(),
            start_new_session=True,  # its own process group, as a command run at a terminal
        )
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._step_seen = threading.Event()
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self._stdout, True)),
            threading.Thread(target=self._read, args=(self.process.stderr, self._stderr, False)),
        ]
        for reader in self._readers:
            reader.daemon = True
            reader.start()

    def _read(self, stream: Any, into: list[str], watch_steps: bool) -> None:
        for line in stream:
            into.append(line)
            if watch_steps and STEP_LINE.match(line.rstrip("\n")):
                self._step_seen.set()

    def wait_for_step_line(self, timeout: float = TIMEOUT) -> None:
        """Block until the first console ``Step:`` line; fail if the process ends first."""
        self._wait_until(self._step_seen.is_set, "a Step line", timeout)

    def wait_for_text(self, text: str, timeout: float = TIMEOUT) -> None:
        """Block until ``text`` appears in what the command printed; fail if it ends first."""

        def printed() -> bool:
            return any(text in line for line in [*self._stdout, *self._stderr])

        self._wait_until(printed, repr(text), timeout)

    def _wait_until(self, done: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if self.process.poll() is not None:
                for reader in self._readers:
                    reader.join(timeout=5)
                if done():
                    return
                raise AssertionError(
                    f"mlagents-learn ended before printing {what}:\n" + self._result().describe()
                )
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"no {what} within the timeout:\n" + self._result().describe())
            time.sleep(0.05)

    def send_signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def interrupt(self) -> None:
        """What Ctrl+C at a terminal does: SIGINT to every process of the command's group
        (its environment workers and update processes too)."""
        os.killpg(self.process.pid, signal.SIGINT)

    def wait(self, timeout: float = TIMEOUT) -> Completed:
        """Wait for the exit and return everything printed."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        for reader in self._readers:
            reader.join(timeout=10)
        return self._result()

    def kill(self) -> None:
        """SIGKILL to the command and whatever it started (a no-op once all have ended)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=30)

    def _result(self) -> Completed:
        return Completed(
            self.args,
            self.process.returncode if self.process.returncode is not None else -1,
            "".join(self._stdout),
            "".join(self._stderr),
        )


# ---------------------------------------------------------------------- configurations
def learn_until_first_step(args: Sequence[str], cwd: Path) -> Completed:
    """``mlagents-learn ARGS``, stopped with Ctrl+C once it printed its first ``Step:`` line
    (for runs that would not end by themselves, as under ``--inference``)."""
    process = LearnProcess(args, cwd)
    try:
        process.wait_for_step_line()
        process.interrupt()
        return process.wait()
    finally:
        process.kill()


CARTPOLE = "CartPole"

SMALL_CARTPOLE: dict[str, Any] = {
    "behaviors": {
        CARTPOLE: {
            "trainer_type": "ppo",
            "hyperparameters": {"batch_size": 256, "buffer_size": 256, "num_epoch": 3},
            "network_settings": {"hidden_units": 32, "num_layers": 1},
            "max_steps": 3000,
            "time_horizon": 32,
            "summary_freq": 500,
            "checkpoint_interval": 1000,
            "keep_checkpoints": 2,
        }
    },
    "env_settings": {"env_path": "gymnasium:CartPole-v1", "num_envs": 4},
}
"""A CartPole run of a few seconds: summaries every 500 steps, checkpoints every 1000."""


def cartpole_config(**behavior: Any) -> dict[str, Any]:
    """:data:`SMALL_CARTPOLE` with ``behaviors.CartPole`` keys replaced by ``behavior``
    (``hyperparameters`` are merged key by key)."""
    config = deepcopy(SMALL_CARTPOLE)
    settings = config["behaviors"][CARTPOLE]
    for key, value in behavior.items():
        if key == "hyperparameters":
            settings["hyperparameters"].update(value)
        else:
            settings[key] = value
    return config


def write_config(path: Path, config: dict[str, Any]) -> Path:
    """Write ``config`` as YAML to ``path``; returns the path."""
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------------- results
def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder`` (relative path -> size, mtime in ns)."""
    listing = {}
    for path in sorted(folder.rglob("*")):
        info = path.stat()
        listing[path.relative_to(folder).as_posix()] = (info.st_size, info.st_mtime_ns)
    return listing


def event_files(behavior_dir: Path) -> list[Path]:
    """The TensorBoard event files of a behavior, oldest first."""
    return sorted(behavior_dir.glob("events.out.tfevents*"), key=lambda p: p.stat().st_mtime_ns)


def read_scalars(behavior_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """TensorBoard scalars of a behavior (all event files, oldest first) as TensorBoard reads
    them: tag -> [(step, value), ...] in the order they were written."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in event_files(behavior_dir):
        # size_guidance 0 = keep every event (the default samples long curves).
        accumulator = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            scalars.setdefault(tag, []).extend(
                (event.step, event.value) for event in accumulator.Scalars(tag)
            )
    return scalars


def read_text_tags(behavior_dir: Path) -> set[str]:
    """Tags of the text summaries (tensors) in a behavior's event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: set[str] = set()
    for path in event_files(behavior_dir):
        accumulator = EventAccumulator(str(path), size_guidance={"tensors": 0})
        accumulator.Reload()
        tags.update(accumulator.Tags()["tensors"])
    return tags
