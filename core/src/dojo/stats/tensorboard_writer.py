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

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.tensorboard import SummaryWriter

from dojo.api import Aggregation, RunInfo, StatsSummary, StatsWriter
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
        # Threaded trainers write summaries from their own threads.
        self._lock = threading.Lock()

    def write_stats(self, category: str, values: Mapping[str, StatsSummary], step: int) -> None:
        """Write the summaries of behavior ``category`` at ``step`` and flush."""
        writer = self._writer_for(category)
        for key, summary in values.items():
            if key in HIDDEN_KEYS:
                continue
            writer.add_scalar(key, summary.value, step)
            # torch refuses an empty histogram; the scalar (0.0) is still written.
            if summary.aggregation is Aggregation.HISTOGRAM and summary.full_dist:
                writer.add_histogram(key + HISTOGRAM_SUFFIX, np.asarray(summary.full_dist), step)
        writer.flush()

    def add_property(self, category: str, key: str, value: Any) -> None:
        """Write the ``Hyperparameters`` text summary (step 0) for ``"hyperparameters"``."""
        if key != "hyperparameters":
            return
        writer = self._writer_for(category)
        writer.add_text("Hyperparameters", hyperparameters_to_text(value))
        writer.flush()

    def close(self) -> None:
        """Flush and close every event file."""
        with self._lock:
            writers, self._writers = list(self._writers.values()), {}
        for writer in writers:
            writer.close()

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
