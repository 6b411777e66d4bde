"""The console progress line, word for word ML-Agents' ``ConsoleWriter``.

Every summary logs one line per behavior through the ``dojo`` logger::

    3DBall. Step: 12000. Time Elapsed: 31.204 s. Mean Reward: 1.538. Std of Reward: 0.839. Training.

Scripts that parse ``mlagents-learn`` output keep working, so the wording, the order of the parts
and the three decimals must not change.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import Any

from dojo.api import RunInfo, StatsSummary, StatsWriter

logger = logging.getLogger("dojo")

CUMULATIVE_REWARD = "Environment/Cumulative Reward"
GROUP_CUMULATIVE_REWARD = "Environment/Group Cumulative Reward"
IS_TRAINING = "Is Training"
ELO = "Self-play/ELO"


def hyperparameters_to_text(value: Any, depth: int = 0) -> str:
    """ML-Agents' dump of a settings dict: one ``key:<TAB>value`` per line, nested by indent.

    Each line starts with a tab plus two spaces per nesting level; a nested dict starts on
    the line after its key. Dataclasses (dojo's frozen settings) are converted to dicts first.
    Shared with the TensorBoard ``Hyperparameters`` text summary, which has the same text.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if not isinstance(value, Mapping):
        return str(value)
    newline = "\n" if depth > 0 else ""
    return newline + "\n".join(
        "\t" + "  " * depth + f"{key}:\t{hyperparameters_to_text(item, depth + 1)}"
        for key, item in value.items()
    )


class ConsoleWriter(StatsWriter):
    """Logs the progress line of every summary and the hyperparameters of every behavior.

    Constructed as ``ConsoleWriter(run=RunInfo)``; the run is not needed. Time Elapsed counts
    from the writer's creation (so it restarts at 0 on ``--resume``, as in ML-Agents).
    """

    def __init__(self, *, run: RunInfo | None = None) -> None:
        del run
        self._start = time.monotonic()

    def write_stats(self, category: str, values: Mapping[str, StatsSummary], step: int) -> None:
        """Log ``<Behavior>. Step: N. Time Elapsed: T s. ...`` for one summary."""
        elapsed = time.monotonic() - self._start
        parts = [category, f"Step: {step}", f"Time Elapsed: {elapsed:0.3f} s"]
        reward = values.get(CUMULATIVE_REWARD)
        if reward is not None:
            parts.append(f"Mean Reward: {reward.mean:0.3f}")
            group_reward = values.get(GROUP_CUMULATIVE_REWARD)
            if group_reward is not None:
                parts.append(f"Mean Group Reward: {group_reward.mean:0.3f}")
            else:
                parts.append(f"Std of Reward: {reward.std:0.3f}")
        else:
            parts.append("No episode was completed since last summary")
        # As in ML-Agents, a summary without the "Is Training" stat reads "Not Training".
        is_training = values.get(IS_TRAINING)
        parts.append(
            "Training" if is_training is not None and is_training.value > 0.0 else "Not Training"
        )
        elo = values.get(ELO)
        if elo is not None:
            parts.append(f"ELO: {elo.mean:0.3f}")
        logger.info(". ".join(parts) + ".")

    def add_property(self, category: str, key: str, value: Any) -> None:
        """For ``"hyperparameters"``, log ``Hyperparameters for behavior name <B>:`` + dump."""
        if key == "hyperparameters":
            logger.info(
                "Hyperparameters for behavior name %s: \n%s",
                category,
                hyperparameters_to_text(value),
            )
