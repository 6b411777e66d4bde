"""Foreign traffic on a worker's port never costs the trainer its real environment.

Any local process can call ``Exchange``. A connection whose first message is not a Unity
player's handshake (name, communication version) is refused with a warning naming what was
wrong, and so is any other connection once a player owns the port; the environment connected, or
being waited for, carries on. The real player is always a real process (``python -m
dojo_unity.serve``) talking gRPC on loopback; the foreign callers are real gRPC clients with
connections of their own.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from dojo_unity.communicator_objects.unity_message_pb2 import UnityMessageProto
from dojo_unity.environment import UnityEnvironment
from dojo_unity.server import SERVICE
from dojo_unity.worker import UnityWorker
from tests.e2e.helpers import LearnProcess, learn

from .conftest import free_port, player_script, port_free, small_default_config


# ---------------------------------------------------------------------- foreign callers
def message(status: int = 200, name: str = "AcademySingleton", version: str = "1.5.0") -> bytes:
    """A first message as a player sends it, with the given header status, name and version
    (``name=""`` and ``version=""`` leave those fields out)."""
    proto = UnityMessageProto()
    proto.header.status = status
    init = proto.unity_output.rl_initialization_output
    init.name = name
    init.communication_version = version
    init.capabilities.baseRLCapabilities = True
    return proto.SerializeToString()


def empty() -> bytes:
    """The message a player sends right after its handshake: a bare header, status 200."""
    proto = UnityMessageProto()
    proto.header.status = 200
    return proto.SerializeToString()


JUNK = {
    "empty Exchange": (b"", "an empty message instead of a handshake"),
    "no handshake": (empty(), "a message without rl_initialization_output"),
    "garbage bytes": (b"\xff\xfe garbage \x00\x01", "are not a UnityMessageProto"),
    "status 500": (message(status=500), "status 500 before the handshake"),
    "handshake without name": (message(name=""), "a handshake without the environment's name"),
    "handshake without version": (message(version=""), "without a communication version"),
}


def channel(port: int) -> grpc.Channel:
    """A connection of its own (gRPC shares one between channels of a process by default)."""
    return grpc.insecure_channel(
        f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]
    )


def foreign_call(port: int, payload: bytes) -> grpc.RpcError | UnityMessageProto:
    """One ``Exchange`` from a connection of its own: the refusal, or the reply."""
    with channel(port) as chan:
        try:
            reply = chan.unary_unary(f"/{SERVICE}/Exchange")(
                payload, timeout=30, wait_for_ready=True
            )
        except grpc.RpcError as err:
            return err
    return UnityMessageProto.FromString(reply)


def assert_refused(result: grpc.RpcError | UnityMessageProto, reason: str) -> None:
    assert isinstance(result, grpc.RpcError), f"not refused; the reply was {result}"
    assert result.code() == grpc.StatusCode.FAILED_PRECONDITION, result
    assert reason in result.details(), result.details()


# ---------------------------------------------------------------------- the real player
def serve(port: int) -> subprocess.Popen[str]:
    """A real player process serving CartPole to the trainer on ``port``."""
    return subprocess.Popen(
        [sys.executable, "-m", "dojo_unity.serve", "gymnasium:CartPole-v1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def finish(player: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        output, _ = player.communicate(timeout=30)
    finally:
        if player.poll() is None:
            player.kill()
            player.wait()
    return player.returncode, output


def environment(port: int, timeout: float = 30) -> UnityEnvironment:
    return UnityEnvironment(
        lambda i: UnityWorker(i, port, "127.0.0.1", None, timeout, seed=0), 1, None, None
    )


def train_a_little(env: UnityEnvironment, steps: int = 20) -> None:
    """Reset, then step with zero actions (the default)."""
    env.reset()
    for _ in range(steps):
        env.step()
    assert "CartPole" in env.behavior_specs


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    """The dojo logger's warnings while the test runs."""
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("dojo")
    handler, level = Collect(logging.WARNING), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


# ---------------------------------------------------------------------- waiting for a player
def train_with_a_player_after(port: int, foreign: Callable[[], None]) -> tuple[int, str]:
    """Wait for a worker on ``port`` and train a little, while another thread first runs
    ``foreign`` (traffic that is not a player) and then starts a real player; returns the
    player's exit code and output."""
    player: list[subprocess.Popen[str]] = []

    def foreign_then_player() -> None:
        foreign()
        player.append(serve(port))

    caller = threading.Thread(target=foreign_then_player, daemon=True)
    caller.start()
    env = environment(port)
    try:
        train_a_little(env)
    finally:
        env.close()
        caller.join(10)
    return finish(player[0])


@pytest.mark.parametrize("junk", list(JUNK), ids=list(JUNK))
def test_junk_before_the_handshake_is_refused_and_the_player_still_connects(
    port: int, junk: str, warnings: list[str]
) -> None:
    payload, reason = JUNK[junk]
    results: list[grpc.RpcError | UnityMessageProto] = []

    code, output = train_with_a_player_after(
        port, lambda: results.append(foreign_call(port, payload))
    )
    assert_refused(results[0], reason)
    assert code == 0, output
    refused = [w for w in warnings if "refused a connection from 127.0.0.1:" in w]
    assert len(refused) == 1 and reason in refused[0], warnings


def test_wrong_version_is_closed_as_ml_agents_closes_it_and_the_wait_goes_on(
    port: int, warnings: list[str]
) -> None:
    replies: list[UnityMessageProto] = []

    def old_player() -> None:
        with channel(port) as chan:
            exchange = chan.unary_unary(f"/{SERVICE}/Exchange")
            for payload in (message(version="2.0.0"), empty()):
                data = exchange(payload, timeout=30, wait_for_ready=True)
                replies.append(UnityMessageProto.FromString(data))

    code, output = train_with_a_player_after(port, old_player)
    # The handshake reply (dojo's version), then the close: what makes a build quit.
    assert replies[0].unity_input.rl_initialization_input.communication_version == "1.5.0"
    assert replies[1].header.status == 400
    assert code == 0, output
    assert any(
        "refused the environment at 127.0.0.1:" in w and "speaks communication API 2.0.0" in w
        for w in warnings
    ), warnings


def test_connections_that_never_send_do_not_keep_the_player_out(port: int) -> None:
    idle = threading.Event()

    def never() -> Iterator[bytes]:
        idle.wait(60)
        yield b""

    sockets: list[socket.socket] = []
    calls: list[tuple[grpc.Channel, grpc.Future]] = []
    player: subprocess.Popen[str] | None = None

    def connect_then_player() -> None:
        nonlocal player
        time.sleep(0.5)  # the trainer is listening
        for _ in range(3):  # TCP connections that send nothing
            sockets.append(socket.create_connection(("127.0.0.1", port)))
        for _ in range(6):  # calls whose request never comes
            chan = channel(port)
            calls.append((chan, chan.stream_unary(f"/{SERVICE}/Exchange").future(never())))
        time.sleep(0.5)
        player = serve(port)

    caller = threading.Thread(target=connect_then_player, daemon=True)
    caller.start()
    try:
        env = environment(port)
        try:
            train_a_little(env)
        finally:
            env.close()
    finally:
        idle.set()
        caller.join(10)
        for sock in sockets:
            sock.close()
        for chan, _ in calls:
            chan.close()
    assert player is not None
    code, output = finish(player)
    assert code == 0, output


# ---------------------------------------------------------------------- a player is connected
def test_a_second_player_is_refused_and_the_first_keeps_training(port: int) -> None:
    first = serve(port)
    env = environment(port)
    try:
        env.reset()
        second = serve(port)
        for _ in range(50):
            env.step()
        code, output = finish(second)
        for _ in range(50):
            env.step()
    finally:
        env.close()
        first_code, first_output = finish(first)
    assert code == 1, output
    assert "refused the connection" in output, output
    assert f"worker 0 (port {port}): the port is in use by another environment" in output
    assert "Traceback" not in output
    assert first_code == 0, first_output


@pytest.mark.parametrize("junk", list(JUNK), ids=list(JUNK))
def test_junk_while_a_player_is_connected_is_refused(
    port: int, junk: str, warnings: list[str]
) -> None:
    player = serve(port)
    env = environment(port)
    try:
        env.reset()
        env.step()  # the trainer now waits for the player's answer
        result = foreign_call(port, JUNK[junk][0])
        train_a_little(env)
    finally:
        env.close()
        code, output = finish(player)
    assert_refused(result, "the port is in use by another environment (127.0.0.1:")
    assert code == 0, output
    assert any("refused a connection from" in w for w in warnings), warnings


# ---------------------------------------------------------------------- mlagents-learn
def more_steps(run: LearnProcess, count: int, timeout: float = 120) -> int:
    """Wait until ``run`` printed ``count`` more console ``Step:`` lines; how many it printed."""
    before = len(run._result().steps())  # what it printed so far (read by its threads)
    deadline = time.monotonic() + timeout
    while len(run._result().steps()) < before + count:
        assert run.process.poll() is None, run.wait().describe()
        assert time.monotonic() < deadline, "training stopped stepping"
        time.sleep(0.1)
    return len(run._result().steps()) - before


def test_foreign_traffic_during_training_leaves_the_run_undisturbed(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "config.yaml").write_text(small_default_config(max_steps=1000000))
    run = LearnProcess(
        ["config.yaml", "--run-id", "busy", "--env", f"remote::{port}", "--timeout-wait", "30"],
        tmp_path,
    )
    player = serve(port)
    try:
        run.wait_for_step_line()
        second = serve(port)
        for payload, _ in JUNK.values():
            assert_refused(foreign_call(port, payload), "in use by another environment")
        assert_refused(foreign_call(port, message(version="2.0.0")), "in use by another")
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(b"GET / HTTP/1.1\r\n\r\n" + bytes(range(256)))
        second_code, second_output = finish(second)
        steps_after_the_traffic = more_steps(run, 5)
        run.interrupt()
        completed = run.wait()
    finally:
        run.kill()
        code, output = finish(player)
    assert completed.returncode == 0, completed.describe()
    assert "Restarting" not in completed.output, completed.describe()
    assert "Traceback" not in completed.output
    assert steps_after_the_traffic >= 5
    assert completed.output.count("refused a connection from 127.0.0.1:") == len(JUNK) + 2
    assert second_code == 1, second_output
    assert "refused the connection" in second_output
    assert "Training stopped: interrupted." in completed.stdout, completed.describe()
    assert code == 0 and "The trainer ended the session" in output, output
    assert (tmp_path / "results" / "busy" / "CartPole.onnx").is_file()


def test_an_empty_exchange_while_waiting_for_the_editor_is_refused(tmp_path: Path) -> None:
    if not port_free(5004):
        pytest.skip("port 5004 (the Editor's) is in use on this machine")
    (tmp_path / "config.yaml").write_text(small_default_config(max_steps=300))
    run = LearnProcess(
        ["config.yaml", "--run-id", "editor", "--timeout-wait", "60", "--base-port",
         str(free_port())],
        tmp_path,
    )  # fmt: skip
    player = None
    try:
        run.wait_for_text("Listening on port 5004")
        assert_refused(foreign_call(5004, b""), "an empty message")
        time.sleep(0.5)
        assert run.process.poll() is None, run.wait().describe()
        player = serve(5004)  # the Editor presses Play
        completed = run.wait()
    finally:
        run.kill()
        if player is not None:
            finish(player)
    assert completed.returncode == 0, completed.describe()
    assert "refused a connection from 127.0.0.1:" in completed.output
    assert (tmp_path / "results" / "editor" / "CartPole.onnx").is_file()


def test_mlagents_learn_names_the_version_of_a_launched_player_it_refused(
    tmp_path: Path,
) -> None:
    player_script(
        tmp_path,
        "import sys, grpc\n"
        "from dojo_unity.communicator_objects.unity_message_pb2 import UnityMessageProto\n"
        "hello = UnityMessageProto()\n"
        "hello.header.status = 200\n"
        "hello.unity_output.rl_initialization_output.name = 'AcademySingleton'\n"
        "hello.unity_output.rl_initialization_output.communication_version = '2.0.0'\n"
        "port = sys.argv[sys.argv.index('--mlagents-port') + 1]\n"
        "channel = grpc.insecure_channel('127.0.0.1:' + port)\n"
        f"exchange = channel.unary_unary('/{SERVICE}/Exchange')\n"
        "exchange(hello.SerializeToString(), wait_for_ready=True, timeout=30)\n"
        "hello.ClearField('unity_output')\n"
        "reply = UnityMessageProto.FromString(exchange(hello.SerializeToString(), timeout=30))\n"
        "sys.exit(0 if reply.header.status == 400 else 5)  # a build quits on the close\n",
        name="OldBuild",
    )
    (tmp_path / "config.yaml").write_text(small_default_config(max_steps=300))
    started = time.monotonic()
    completed = learn(
        ["config.yaml", "--env", "OldBuild", "--base-port", str(free_port()), "--timeout-wait",
         "60"],
        tmp_path,
    )  # fmt: skip
    assert time.monotonic() - started < 40, "waited for --timeout-wait"
    assert completed.returncode == 1, completed.describe()
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, completed.describe()
    assert "speaks communication API 2.0.0 but dojo speaks 1.5.0" in errors[0]
    assert "exited with code 0" in errors[0]  # it got the protocol's close, as from ML-Agents
    assert "Traceback" not in completed.output
    assert not (tmp_path / "results").exists()
