"""TensorBoard event files, one writer per behavior, as ML-Agents' ``TensorboardWriter``.

Events go to ``results/<run-id>/<Behavior>/events.out.tfevents.*``. Tags are the statistic keys
unchanged (``Environment/Cumulative Reward``, ``Losses/Policy Loss``, ...) so existing
dashboards work; histogram statistics add ``<key>_hist``. The writer is torch's
``SummaryWriter``, the one ML-Agents uses, so the event records are the same as ML-Agents'
(including the ``Hyperparameters/text_summary`` tag of the hyperparameters text).

This module imports torch; the stats-writer registry names it lazily, so ``--help`` and
config validation never load it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.tensorboard import SummaryWriter

from dojo.api import Aggregation, RunInfo, StatsSummary, StatsWriter
from dojo.artifacts.atomic import reporting_write_errors
from dojo.errors import ResultsWriteError
from dojo.stats.console_writer import hyperparameters_to_text

logger = logging.getLogger("dojo")

#: Statistics the trainers report for the console and gauges only.
HIDDEN_KEYS = frozenset({"Is Training", "Step"})
HISTOGRAM_SUFFIX = "_hist"


class TensorBoardWriter(StatsWriter):
    """Writes every summary as TensorBoard scalars (and histograms) per behavior.

    Constructed as ``TensorBoardWriter(run=RunInfo)``. Unless the run resumes, event files
    left in a behavior's folder by an earlier run are deleted before the first write (what
    ML-Agents does under ``--force``); a resumed run adds a new event file next to the old
    ones, so its curves continue. Files are flushed at every summary, so a killed run keeps
    everything written up to its last summary.
    """

    def __init__(self, *, run: RunInfo) -> None:
        self._run_dir = Path(run.run_dir)
        self._clear_past_data = not run.options.checkpoint_settings.resume
        self._writers: dict[str, SummaryWriter] = {}
        self._failed = False  # a write failed and was reported: close() then stays quiet
        # Threaded trainers write summaries from their own threads.
        self._lock = threading.Lock()

    def write_stats(self, category: str, values: Mapping[str, StatsSummary], step: int) -> None:
        """Write the summaries of behavior ``category`` at ``step`` and flush.

        Raises:
            ResultsWriteError: the event file cannot be written (a full disk).
        """
        with self._reporting(category):
            writer = self._writer_for(category)
            for key, summary in values.items():
                if key in HIDDEN_KEYS:
                    continue
                writer.add_scalar(key, summary.value, step)
                # torch refuses an empty histogram; the scalar (0.0) is still written.
                if summary.aggregation is Aggregation.HISTOGRAM and summary.full_dist:
                    dist = np.asarray(summary.full_dist)
                    writer.add_histogram(key + HISTOGRAM_SUFFIX, dist, step)
            writer.flush()

    def add_property(self, category: str, key: str, value: Any) -> None:
        """Write the ``Hyperparameters`` text summary (step 0) for ``"hyperparameters"``."""
        if key != "hyperparameters":
            return
        with self._reporting(category):
            writer = self._writer_for(category)
            writer.add_text("Hyperparameters", hyperparameters_to_text(value))
            writer.flush()

    def close(self) -> None:
        """Flush and close every event file.

        Raises:
            ResultsWriteError: an event file cannot be written, unless a write error was
                already reported (the disk is still full: nothing more to say).
        """
        with self._lock:
            writers, self._writers = list(self._writers.items()), {}
        reported = self._failed
        error: ResultsWriteError | None = None
        for category, writer in writers:
            try:
                with self._reporting(category):
                    writer.close()
            except ResultsWriteError as err:
                error = error or err
        if error is not None and not reported:
            raise error

    @contextlib.contextmanager
    def _reporting(self, category: str) -> Iterator[None]:
        """A failed write to ``category``'s events as one :class:`ResultsWriteError`; the
        writer keeps the pending events, the files hold every summary flushed before."""
        try:
            with reporting_write_errors(f"TensorBoard events in {self._run_dir / category}"):
                yield
        except ResultsWriteError:
            self._failed = True
            raise

    def _writer_for(self, category: str) -> SummaryWriter:
        with self._lock:
            writer = self._writers.get(category)
            if writer is None:
                folder = self._run_dir / category
                folder.mkdir(parents=True, exist_ok=True)
                if self._clear_past_data:
                    _delete_event_files(folder)
                writer = self._writers[category] = SummaryWriter(str(folder))
            return writer


def _quiet_event_writer_errors() -> None:
    """Keep TensorBoard's writer thread from printing a traceback when a write fails (a full
    disk): the thread keeps the error and the next :meth:`TensorBoardWriter.write_stats`
    raises it, reported once as a :class:`ResultsWriteError`. Every other thread's uncaught
    error goes to the previous hook, as before."""
    try:
        from tensorboard.summary.writer.event_file_writer import _AsyncWriterThread
    except ImportError:  # another tensorboard layout: its tracebacks stay
        return
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if isinstance(args.thread, _AsyncWriterThread) and isinstance(args.exc_value, OSError):
            logger.debug("TensorBoard's writer thread stopped: %s", args.exc_value)
            return
        previous(args)

    threading.excepthook = hook


_quiet_event_writer_errors()


def _delete_event_files(folder: Path) -> None:
    """Remove TensorBoard files of an earlier run so that curves do not mix."""
    for path in sorted(folder.iterdir()):
        if not path.name.startswith("events.out"):
            continue
        logger.warning(
            "Deleting TensorBoard data %s that was left over from a previous run.", path.name
        )
        try:
            path.unlink()
        except OSError as err:
            logger.error("Was not able to delete TensorBoard data %s: %s", path, err)
