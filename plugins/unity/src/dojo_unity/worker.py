"""One connection to one environment process: handshake, reset/step exchanges, close.

A :class:`UnityWorker` owns the gRPC server of its port and, for ``--env path``, the player
process. It speaks the protocol of ML-Agents' communication API 1.5.0:

1. the environment's first ``Exchange`` carries ``rl_initialization_output`` (its name, API
   version, capabilities); the reply carries ``rl_initialization_input`` (seed, API version,
   capabilities, ``num_areas``); the environment immediately calls again with an empty output,
   which stays parked;
2. a reset is the reply ``rl_input{command=RESET}``, a step the reply
   ``rl_input{command=STEP, agent_actions}``; the next call carries the environment's
   ``rl_output`` (agent infos per behavior, side channel data);
3. closing is the reply ``header.status=400``.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import time
from collections.abc import Callable

from dojo.errors import EnvError
from dojo_unity.communicator_objects.capabilities_pb2 import UnityRLCapabilitiesProto
from dojo_unity.communicator_objects.command_pb2 import RESET, STEP
from dojo_unity.communicator_objects.unity_message_pb2 import UnityMessageProto
from dojo_unity.communicator_objects.unity_output_pb2 import UnityOutputProto
from dojo_unity.communicator_objects.unity_rl_initialization_input_pb2 import (
    UnityRLInitializationInputProto,
)
from dojo_unity.launcher import ExecutableLauncher, exit_reason, stop_process
from dojo_unity.server import ExchangeServer, WorkerFailure

logger = logging.getLogger("dojo")

API_VERSION = "1.5.0"
EDITOR_PORT = 5004


#: Seconds a step's answer is still awaited after Ctrl+C, so a busy player can be closed by the
#: protocol (status 400) instead of being terminated.
STOP_GRACE_S = 5.0


def all_capabilities() -> UnityRLCapabilitiesProto:
    """Every capability API 1.5.0 defines (what a Unity package 3.x build reports)."""
    names = (field.name for field in UnityRLCapabilitiesProto.DESCRIPTOR.fields)
    return UnityRLCapabilitiesProto(**dict.fromkeys(names, True))


def dojo_capabilities() -> UnityRLCapabilitiesProto:
    """What dojo's trainer supports: everything but training analytics and variable-length
    observations."""
    capabilities = all_capabilities()
    capabilities.trainingAnalytics = False
    capabilities.variableLengthObservation = False
    return capabilities


def api_version_problem(theirs: str) -> str | None:
    """Why dojo cannot talk to an environment of communication API ``theirs``, or ``None``.

    ML-Agents' rule: majors must match (and minors too while the major is 0).
    """
    try:
        their_major, their_minor = (int(p) for p in theirs.split(".")[:2])
    except ValueError:
        return (
            f"the environment sent communication API version {theirs!r}, which is not a version "
            f"number (dojo speaks {API_VERSION})"
        )
    our_major, our_minor = (int(p) for p in API_VERSION.split(".")[:2])
    compatible = their_major == our_major and (their_major != 0 or their_minor == our_minor)
    if not compatible:
        return (
            f"the environment speaks communication API {theirs} but dojo speaks {API_VERSION}; "
            "their major versions must match. Rebuild the environment with a com.unity.ml-agents "
            "package of communication API 1.x (package 2.0 or newer)."
        )
    return None


class UnityWorker:
    """One environment connection on port ``port``.

    Args:
        worker_id: index of the worker (its seed is ``seed + worker_id``).
        port: the port this worker's server listens on.
        host: address to bind.
        launcher: starts the player process; ``None`` when the environment connects by itself
            (the Editor, or remote workers).
        timeout_wait: seconds to wait for the connection and for each answer.
        seed: the run's seed.
        num_areas: ``--num-areas``, sent in the handshake.
    """

    def __init__(
        self,
        worker_id: int,
        port: int,
        host: str,
        launcher: ExecutableLauncher | None,
        timeout_wait: float,
        seed: int,
        num_areas: int = 1,
    ) -> None:
        self.worker_id = worker_id
        self.port = port
        self.launcher = launcher
        self.timeout_wait = timeout_wait
        self.seed = seed
        self.num_areas = num_areas
        self.where = f"worker {worker_id} (port {port})"
        self.server = ExchangeServer(port, host, self.where)
        self.process: subprocess.Popen[bytes] | None = None
        self.name = ""
        self._alive: Callable[[], str | None] | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, waiting_message: str | None = None) -> UnityOutputProto:
        """:meth:`listen` then :meth:`handshake`."""
        self.listen(waiting_message)
        return self.handshake()

    def listen(self, waiting_message: str | None = None) -> None:
        """Start the server and the player (if any); log ``waiting_message`` otherwise.

        Raises:
            EnvError: the port is taken or the player cannot start.
        """
        self.server.start()
        try:
            if self.launcher is not None:
                self.process = self.launcher.launch(self.worker_id, self.port)
                process = self.process
                self._alive = lambda: exit_reason(process)
            elif waiting_message:
                logger.info(waiting_message)
        except BaseException:
            self.close()
            raise

    def handshake(self) -> UnityOutputProto:
        """Wait for the environment's handshake and answer it; returns its output.

        Connections that are not a Unity player's are refused by the server and do not end the
        wait (:class:`~dojo_unity.server.ExchangeServer`). A player of an incompatible
        communication API is answered as ML-Agents answers it (the handshake reply, then the
        close, status 400, which makes a build quit) and the wait goes on for another, within
        the same ``timeout_wait``; a launched player that quits this way is reported with why.

        Raises:
            EnvError: no acceptable environment connects within ``timeout_wait``, or the
                launched player exits (:class:`~dojo_unity.server.WorkerFailure`, naming
                the last refused connection).
            StopRequested: Ctrl+C or SIGTERM while waiting.
        """
        deadline = time.monotonic() + self.timeout_wait
        try:
            while True:
                first = self.server.receive(
                    self.timeout_wait, self._alive, "connection (handshake)", deadline=deadline
                )
                init = first.unity_output.rl_initialization_output
                reply = UnityMessageProto()
                reply.header.status = 200
                reply.unity_input.rl_initialization_input.CopyFrom(self._initialization_input())
                self.server.reply(reply)
                problem = api_version_problem(init.communication_version)
                if problem is None:
                    break
                self._refuse_incompatible(problem, deadline)
            if init.communication_version.split(".")[:2] != API_VERSION.split(".")[:2]:
                logger.info(
                    "%s: environment communication API %s, dojo %s (compatible).",
                    self.where,
                    init.communication_version,
                    API_VERSION,
                )
            self.name = init.name
            if not init.HasField("capabilities") or not init.capabilities.baseRLCapabilities:
                logger.warning(
                    "%s: the environment does not report baseRLCapabilities; it may be built "
                    "with an old ML-Agents package.",
                    self.where,
                )
            parked = self.server.receive(self.timeout_wait, self._alive, "message after handshake")
            merged = UnityOutputProto()
            merged.CopyFrom(first.unity_output)
            merged.MergeFrom(parked.unity_output)
            return merged
        except BaseException:
            self.close()
            raise

    def _refuse_incompatible(self, problem: str, deadline: float) -> None:
        """Close the connection of a player whose API is incompatible and forget it."""
        peer = self.server.owner
        # As ML-Agents: the player sends one more message, which the close (400) answers.
        wait = max(0.0, min(2.0, deadline - time.monotonic()))
        with contextlib.suppress(EnvError):
            self.server.receive(wait, None, "message after handshake")
        with contextlib.suppress(EnvError):
            self.server.close_connection()
        self.server.release()
        self.server.last_refusal = f"{peer} was refused: {problem}"
        logger.warning("%s: refused the environment at %s: %s", self.where, peer, problem)

    def _initialization_input(self) -> UnityRLInitializationInputProto:
        init = UnityRLInitializationInputProto()
        init.seed = self.seed + self.worker_id if self.seed >= 0 else 0
        init.communication_version = API_VERSION
        from dojo import __version__

        init.package_version = __version__
        init.capabilities.CopyFrom(dojo_capabilities())
        init.num_areas = self.num_areas
        return init

    def close(self) -> None:
        """Send the close (status 400), stop the server and the player. Safe to call twice."""
        closed = False
        try:
            closed = self.server.close_connection()
        finally:
            self.server.stop()
            if self.process is not None:
                stop_process(self.process, self.timeout_wait, closed)
                self.process = None

    def kill(self) -> None:
        """Stop without a goodbye (after a failure)."""
        self.server.stop()
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    # ------------------------------------------------------------------ exchanges
    def send_reset(self, side_channel: bytes) -> None:
        """Ask for a reset (answered by :meth:`receive`)."""
        message = UnityMessageProto()
        message.header.status = 200
        message.unity_input.rl_input.command = RESET
        message.unity_input.rl_input.side_channel = side_channel
        self.server.reply(message)

    def send_step(self, message: UnityMessageProto) -> None:
        """Send a step input prepared with :func:`step_message`."""
        try:
            self.server.reply(message)
        except WorkerFailure as failure:
            raise self._explained(failure) from None

    def receive(self) -> UnityOutputProto:
        """The environment's answer to the last reset or step.

        Raises:
            WorkerFailure: timeout, exit, disconnection or a close from the environment.
            EnvError: a malformed or oversized message.
        """
        try:
            return self.server.receive(
                self.timeout_wait, self._alive, "answer", stop_grace=STOP_GRACE_S
            ).unity_output
        except WorkerFailure as failure:
            raise self._explained(failure) from None

    def _explained(self, failure: WorkerFailure) -> WorkerFailure:
        """A dropped connection of a player that is exiting is reported as its exit."""
        if self.process is None:
            return failure
        try:
            self.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return failure
        reason = exit_reason(self.process)
        return WorkerFailure(f"{self.where}: {reason}") if reason else failure


def step_message() -> UnityMessageProto:
    """An empty STEP input, to be filled with actions and side channel data."""
    message = UnityMessageProto()
    message.header.status = 200
    message.unity_input.rl_input.command = STEP
    return message
