"""Which implementation of PPO's update runs: ``hyperparameters.implementation``.

- ``reference``: :func:`dojo_ppo.loss.ppo_loss` through autograd on plain torch layers, then
  gradient-norm clipping and Adam (:meth:`dojo_ppo.trainer.PPOTrainer.update`). Trains every
  network PPO builds.
- ``fast``: the same math with the gradients derived by hand, in numpy
  (:mod:`dojo_ppo.fused_loss`), the rollout's forward passes in numpy
  (:mod:`dojo_ppo.numpy_inference`) and, with ``threaded: true``, the update in a child process
  (:mod:`dojo_ppo.update_process`). It covers feed-forward networks on vector observations
  with discrete actions (branches of one size), without a shared critic, on the CPU
  (:func:`fast_path_refusal`); asking for it elsewhere is a configuration error.
- ``auto`` (the default): ``fast`` where it applies, else ``reference``.

The trainer writes the implementation it chose into its settings, so the run's printout of
the hyperparameters ("Hyperparameters for behavior name ...") says which one runs.
"""

from __future__ import annotations

import torch

from dojo.config.settings import NetworkSettings
from dojo.envs.base import BehaviorSpec
from dojo.errors import ConfigError


def fast_path_refusal(
    spec: BehaviorSpec, network_settings: NetworkSettings, shared_critic: bool, device: str
) -> str | None:
    """What keeps the fast path from training this behavior (completing "the fast path does
    not cover ..."), or ``None`` when it can."""
    branches = tuple(spec.action_spec.discrete_branches)
    if spec.action_spec.continuous_size:
        return "continuous actions"
    if not branches:
        return "behaviors without discrete actions"
    if len(set(branches)) > 1:
        return f"discrete action branches of different sizes {branches}"
    if any(len(observation.shape) != 1 for observation in spec.observation_specs):
        return "visual observations (their encoders train through autograd)"
    if network_settings.memory is not None:
        return "network_settings.memory (recurrent networks)"
    if shared_critic:
        return "shared_critic: true"
    if torch.device(device).type != "cpu":
        return f"torch device {device!r} (it computes in numpy, on the CPU)"
    return None


def choose_implementation(requested: str, refusal: str | None, behavior_name: str) -> str:
    """``reference`` or ``fast``, for ``requested`` (``auto``, ``reference`` or ``fast``) and
    the fast path's :func:`fast_path_refusal` of this behavior.

    Raises:
        ConfigError: ``fast`` was requested where the fast path does not apply.
    """
    if requested == "reference":
        return "reference"
    if refusal is None:
        return "fast"
    if requested == "auto":
        return "reference"
    key = f"behaviors.{behavior_name}.hyperparameters.implementation"
    raise ConfigError(
        f"{key} is fast, but PPO's fast path (dojo_ppo.fused_loss) does not cover {refusal}: "
        "it trains feed-forward networks on vector observations with discrete actions, on the "
        f"CPU. Set {key} to reference (or auto, which chooses reference here)."
    )
