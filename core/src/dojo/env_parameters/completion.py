"""ML-Agents' lesson completion measures: ``reward`` and ``progress``."""

from __future__ import annotations

from dojo.api import CompletionCriterion, LessonProgress


class RewardCriterion(CompletionCriterion):
    """Mean cumulative reward of the episodes finished in the lesson."""

    def measure(self, progress: LessonProgress) -> float | None:
        rewards = progress.episode_rewards
        return sum(rewards) / len(rewards) if rewards else None


class ProgressCriterion(CompletionCriterion):
    """Fraction of the behavior's ``max_steps`` already trained."""

    def measure(self, progress: LessonProgress) -> float | None:
        return progress.step / progress.max_steps if progress.max_steps > 0 else 1.0
