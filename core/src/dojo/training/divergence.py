"""Stop a run whose update produced a NaN or infinite loss, before anything is saved from it.

Trainers report their losses as ``Losses/...`` statistics (ML-Agents' tags); the
:class:`~dojo.stats.reporter.StatsReporter` notes the first one that is not finite, and the
training loop calls :func:`check_losses` after every update. A non-finite parameter is caught
too: the next update's loss is then NaN, and :func:`dojo.torch_layer.checkpoint.save_state`
refuses to write non-finite weights in any case.
"""

from __future__ import annotations

from dojo.errors import DivergedError
from dojo.stats.reporter import StatsReporter


def check_losses(behavior_name: str, stats: StatsReporter, step: int) -> None:
    """Raise if an update of ``behavior_name`` reported a non-finite loss.

    Raises:
        DivergedError: naming the loss, its value and the step; the run stops and the weights
            of that update are never written (the checkpoints already written are kept).
    """
    found = stats.non_finite_loss
    if found is None:
        return
    key, value = found
    raise DivergedError(
        f"{behavior_name}: training diverged: '{key}' was {value} after the update at step "
        f"{step}. Nothing from that update is saved; the checkpoints written before it are "
        "kept. Look for very large rewards or observations (normalize them) or lower "
        "learning_rate."
    )
