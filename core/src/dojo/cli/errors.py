"""How command-line entry points report user errors: one message, no traceback."""

from __future__ import annotations

import logging
import sys
import traceback

from dojo.errors import DojoError, shorten

#: Longest line of an error message printed (a value echoed in full can be megabytes long).
MAX_LINE = 1000
#: Most lines of an error message printed (a file can hold thousands of problems).
MAX_LINES = 50


def setup_logging(debug: bool) -> None:
    """ML-Agents' console format (``[INFO] message``; verbose format under ``--debug``)."""
    fmt = (
        "%(asctime)s %(levelname)s [%(filename)s:%(lineno)d] %(message)s"
        if debug
        else "[%(levelname)s] %(message)s"
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(fmt))
    logger = logging.getLogger("dojo")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    logger.propagate = False


def report_error(err: BaseException, debug: bool) -> int:
    """Print ``err`` for a user and return the exit code (1)."""
    if debug:
        traceback.print_exception(err)
    if isinstance(err, DojoError):
        text = str(err)
    else:
        text = f"{type(err).__name__}: {err} (run with --debug for details)"
    print(f"error: {bounded(text)}", file=sys.stderr)
    return 1


def bounded(message: str) -> str:
    """``message`` with each line cut to :data:`MAX_LINE` characters and at most
    :data:`MAX_LINES` lines (the rest counted), so no input is echoed in full."""
    lines = [shorten(line, MAX_LINE) for line in message.splitlines() or [""]]
    if len(lines) > MAX_LINES:
        hidden = len(lines) - MAX_LINES
        lines = [*lines[:MAX_LINES], f"(and {hidden} more lines)"]
    return "\n".join(lines)
