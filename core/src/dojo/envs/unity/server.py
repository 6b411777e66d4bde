"""dojo's side of one Unity connection: a gRPC server with the single ``Exchange`` RPC.

The environment (a Unity player, the Editor, or dojo's own :mod:`dojo.envs.serve` client) calls
``Exchange`` with its output; the reply carries the trainer's next input. The gRPC handler thread
hands each request to the training thread through a queue and blocks until the training thread
replies (``UnityToExternalProto`` in ML-Agents' ``rpc_communicator.py`` works the same way).

Requests are taken as raw bytes (a generic handler, no generated stub) so that an oversized or
malformed message is reported by dojo with a clear message instead of being dropped by gRPC.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import queue
import socket
import time
from collections.abc import Callable
from concurrent import futures

import grpc
from google.protobuf.message import DecodeError

from dojo.envs.unity.communicator_objects.unity_message_pb2 import UnityMessageProto
from dojo.errors import EnvError
from dojo.interrupts import StopRequested, stop_requested

logger = logging.getLogger("dojo")

SERVICE = "communicator_objects.UnityToExternalProto"
#: Largest message dojo accepts from an environment (gRPC's own limit is twice this, so that a
#: larger message still reaches dojo and gets a clear error instead of a silent rejection).
MAX_MESSAGE_BYTES = 512 * 1024 * 1024


class WorkerFailure(EnvError):
    """The environment went away (exited, disconnected, stopped answering): a restart may help."""


class _Call:
    """One in-flight ``Exchange`` call, parked until the training thread replies."""

    def __init__(self) -> None:
        self.reply: queue.Queue[bytes | None] = queue.Queue(maxsize=1)
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

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Bind and serve.

        Raises:
            EnvError: the port is in use (another run, or an Editor/player still connected).
        """
        check_port_free(self.host, self.port)
        limit = 2 * self.max_message_bytes
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"dojo-rpc-{self.port}"),
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

    # ------------------------------------------------------------------ the RPC (gRPC threads)
    def _exchange(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        call = _Call()

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
            return reply

    # ------------------------------------------------------------------ training thread
    def receive(
        self,
        timeout: float,
        alive: Callable[[], str | None] | None = None,
        waiting_for: str = "",
        stop_grace: float = 0.0,
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

        Raises:
            WorkerFailure: timeout, the environment exited or disconnected, or it closed the
                connection (status other than 200).
            EnvError: an oversized or malformed message.
            StopRequested: Ctrl+C or SIGTERM (:mod:`dojo.interrupts`) while nothing had arrived.
        """
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
                    raise WorkerFailure(f"{self.where}: {reason}") from None
                if time.monotonic() >= deadline:
                    raise WorkerFailure(
                        f"{self.where}: no {waiting_for or 'message'} from the environment within "
                        f"{timeout:g} s (--timeout-wait)"
                    ) from None
                continue
            if kind == "ended":
                if call is self._parked:
                    self._parked = None
                    raise WorkerFailure(f"{self.where}: the environment disconnected")
                continue
            self._parked = call
            return self._parse(data)

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
