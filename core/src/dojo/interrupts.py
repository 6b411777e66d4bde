"""Ctrl+C and SIGTERM for code that waits on something outside dojo.

A signal is delivered to the whole process, so the stop it asks for is process-wide too. The
run's signal handler calls :func:`request_stop`; a wait that can last long (the Unity Editor or a
player that has not connected yet, an environment that does not answer) checks
:func:`stop_requested` between its short polls and raises :class:`StopRequested`, so a stop ends
the wait within a fraction of a second instead of after ``--timeout-wait``.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger("dojo")

# A plain flag, not a threading.Event: it is set from a signal handler, which runs on the main
# thread between two bytecodes and could deadlock on a lock that thread already holds.
_requested = False


class StopRequested(BaseException):
    """A stop (Ctrl+C, SIGTERM) arrived while waiting; the message says what was waited for.

    Like :class:`KeyboardInterrupt` it is no error, so it derives from :class:`BaseException`:
    code that reports or wraps errors (``except Exception``) lets it through to the run.
    """


def request_stop() -> None:
    """Ask every wait in progress, and every later one, to stop (safe in a signal handler)."""
    global _requested
    _requested = True


def stop_requested() -> bool:
    """Whether a stop was requested since the last :func:`clear`."""
    return _requested


def clear() -> None:
    """Forget a request (a new run in the same process starts without one)."""
    global _requested
    _requested = False


class StopFlag:
    """The run's SIGINT/SIGTERM handler: the first signal requests a stop (:func:`request_stop`;
    the training loop stops at the next step, waits end at once); a second Ctrl+C raises
    :class:`KeyboardInterrupt` to force the exit. Calling the flag says whether a stop was
    requested."""

    def __init__(self) -> None:
        self.saving = False
        """Training has started: a stop saves the models (for the message)."""

    def __call__(self) -> bool:
        return stop_requested()

    def _handle(self, signum: int, _frame: Any) -> None:
        if stop_requested() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        request_stop()
        action = "saving and stopping" if self.saving else "stopping"
        logger.info("Received %s: %s.", signal.Signals(signum).name, action)

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGINT and SIGTERM inside the block (main thread only), starting with no
        request."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        clear()
        previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            clear()
