"""Foreign traffic on the Unity gRPC port, and stops while a restarted environment is awaited.

Each trial trains PPO on CartPole served by a real player process (``python -m
dojo_unity.serve``) to ``mlagents-learn --env remote::PORT``. After the first console ``Step:``
line a foreign local process disturbs the port; the run must keep stepping, never restart its
environment, finish its ``max_steps`` with exit 0 and save its model, and the real player must
end normally when the trainer closes the session. The stop rows make the player leave, so that
the trainer waits for another, then send SIGINT to the command's process group (Ctrl+C) or
SIGTERM to the command; the run must save and exit 0 within a few seconds (median reported).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dojo_unity.communicator_objects.unity_message_pb2 import UnityMessageProto
from dojo_unity.server import SERVICE
from faults.table import Row, markdown_table

EDITOR_PORT = 5004
MLAGENTS_LEARN = str(Path(sys.executable).parent / "mlagents-learn")
GROUP = "protocol"
MAX_STEPS = 3000
PROMPT_S = 10.0
"""A stop must have ended the command within this many seconds."""
STEP_LINE = re.compile(r"^\[INFO\] CartPole\. Step: (\d+)\.")


def config(max_steps: int) -> str:
    return f"""
behaviors:
  CartPole:
    trainer_type: ppo
    hyperparameters: {{batch_size: 32, buffer_size: 64, num_epoch: 1}}
    network_settings: {{hidden_units: 16, num_layers: 1}}
    max_steps: {max_steps}
    time_horizon: 16
    summary_freq: 100
"""


# ---------------------------------------------------------------------- processes
class Run:
    """``mlagents-learn --env remote::PORT`` (no ``--env``: the Editor's port 5004) and its
    output, read as it comes."""

    def __init__(self, folder: Path, port: int | None, max_steps: int = MAX_STEPS) -> None:
        (folder / "config.yaml").write_text(config(max_steps))
        self.folder = folder
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [MLAGENTS_LEARN, "config.yaml", "--run-id", "run", "--timeout-wait", "60",
             *(["--env", f"remote::{port}"] if port else ["--base-port", str(free_port())])],
            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def steps(self) -> list[int]:
        return [int(m[1]) for m in map(STEP_LINE.match, list(self.lines)) if m]

    def wait_for(self, done: Callable[[], bool], timeout: float = 120) -> bool:
        """Poll ``done`` until it holds (True), the run ends or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while not done():
            if self.process.poll() is not None or time.monotonic() > deadline:
                return done()
            time.sleep(0.05)
        return True

    def finish(self, timeout: float = 180) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = -1
        self.kill()
        self._reader.join(10)
        return code

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def player(port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dojo_unity.serve", "gymnasium:CartPole-v1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def ended(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return process.returncode, output


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------------- foreign traffic
def exchange(port: int, payload: bytes) -> str:
    """One ``Exchange`` from a connection of its own; what came back."""
    options = [("grpc.use_local_subchannel_pool", 1)]
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        try:
            channel.unary_unary(f"/{SERVICE}/Exchange")(payload, timeout=30)
        except grpc.RpcError as err:
            return err.code().name
    return "answered"


def handshake(version: str) -> bytes:
    message = UnityMessageProto()
    message.header.status = 200
    message.unity_output.rl_initialization_output.name = "AcademySingleton"
    message.unity_output.rl_initialization_output.communication_version = version
    return message.SerializeToString()


def empty_exchange(port: int) -> str | None:
    got = exchange(port, b"")
    return None if got == "FAILED_PRECONDITION" else f"empty Exchange: {got}"


def garbage(port: int) -> str | None:
    with socket.create_connection(("127.0.0.1", port)) as raw:  # not even HTTP/2
        raw.sendall(os.urandom(4096))
    got = exchange(port, os.urandom(512))  # gRPC, but not a UnityMessageProto
    return None if got == "FAILED_PRECONDITION" else f"garbage Exchange: {got}"


def wrong_version(port: int) -> str | None:
    got = exchange(port, handshake("2.0.0"))
    return None if got == "FAILED_PRECONDITION" else f"handshake 2.0.0: {got}"


def second_player(port: int) -> str | None:
    code, output = ended(player(port))
    if code != 1 or "refused the connection" not in output:
        return f"second player: exit {code}, {output.strip()[-200:]!r}"
    return None


# ---------------------------------------------------------------------- trials
def undisturbed(traffic: Callable[[int], str | None]) -> tuple[list[str], float]:
    """One training run disturbed by ``traffic``: the problems found (none: passed)."""
    with tempfile.TemporaryDirectory(prefix="dojo-protocol-") as tmp:
        folder, port = Path(tmp), free_port()
        run = Run(folder, port)
        real = player(port)
        try:
            if not run.wait_for(lambda: bool(run.steps())):
                return [f"no step: {run.output[-300:]!r}"], 0.0
            problems = [p for p in [traffic(port)] if p]
            after = len(run.steps())
            code = run.finish()
        finally:
            run.kill()
            real_code, real_output = ended(real)
        steps = run.steps()
        if code != 0:
            problems.append(f"exit {code}: {run.output[-300:]!r}")
        if "refused a connection from" not in run.output:
            problems.append("no warning about the refused connection")
        if "Restarting" in run.output or "Traceback" in run.output:
            problems.append("the environment was restarted or a traceback printed")
        if not steps or steps[-1] < MAX_STEPS or len(steps) - after < 5:
            problems.append(f"stepping stopped ({after} step lines before, {steps[-1:]} last)")
        if not (folder / "results" / "run" / "CartPole.onnx").is_file():
            problems.append("no model saved")
        if real_code != 0:
            problems.append(f"the real player exited {real_code}: {real_output[-200:]!r}")
        return problems, 0.0


def stop_during_restart_wait(signum: int) -> tuple[list[str], float]:
    """The player leaves; while the trainer waits for another, ``signum`` arrives."""
    with tempfile.TemporaryDirectory(prefix="dojo-protocol-") as tmp:
        folder, port = Path(tmp), free_port()
        run = Run(folder, port, max_steps=10_000_000)
        real = player(port)
        elapsed = 0.0
        try:
            if not run.wait_for(lambda: bool(run.steps())):
                return [f"no step: {run.output[-300:]!r}"], 0.0
            real.send_signal(signal.SIGINT)  # it says goodbye
            ended(real)
            if not run.wait_for(lambda: "Restarting it" in run.output):
                return [f"no restart wait: {run.output[-300:]!r}"], 0.0
            time.sleep(0.5)
            sent = time.monotonic()
            if signum == signal.SIGINT:
                os.killpg(run.process.pid, signal.SIGINT)
            else:
                run.process.send_signal(signum)
            code = run.finish(timeout=120)
            elapsed = time.monotonic() - sent
        finally:
            run.kill()
        problems = []
        if code != 0 or elapsed > PROMPT_S:
            problems.append(f"exit {code} after {elapsed:.1f} s")
        if "Training stopped: interrupted." not in run.output:
            problems.append("not stopped as interrupted")
        if not (folder / "results" / "run" / "CartPole.onnx").is_file():
            problems.append("no model saved")
        return problems, elapsed


def junk_while_waiting_for_the_editor() -> tuple[list[str], float]:
    """Junk on port 5004 while the trainer waits for the Editor; then a player connects."""
    with tempfile.TemporaryDirectory(prefix="dojo-protocol-") as tmp:
        folder = Path(tmp)
        run = Run(folder, None)
        real = None
        try:
            if not run.wait_for(lambda: "Listening on port 5004" in run.output):
                return [f"not waiting: {run.output[-300:]!r}"], 0.0
            problems = [p for p in (empty_exchange(EDITOR_PORT), garbage(EDITOR_PORT)) if p]
            real = player(EDITOR_PORT)  # the Editor's Play button
            code = run.finish()
        finally:
            run.kill()
            real_code = ended(real)[0] if real is not None else None
        if code != 0 or "Traceback" in run.output:
            problems.append(f"exit {code}: {run.output[-300:]!r}")
        if not (folder / "results" / "run" / "CartPole.onnx").is_file():
            problems.append("no model saved")
        if real_code != 0:
            problems.append(f"the player exited {real_code}")
        return problems, 0.0


def editor_port_free() -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", EDITOR_PORT))
        except OSError:
            return False
    return True


UNDISTURBED = "refused with a warning; training went on, exit 0, model saved"
CASES: list[tuple[str, Callable[[], tuple[list[str], float]], str]] = [
    ("empty Exchange during training", lambda: undisturbed(empty_exchange), UNDISTURBED),
    ("garbage bytes to the port", lambda: undisturbed(garbage), UNDISTURBED),
    (
        "handshake with wrong communication version",
        lambda: undisturbed(wrong_version),
        UNDISTURBED,
    ),
    ("second player on the port", lambda: undisturbed(second_player), UNDISTURBED),
    (
        "empty Exchange and garbage while waiting for the Editor",
        junk_while_waiting_for_the_editor,
        "refused with a warning; the player then connected, exit 0, model saved",
    ),
    ("Ctrl+C during restart wait", lambda: stop_during_restart_wait(signal.SIGINT), ""),
    ("SIGTERM during restart wait", lambda: stop_during_restart_wait(signal.SIGTERM), ""),
]


def guarded(trial: Callable[[], tuple[list[str], float]]) -> tuple[list[str], float]:
    """A trial whose own error (e.g. the port closed because the run died) is a failure."""
    try:
        return trial()
    except (OSError, subprocess.SubprocessError, grpc.RpcError) as err:
        return [f"{type(err).__name__}: {err}"], 0.0


def run(quick: bool = False) -> list[Row]:
    """One row per case; 1 trial each with ``quick``, 3 otherwise."""
    trials = 1 if quick else 3
    rows = []
    for case, trial, note in CASES:
        if trial is junk_while_waiting_for_the_editor and not editor_port_free():
            rows.append(Row(GROUP, case, 0, 0, "not run: port 5004 is in use"))
            continue
        results = [guarded(trial) for _ in range(trials)]
        failures = [p for problems, _ in results for p in problems]
        passed = sum(not problems for problems, _ in results)
        seconds = [s for _, s in results if s]
        detail = "; ".join(f[:120].replace("\n", " ").replace("|", "/") for f in failures[:2])
        if not failures:
            detail = note or (
                f"saved and exited 0, median {statistics.median(seconds):.1f} s after the signal"
            )
        rows.append(Row(GROUP, case, passed, trials, detail))
    return rows


if __name__ == "__main__":
    print(markdown_table(run(quick="--quick" in sys.argv)))
