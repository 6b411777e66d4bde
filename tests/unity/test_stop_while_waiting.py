"""Ctrl+C or SIGTERM while dojo waits for an environment stops at once, not after
``--timeout-wait``: waiting for the Unity Editor (no ``--env``), for a remote environment, for a
player to connect, and for a crashed player's replacement to connect.

A stop before training leaves no results and exits 0, as a stopped run does; a stop during a
restart saves the models like any other stop.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.helpers import Completed, LearnProcess

from .conftest import free_port, player_script, port_free, small_default_config

CONFIG = small_default_config(max_steps=1000000)

# Long enough that waiting it out fails the test: a stop must end the wait itself.
TIMEOUT_WAIT = "60"
PROMPT_S = 10.0
"""How soon after the signal the command must have exited (generous: a loaded 2-core machine)."""


def start(cwd: Path, *args: str) -> LearnProcess:
    (cwd / "config.yaml").write_text(CONFIG)
    return LearnProcess(
        ["config.yaml", "--run-id", "waiting", "--timeout-wait", TIMEOUT_WAIT, *args], cwd
    )


def stop_and_wait(process: LearnProcess, signum: int) -> tuple[Completed, float]:
    """Send ``signum`` as a terminal would (SIGINT to the process group, SIGTERM to the
    command) and return what it printed and how many seconds it took to exit."""
    sent = time.monotonic()
    if signum == signal.SIGINT:
        process.interrupt()
    else:
        process.send_signal(signum)
    completed = process.wait(timeout=PROMPT_S + 40)
    return completed, time.monotonic() - sent


def assert_stopped_before_training(completed: Completed, elapsed: float, cwd: Path) -> None:
    assert elapsed < PROMPT_S, f"took {elapsed:.1f} s to stop\n" + completed.describe()
    assert completed.returncode == 0, completed.describe()
    assert "Traceback" not in completed.output
    assert "error:" not in completed.stderr, completed.describe()
    assert "saving" not in completed.output  # nothing to save yet
    assert not (cwd / "results").exists()


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def kill_players(*pid_files: Path) -> None:
    """Players run in their own session: a failed test must not leave them sleeping (only
    after a failure: once mlagents-learn has reaped them, their pids may be reused)."""
    for pid_file in pid_files:
        if pid_file.exists() and pid_file.read_text():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


def wait_for_file(path: Path, process: LearnProcess, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text():
        assert process.process.poll() is None, "mlagents-learn ended early"
        assert time.monotonic() < deadline, f"{path} was not written"
        time.sleep(0.05)
    return path.read_text()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stop_while_waiting_for_the_editor(tmp_path: Path, signum: int) -> None:
    if not port_free(5004):
        pytest.skip("port 5004 (the Editor's) is in use on this machine")
    process = start(tmp_path, "--base-port", str(free_port()))
    try:
        process.wait_for_text("Listening on port 5004")
        completed, elapsed = stop_and_wait(process, signum)
    finally:
        process.kill()
    assert_stopped_before_training(completed, elapsed, tmp_path)
    assert f"Received {signal.Signals(signum).name}: stopping." in completed.stdout
    assert "Stopped while waiting for the Unity Editor to connect" in completed.stdout


def test_ctrl_c_while_waiting_for_a_remote_environment(tmp_path: Path) -> None:
    port = free_port()
    process = start(tmp_path, "--env", f"remote::{port}")
    try:
        process.wait_for_text(f"Listening on 127.0.0.1:{port}")
        completed, elapsed = stop_and_wait(process, signal.SIGINT)
    finally:
        process.kill()
    assert_stopped_before_training(completed, elapsed, tmp_path)
    assert f"Stopped while waiting for the environment (--env remote::{port})" in completed.stdout


def test_ctrl_c_while_waiting_for_a_player_to_connect(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    player_script(
        tmp_path, f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(600)", name="Silent",
    )  # fmt: skip
    process = start(tmp_path, "--env", "Silent", "--base-port", str(free_port()))
    try:
        player = int(wait_for_file(pid_file, process))
        completed, elapsed = stop_and_wait(process, signal.SIGINT)
    except BaseException:
        kill_players(pid_file)
        raise
    finally:
        process.kill()
    assert_stopped_before_training(completed, elapsed, tmp_path)
    assert "Stopped while waiting for the environment (--env Silent) to connect" in completed.stdout
    assert gone(player), "the player that never connected is still running"


def test_ctrl_c_while_a_crashed_player_restarts_saves_promptly(tmp_path: Path) -> None:
    first, second = tmp_path / "first-pid", tmp_path / "second-pid"
    # The first launch serves; its replacement never connects.
    player_script(
        tmp_path,
        "import os, sys, time\n"
        f"if os.path.exists({str(first)!r}):\n"
        f"    open({str(second)!r}, 'w').write(str(os.getpid()))\n"
        "    time.sleep(600)\n"
        f"open({str(first)!r}, 'w').write(str(os.getpid()))\n"
        "from dojo_unity.serve import main\n"
        "sys.exit(main(['gymnasium:CartPole-v1', *sys.argv[1:]]))",
        name="Flaky",
    )
    port = free_port()
    process = start(tmp_path, "--env", "Flaky", "--base-port", str(port))
    try:
        process.wait_for_step_line()
        os.kill(int(first.read_text()), signal.SIGKILL)
        process.wait_for_text("Restarting it")
        replacement = int(wait_for_file(second, process))
        completed, elapsed = stop_and_wait(process, signal.SIGINT)
    except BaseException:
        kill_players(first, second)
        raise
    finally:
        process.kill()
    assert elapsed < PROMPT_S, f"took {elapsed:.1f} s to stop\n" + completed.describe()
    assert completed.returncode == 0, completed.describe()
    assert "Traceback" not in completed.output
    assert "Received SIGINT: saving and stopping." in completed.stdout
    assert f"worker 0 (port {port}): stopped while waiting" in completed.stdout
    assert "Training stopped: interrupted." in completed.stdout
    run_dir = tmp_path / "results" / "waiting"
    assert list(run_dir.glob("*.onnx")), completed.describe()  # the final models were saved
    assert (run_dir / "run_logs" / "training_status.json").is_file()
    assert gone(replacement), "the replacement player is still running"


def test_a_player_failing_after_ctrl_c_is_not_restarted(tmp_path: Path) -> None:
    marker, launches = tmp_path / "slow-step", tmp_path / "launches"
    # Its 201st step is slow and then it crashes: Ctrl+C comes while the trainer waits.
    player_script(
        tmp_path,
        "import os, sys, time\n"
        f"open({str(launches)!r}, 'a').write(str(os.getpid()) + '\\n')\n"
        "import dojo_unity.client as client\n"
        "answer = client.EnvironmentClient._answer\n"
        "def crash_later(self, unity_input):\n"
        "    if self.steps_served == 200:\n"
        f"        open({str(marker)!r}, 'w').write('slow')\n"
        "        time.sleep(1.0)\n"
        "        os._exit(3)\n"
        "    return answer(self, unity_input)\n"
        "client.EnvironmentClient._answer = crash_later\n"
        "from dojo_unity.serve import main\n"
        "sys.exit(main(['gymnasium:CartPole-v1', *sys.argv[1:]]))",
        name="Crashy",
    )
    process = start(tmp_path, "--env", "Crashy", "--base-port", str(free_port()))
    try:
        wait_for_file(marker, process)
        completed, elapsed = stop_and_wait(process, signal.SIGINT)
    finally:
        process.kill()
    assert elapsed < PROMPT_S, f"took {elapsed:.1f} s to stop\n" + completed.describe()
    assert completed.returncode == 0, completed.describe()
    assert "Restarting" not in completed.output, completed.describe()
    assert len(launches.read_text().split()) == 1, "a new player was started after Ctrl+C"
    assert "exited with code 3; not restarting it: the run is stopping" in completed.stdout
    assert "Training stopped: interrupted." in completed.stdout
    assert list((tmp_path / "results" / "waiting").glob("*.onnx")), completed.describe()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stop_while_a_remote_environment_is_awaited_again_saves_promptly(
    tmp_path: Path, signum: int
) -> None:
    port = free_port()
    process = start(tmp_path, "--env", f"remote::{port}")
    player = subprocess.Popen(
        [sys.executable, "-m", "dojo_unity.serve", "gymnasium:CartPole-v1", "--port", str(port)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        process.wait_for_step_line()
        player.send_signal(signal.SIGINT)  # it says goodbye; the trainer waits for another
        player.wait(timeout=30)
        process.wait_for_text("Restarting it")
        completed, elapsed = stop_and_wait(process, signum)
    finally:
        process.kill()
        if player.poll() is None:
            player.kill()
            player.wait()
    assert elapsed < PROMPT_S, f"took {elapsed:.1f} s to stop\n" + completed.describe()
    assert completed.returncode == 0, completed.describe()
    assert "Traceback" not in completed.output
    assert f"worker 0 (port {port}): stopped while waiting" in completed.stdout
    assert "Training stopped: interrupted." in completed.stdout
    assert list((tmp_path / "results" / "waiting").glob("*.onnx")), completed.describe()
