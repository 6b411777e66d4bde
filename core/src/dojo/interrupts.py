"""Ctrl+C and SIGTERM for code that waits on something outside dojo.

A signal is delivered to the whole process, so the stop it asks for is process-wide too. The
run's signal handler calls :func:`request_stop`; a wait that can last long (the Unity Editor or a
player that has not connected yet, an environment that does not answer) checks
:func:`stop_requested` between its short polls and raises :class:`StopRequested`, so a stop ends
the wait within a fraction of a second instead of after ``--timeout-wait``.

An environment call that never returns (a Python environment hung in ``step()``, a worker that
does not answer) cannot poll: the training loop makes it an :class:`EnvironmentCall`, and a
stop requested while the call runs (or before it starts) gives it :data:`ABANDON_AFTER` seconds
to return; then, or at once on a second signal, the call is abandoned: :class:`StepAbandoned`
is raised inside it (from a ``SIGALRM`` timer) and the run saves what it trained before that
step.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger("dojo")

ABANDON_AFTER = 2.0
"""Seconds an environment call may still take once a stop was requested."""

# Windows has no SIGALRM: there a hung call is not abandoned (the stop waits for it).
_HAS_TIMER = hasattr(signal, "SIGALRM") and hasattr(signal, "setitimer")

# A plain flag, not a threading.Event: it is set from a signal handler, which runs on the main
# thread between two bytecodes and could deadlock on a lock that thread already holds.
_requested = False
# The environment call the main thread is in (an EnvironmentCall), or None.
_call: EnvironmentCall | None = None


class StopRequested(BaseException):
    """A stop (Ctrl+C, SIGTERM) arrived while waiting; the message says what was waited for.

    Like :class:`KeyboardInterrupt` it is no error, so it derives from :class:`BaseException`:
    code that reports or wraps errors (``except Exception``) lets it through to the run.
    """

    level = logging.INFO
    """How the run logs the message."""


class StepAbandoned(StopRequested):
    """An environment call did not return after a stop was requested and was given up: the
    run saves and ends as after any stop, with a warning (the message) instead of an error."""

    level = logging.WARNING


class EnvironmentCall:
    """``with call:`` marks the main thread as inside an environment call that a stop may
    abandon (see the module docstring). Reusable and cheap (two assignments) when no stop
    comes; main thread only, not nested.

    Args:
        what: names the call in the warning, e.g. ``"gymnasium:CartPole-v1: step()"``.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self._armed = False

    def __enter__(self) -> None:
        global _call
        _call = self
        if _requested:  # a stop came before the call: it has the same time to return
            self.arm()

    def __exit__(self, *_exc: object) -> None:
        global _call
        _call = None
        if self._armed:
            self._armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)

    def arm(self) -> None:
        """Abandon the call unless it returns within :data:`ABANDON_AFTER` seconds."""
        if (
            _HAS_TIMER
            and not self._armed
            and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGALRM) is StopFlag._alarm  # the timer is handled
        ):
            self._armed = True
            signal.setitimer(signal.ITIMER_REAL, ABANDON_AFTER)

    def abandon(self, how: str) -> StepAbandoned:
        """The exception that abandons the call (``how``: why, for the message)."""
        return StepAbandoned(
            f"{self.what} did not return {how}: the environment was abandoned and its unfinished "
            "step is not trained on"
        )


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
    the training loop stops at the next step, waits end at once, an environment call is
    abandoned unless it returns within :data:`ABANDON_AFTER` seconds); a second signal during
    an environment call abandons it at once, a second Ctrl+C elsewhere raises
    :class:`KeyboardInterrupt` to force the exit. Calling the flag says whether a stop was
    requested."""

    def __init__(self) -> None:
        self.saving = False
        """Training has started: a stop saves the models (for the message)."""

    def __call__(self) -> bool:
        return stop_requested()

    def _handle(self, signum: int, _frame: Any) -> None:
        call = _call
        if stop_requested():
            if call is not None:
                raise call.abandon(f"after a second {signal.Signals(signum).name}")
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            return
        request_stop()
        action = "saving and stopping" if self.saving else "stopping"
        logger.info("Received %s: %s.", signal.Signals(signum).name, action)
        if call is not None:
            call.arm()

    @staticmethod
    def _alarm(_signum: int, _frame: Any) -> None:
        """The timer :meth:`EnvironmentCall.arm` set went off."""
        call = _call
        if call is not None and stop_requested():
            raise call.abandon(f"within {ABANDON_AFTER:g} s of the stop request")

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGINT and SIGTERM (and the abandon timer's SIGALRM) inside the block (main
        thread only), starting with no request."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        clear()
        previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        if _HAS_TIMER:
            previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._alarm)
        try:
            yield
        finally:
            if _HAS_TIMER:
                signal.setitimer(signal.ITIMER_REAL, 0)
            for s, handler in previous.items():
                signal.signal(s, handler)
            clear()
