"""Collects statistics of one behavior between summaries and hands them to the writers."""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from dojo.api import Aggregation, StatsSummary, StatsWriter


class StatsReporter:
    """Statistics of one behavior (the *category*), shared by the loop and the trainer.

    Thread-safe: a threaded trainer reports losses from its update thread.
    """

    def __init__(self, category: str, writers: list[StatsWriter]) -> None:
        self.category = category
        # Shared, not copied: the run adds its writers once the results folder exists.
        self._writers = writers
        self._values: dict[str, list[float]] = defaultdict(list)
        self._aggregation: dict[str, Aggregation] = {}
        self._last_period: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self.non_finite_loss: tuple[str, float] | None = None
        """The first ``Losses/...`` value that was NaN or infinite (key, value), if any: the
        training loop stops the run on it (see :func:`dojo.training.divergence.check_losses`)."""

    def add_stat(
        self, key: str, value: float, aggregation: Aggregation = Aggregation.AVERAGE
    ) -> None:
        """Add one value of ``key`` (e.g. ``"Losses/Policy Loss"``)."""
        value = float(value)
        if key.startswith("Losses/") and not math.isfinite(value):
            self._note_non_finite(key, value)
        with self._lock:
            self._values[key].append(value)
            self._aggregation[key] = aggregation

    def add_stats(
        self, key: str, values: Sequence[float], aggregation: Aggregation = Aggregation.AVERAGE
    ) -> None:
        """Add several values of ``key`` at once."""
        floats = [float(v) for v in values]
        if key.startswith("Losses/"):
            for value in floats:
                if not math.isfinite(value):
                    self._note_non_finite(key, value)
        with self._lock:
            self._values[key].extend(floats)
            self._aggregation[key] = aggregation

    def _note_non_finite(self, key: str, value: float) -> None:
        if self.non_finite_loss is None:
            self.non_finite_loss = (key, value)

    def set_stat(self, key: str, value: float) -> None:
        """Replace ``key`` with a single most-recent value."""
        with self._lock:
            self._values[key] = [float(value)]
            self._aggregation[key] = Aggregation.MOST_RECENT

    def peek(self, key: str) -> list[float]:
        """Values of ``key`` collected since the last summary (a copy)."""
        with self._lock:
            return list(self._values.get(key, ()))

    def recent(self, key: str) -> list[float]:
        """Values of ``key`` since the last summary or, when there are none yet, those of the
        period the last summary covered (a copy). A checkpoint taken right after a summary
        still sees the latest episode returns."""
        with self._lock:
            return list(self._values.get(key) or self._last_period.get(key, ()))

    def write_summaries(self, step: int) -> dict[str, StatsSummary]:
        """Summarise everything collected, send it to every writer and start a new period."""
        with self._lock:
            summaries = {
                key: StatsSummary(tuple(values), self._aggregation[key])
                for key, values in self._values.items()
            }
            self._last_period = {key: list(values) for key, values in self._values.items()}
            self._values.clear()
        for writer in self._writers:
            writer.write_stats(self.category, summaries, step)
        return summaries

    def add_property(self, key: str, value: Any) -> None:
        """Send a non-scalar fact (hyperparameters) to every writer."""
        for writer in self._writers:
            writer.add_property(self.category, key, value)
