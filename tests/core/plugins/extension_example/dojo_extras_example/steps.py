"""``steps_done``: a lesson completion measure, the behavior's trainer steps."""

from dojo.api import CompletionCriterion


class StepsDone(CompletionCriterion):
    def measure(self, progress):
        return float(progress.step)
