"""The extrinsic reward signal: the reward the environment gives."""

from __future__ import annotations

import numpy as np

from dojo.api import RewardSignal, SignalBatch


class ExtrinsicRewardSignal(RewardSignal):
    """Passes the environment's reward through (``strength`` is applied by the trainer)."""

    stat_name = "Extrinsic"

    def evaluate(self, batch: SignalBatch) -> np.ndarray:
        return batch.rewards
