"""How command-line entry points report user errors: one message, no traceback."""

from __future__ import annotations

import logging
import sys
import traceback

from dojo.errors import DojoError


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
        print(f"error: {err}", file=sys.stderr)
    else:
        print(f"error: {type(err).__name__}: {err} (run with --debug for details)", file=sys.stderr)
    return 1
