"""dojo's side of one Unity connection: a gRPC server with the single ``Exchange`` RPC.

The environment (a Unity player, the Editor, or dojo's own :mod:`dojo_unity.serve` client) calls
``Exchange`` with its output; the reply carries the trainer's next input. The gRPC handler thread
hands each request to the training thread through a queue and blocks until the training thread
replies (``UnityToExternalProto`` in ML-Agents' ``rpc_communicator.py`` works the same way).

Requests are taken as raw bytes (a generic handler, no generated stub) so that an oversized or
malformed message is reported by dojo with a clear message instead of being dropped by gRPC.

Any local process can call ``Exchange``, so the port belongs to one connection at a time: the
first whose message is a handshake as a Unity player sends it (status 200, an
``rl_initialization_output`` with the environment's name and communication version). Until then,
anything else (an empty message, bytes that are not a ``UnityMessageProto``, a status other than
200) is refused with ``FAILED_PRECONDITION`` and a warning naming what was wrong, and the wait
goes on; once a connection owns the port, calls from any other connection are refused the same
way. Neither reaches the training thread, so the environment connected or waited for is not
disturbed. A connection is its gRPC peer (address and port of the client's TCP connection: a
player makes every call over one channel).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from concurrent import futures

import grpc
from google.protobuf.message import DecodeError

from dojo.errors import EnvError
from dojo.interrupts import StopRequested, stop_requested
from dojo_unity.communicator_objects.unity_message_pb2 import UnityMessageProto

logger = logging.getLogger("dojo")

SERVICE = "communicator_objects.UnityToExternalProto"
#: Largest message dojo accepts from an environment (gRPC's own limit is twice this, so that a
#: larger message still reaches dojo and gets a clear error instead of a silent rejection).
MAX_MESSAGE_BYTES = 512 * 1024 * 1024
#: Refused connections logged one by one; after that one line says the rest are not logged.
MAX_REFUSAL_WARNINGS = 10
#: gRPC threads: a call whose request never completes holds one until the server stops, so a
#: few such calls must not leave the environment's own calls without a thread.
RPC_THREADS = 16


class WorkerFailure(EnvError):
    """The environment went away (exited, disconnected, stopped answering): a restart may help."""


class _Call:
    """One in-flight ``Exchange`` call, parked until the training thread replies.

    The reply is the answer's bytes, a refusal (``str``: the call fails with
    ``FAILED_PRECONDITION`` and that message) or ``None`` (the trainer is shutting down).
    """

    def __init__(self, peer: str) -> None:
        self.peer = peer
        self.reply: queue.Queue[bytes | str | None] = queue.Queue(maxsize=1)
        self.answered = False
        self.hung_up = False
        """The client went away before the trainer answered."""


class ExchangeServer:
    """The gRPC server of one worker.

    Args:
        port: TCP port to listen on.
        host: address to bind; loopback by default (``0.0.0.0`` accepts other machines).
        where: how messages name this worker (``"worker 0 (port 5005)"``).
        max_message_bytes: larger requests are an error.
    """

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        where: str = "",
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.port = port
        self.host = host
        self.where = where or f"environment on port {port}"
        self.max_message_bytes = max_message_bytes
        self._inbox: queue.Queue[tuple[str, _Call, bytes]] = queue.Queue()
        self._parked: _Call | None = None
        self._stopping = False
        self._server: grpc.Server | None = None
        self._owner: str | None = None
        self._refusals = 0
        self._refusal_lock = threading.Lock()
        self.last_refusal = ""
        """The latest refused connection and why, since the last accepted handshake."""

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Bind and serve.

        Raises:
            EnvError: the port is in use (another run, or an Editor/player still connected).
        """
        check_port_free(self.host, self.port)
        limit = 2 * self.max_message_bytes
        server = grpc.server(
            futures.ThreadPoolExecutor(RPC_THREADS, thread_name_prefix=f"dojo-rpc-{self.port}"),
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
            ],
        )
        handler = grpc.unary_unary_rpc_method_handler(self._exchange)
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, {"Exchange": handler}),)
        )
        try:
            bound = server.add_insecure_port(f"{self.host}:{self.port}")
        except RuntimeError as err:
            bound = 0
            logger.debug("gRPC bind failed: %s", err)
        if not bound:
            raise EnvError(_port_in_use_message(self.host, self.port))
        server.start()
        self._server = server

    def stop(self) -> None:
        """Release parked calls and stop serving. Safe to call twice."""
        self._stopping = True
        if self._parked is not None:
            with contextlib.suppress(queue.Full):
                self._parked.reply.put_nowait(None)
            self._parked = None
        if self._server is not None:
            self._server.stop(grace=0.2).wait(2)
            self._server = None

    @property
    def owner(self) -> str | None:
        """The connection whose handshake was accepted (``127.0.0.1:51234``), or ``None``."""
        return self._owner

    def release(self) -> None:
        """Forget the connection that owns the port: the next handshake may come from any."""
        self._owner = None

    # ------------------------------------------------------------------ the RPC (gRPC threads)
    def _exchange(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        peer = _peer_name(context.peer())
        refusal = self._refusal(peer, request)
        if refusal is not None:
            self._refuse(peer, refusal)
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"{self.where}: {refusal}")
        call = _Call(peer)

        def ended() -> None:
            if not call.answered:
                call.hung_up = True
                self._inbox.put(("ended", call, b""))

        context.add_callback(ended)
        self._inbox.put(("request", call, request))
        while True:
            try:
                reply = call.reply.get(timeout=0.25)
            except queue.Empty:
                if self._stopping or not context.is_active():
                    context.abort(grpc.StatusCode.UNAVAILABLE, "the trainer is shutting down")
                continue
            if reply is None:
                context.abort(grpc.StatusCode.UNAVAILABLE, "the trainer is shutting down")
            if isinstance(reply, str):
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"{self.where}: {reply}")
            return reply

    def _refusal(self, peer: str, request: bytes) -> str | None:
        """Why a call from ``peer`` is refused, or ``None`` to hand it to the training thread."""
        owner = self._owner
        if owner is None:
            return handshake_problem(request, self.max_message_bytes)
        if peer != owner:
            return f"the port is in use by another environment ({owner})"
        return None

    def _refuse(self, peer: str, reason: str) -> None:
        """Log a refused connection (the first :data:`MAX_REFUSAL_WARNINGS`)."""
        with self._refusal_lock:
            self._refusals += 1
            count = self._refusals
            self.last_refusal = f"{peer} was refused: {reason}"
        if count <= MAX_REFUSAL_WARNINGS:
            logger.warning("%s: refused a connection from %s: %s", self.where, peer, reason)
        elif count == MAX_REFUSAL_WARNINGS + 1:
            logger.warning("%s: refusing more connections; not logging them any more", self.where)

    # ------------------------------------------------------------------ training thread
    def receive(
        self,
        timeout: float,
        alive: Callable[[], str | None] | None = None,
        waiting_for: str = "",
        stop_grace: float = 0.0,
        deadline: float | None = None,
    ) -> UnityMessageProto:
        """Wait for the environment's next message (the call stays parked until :meth:`reply`).

        Args:
            timeout: seconds to wait (``--timeout-wait``).
            alive: returns why the environment cannot answer any more (its process exited), or
                ``None``; checked while waiting.
            waiting_for: what the message is, for the timeout error.
            stop_grace: seconds the wait goes on after a stop request, so that an environment
                busy with a step can still answer and then be closed by the protocol (0: a
                wait for a connection ends at once).
            deadline: when the wait ends (``time.monotonic()``), for a wait that started
                earlier; ``timeout`` is then only named in the error.

        Before a connection owns the port only a handshake is taken (see the module docstring);
        the call that carried it then owns the port.

        Raises:
            WorkerFailure: timeout, the environment exited or disconnected, or it closed the
                connection (status other than 200).
            EnvError: an oversized or malformed message.
            StopRequested: Ctrl+C or SIGTERM (:mod:`dojo.interrupts`) while nothing had arrived.
        """
        if deadline is None:
            deadline = time.monotonic() + timeout
        stop_seen: float | None = None
        while True:
            remaining = deadline - time.monotonic()
            try:
                kind, call, data = self._inbox.get(timeout=max(0.0, min(0.25, remaining)))
            except queue.Empty:
                if stop_requested() and stop_seen is None:
                    stop_seen = time.monotonic()
                if stop_seen is not None and time.monotonic() - stop_seen >= stop_grace:
                    raise StopRequested(
                        f"{self.where}: stopped while waiting for the environment's "
                        f"{waiting_for or 'message'}"
                    ) from None
                reason = alive() if alive is not None else None
                if reason is not None:
                    raise WorkerFailure(
                        f"{self.where}: {reason}{self._refused_meanwhile()}"
                    ) from None
                if time.monotonic() >= deadline:
                    raise WorkerFailure(
                        f"{self.where}: no {waiting_for or 'message'} from the environment within "
                        f"{timeout:g} s (--timeout-wait){self._refused_meanwhile()}"
                    ) from None
                continue
            if kind == "ended":
                if call is self._parked:
                    self._parked = None
                    raise WorkerFailure(f"{self.where}: the environment disconnected")
                continue
            refusal = self._refusal(call.peer, data)
            if refusal is not None:  # screened by its gRPC thread before the port changed hands
                call.answered = True
                call.reply.put(refusal)
                self._refuse(call.peer, refusal)
                continue
            if self._owner is None:
                self._owner = call.peer
                self.last_refusal = ""
            self._parked = call
            return self._parse(data)

    def _refused_meanwhile(self) -> str:
        """For a failed wait for a handshake: the last connection refused meanwhile."""
        if self._owner is not None or not self.last_refusal:
            return ""
        return f"; {self.last_refusal}"

    def _parse(self, data: bytes) -> UnityMessageProto:
        if len(data) > self.max_message_bytes:
            raise EnvError(
                f"{self.where}: the environment sent a message of {len(data)} bytes, more than "
                f"the limit of {self.max_message_bytes} bytes"
            )
        message = UnityMessageProto()
        try:
            message.ParseFromString(data)
        except DecodeError as err:
            raise EnvError(
                f"{self.where}: malformed message from the environment ({len(data)} bytes that "
                f"are not a UnityMessageProto: {err})"
            ) from err
        if message.header.status != 200:
            detail = f": {message.header.message}" if message.header.message else ""
            raise WorkerFailure(
                f"{self.where}: the environment closed the connection (status "
                f"{message.header.status}{detail})"
            )
        return message

    def reply(self, message: UnityMessageProto) -> None:
        """Answer the parked call (the environment's next input)."""
        call = self._parked
        if call is None:
            raise WorkerFailure(f"{self.where}: the environment is not waiting for an answer")
        if call.hung_up:
            self._parked = None
            raise WorkerFailure(f"{self.where}: the environment disconnected")
        call.answered = True
        self._parked = None
        call.reply.put(message.SerializeToString())

    def close_connection(self) -> bool:
        """Reply status 400 to a parked call (the protocol's close); whether one was parked."""
        if self._parked is None:
            return False
        message = UnityMessageProto()
        message.header.status = 400
        self.reply(message)
        return True


def handshake_problem(data: bytes, max_message_bytes: int = MAX_MESSAGE_BYTES) -> str | None:
    """Why ``data`` is not the first message of a Unity player, or ``None`` if it is one.

    A player's first message has status 200 and an ``rl_initialization_output`` naming the
    environment and its communication version (whether dojo speaks that version is checked by
    the worker, which closes the connection through the protocol when it does not).
    """
    if not data:
        return "an empty message instead of a handshake"
    if len(data) > max_message_bytes:
        return f"a first message of {len(data)} bytes, more than the limit of {max_message_bytes}"
    message = UnityMessageProto()
    try:
        message.ParseFromString(data)
    except DecodeError:
        return f"{len(data)} bytes that are not a UnityMessageProto instead of a handshake"
    if message.header.status != 200:
        return f"status {message.header.status} before the handshake (a handshake has 200)"
    if not message.unity_output.HasField("rl_initialization_output"):
        return "a message without rl_initialization_output instead of a handshake"
    init = message.unity_output.rl_initialization_output
    if not init.name:
        return "a handshake without the environment's name"
    if not init.communication_version:
        return "a handshake without a communication version"
    return None


def _peer_name(peer: str) -> str:
    """``ipv4:127.0.0.1:51234`` -> ``127.0.0.1:51234`` (gRPC's name of a client connection)."""
    kind, _, address = peer.partition(":")
    return address if kind in ("ipv4", "ipv6") and address else peer


def check_port_free(host: str, port: int) -> None:
    """Raise a clear :class:`EnvError` when ``host:port`` cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            if err.errno in (errno.EADDRINUSE, errno.EACCES):
                raise EnvError(_port_in_use_message(host, port)) from err
            raise EnvError(f"cannot listen on {host}:{port}: {err.strerror}") from err


def _port_in_use_message(host: str, port: int) -> str:
    return (
        f"port {port} on {host} is already in use (another training run, or an environment "
        "still running?). Stop it, or pick other ports with --base-port."
    )
