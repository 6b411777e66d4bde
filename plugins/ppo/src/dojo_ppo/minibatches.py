"""The order in which PPO's update visits a rollout: one shuffled pass per epoch.

Both implementations of the update (the reference one in :meth:`dojo_ppo.trainer.PPOTrainer.update`
and the fast one in :func:`dojo_ppo.fused_loss.run_epochs`) draw their minibatches here, from
one generator seeded once per update, so the same seed visits the same rows in the same order
on either path.
"""

from __future__ import annotations

import numpy as np


def epoch_minibatches(
    rng: np.random.Generator, size: int, batch_size: int
) -> list[np.ndarray | slice]:
    """One pass over ``size`` items in shuffled minibatches of ``batch_size`` indices.

    The items left over after the last whole minibatch sit this epoch out, as in ML-Agents.
    When ``batch_size`` covers everything the pass is one minibatch of all items,
    ``slice(None)``: the mean gradient of everything does not depend on the order, so nothing
    is shuffled or gathered (and ``rng`` is not used).
    """
    if batch_size >= size:
        return [slice(None)]
    order = rng.permutation(size)
    return [order[b * batch_size : (b + 1) * batch_size] for b in range(size // batch_size)]
