"""The fast form of SAC's update: its losses and their gradients derived by hand, for
feed-forward policies with continuous actions only (the common case: Pendulum, most Unity
control tasks). The reference form is autograd in :mod:`dojo_sac.trainer`
(``_policy_step_reference``, ``_critic_step_reference``); ``hyperparameters.implementation``
picks one when the trainer is built (:func:`choose_implementation`).

One update per environment step makes SAC's update the whole cost of a run, and each half of an
update is a chain of small operations around its large matrix products: the tanh-squashed
Gaussian, its log-probability, the first Q network at the sampled actions and back (the policy
half); both twins at the replayed actions, the squared error and back (the critic half). Through
autograd every one of them records and replays a node. :func:`policy_gradients`,
:func:`critic_forward` and :func:`critic_gradients` compute the same losses and gradients
directly, without a graph (a Pendulum update: about 0.3 ms less, of 4.4 ms). Whole updates equal
the reference form's (``tests/sac/test_implementations.py``), and so do these gradients
(``tests/sac/test_fused_update.py``); :func:`unsupported_because` says which networks qualify
(no memory, no discrete branches, vector observations, whose encoders have no trained
parameters).

Derivatives used, per sample, with ``n`` samples, ``S`` reward signals, ``alpha`` the continuous
entropy coefficient, noise ``e``, ``u = mean + e * exp(log_std)``, action ``a = tanh(u)``:

- loss ``L = mean_n(alpha log pi - mean_S Q1(s, a))``, so ``dL/dQ1 = -1 / (n S)`` and
  ``dL/d log pi = alpha / n``;
- ``log pi = -|e|^2 / 2 - sum log_std - c log(2 pi) / 2 - sum log(1 - tanh(u)^2)``:
  ``d log pi / du = 2 a`` (the squashing correction) and ``d log pi / d log_std = -1`` directly;
- ``da/du = 1 - a^2``, ``du/d mean = 1``, ``du/d log_std = e exp(log_std)``; the clamp of
  ``log_std`` to ``[LOG_STD_MIN, LOG_STD_MAX]`` passes the gradient only inside the bounds;
- critic loss ``sum_twins 0.5 mean_{n,S} (Q - target)^2``: ``dL/dQ = (Q - target) / (n S)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import NamedTuple

import torch

from dojo.config.settings import NetworkSettings
from dojo.envs.base import BehaviorSpec
from dojo.errors import ConfigError
from dojo.torch_layer.action_model import LOG_STD_MAX, LOG_STD_MIN
from dojo.torch_layer.dense_stack import (
    ensemble_backward,
    ensemble_forward,
    stack_backward,
    stack_forward,
)
from dojo.torch_layer.networks import Actor
from dojo_sac.networks import TwinQNetwork

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class PolicyGradients(NamedTuple):
    """The policy loss's gradients (in the order of ``actor.parameters()``), the loss ``[1]``
    and the mean log-probability of the sampled actions (a 0-d tensor)."""

    grads: list[torch.Tensor]
    policy_loss: torch.Tensor
    mean_log_prob: torch.Tensor


def unsupported_because(behavior_spec: BehaviorSpec, network: NetworkSettings) -> str | None:
    """What keeps these functions from training this behavior's networks (completing "the
    fast path does not cover ..."), or ``None`` when they can: feed-forward networks, continuous
    actions only, vector observations only (whose encoders have no trained parameters)."""
    action_spec = behavior_spec.action_spec
    if network.memory is not None:
        return "network_settings.memory (recurrent networks)"
    if action_spec.discrete_branches:
        return f"discrete actions (branches {tuple(action_spec.discrete_branches)})"
    if not action_spec.continuous_size:
        return "behaviors without continuous actions"
    for index, spec in enumerate(behavior_spec.observation_specs):
        if len(spec.shape) != 1:
            return (
                f"visual observations (observation {index}, shape {tuple(spec.shape)}; their "
                "encoders train through autograd)"
            )
    return None


def choose_implementation(
    requested: str, behavior_name: str, spec: BehaviorSpec, network: NetworkSettings
) -> str:
    """The update form that runs, ``"reference"`` or ``"fast"``, for ``hyperparameters.
    implementation`` ``requested`` (``auto``: fast where the networks allow it, as PPO's).

    Raises:
        ConfigError: ``fast`` requested for networks it cannot train, saying why.
    """
    if requested == "reference":
        return "reference"
    unsupported = unsupported_because(spec, network)
    if unsupported is None:
        return "fast"
    if requested == "auto":
        return "reference"
    key = f"behaviors.{behavior_name}.hyperparameters.implementation"
    raise ConfigError(
        f"{key} is fast, but SAC's fast path (dojo_sac.fused_update) does not cover "
        f"{unsupported}: it trains feed-forward networks on vector observations with continuous "
        f"actions only. Set {key} to reference (or auto, which chooses reference here)."
    )


def networks_fit(actor: Actor, q_network: TwinQNetwork) -> bool:
    """Whether the networks are what :func:`policy_gradients` and :func:`critic_gradients`
    take every gradient of (checked when the trainer picks them)."""
    model = actor.action_model
    if actor.memory is not None or q_network.memory is not None:
        return False
    if not model.continuous_size or model.branches or model.log_std_layer is None:
        return False
    if not model.tanh_squash or actor.body.activation_name != "relu":
        return False
    # Parameters only in the body and the two heads (their gradients are all computed here).
    if len(list(actor.parameters())) != 2 * len(actor.body.layers) + 4:
        return False
    # Encoders without parameters (vector observations): no gradient to take there, and every
    # parameter of the networks is one whose gradient is computed here.
    return not any(True for _ in [*actor.encoder.parameters(), *q_network.encoder.parameters()])


@torch.no_grad()
def policy_gradients(
    actor: Actor, q_network: TwinQNetwork, obs: Sequence[torch.Tensor], alpha: float | torch.Tensor
) -> PolicyGradients:
    """SAC's policy loss ``mean(alpha log pi(a|s) - mean_signals Q1(s, a))`` at reparameterised
    samples ``a`` of ``actor`` (Q1 frozen) and its gradients; see the module docstring."""
    model = actor.action_model
    mean_layer, std_layer = model.mean_layer, model.log_std_layer
    assert mean_layer is not None and std_layer is not None
    body_weights = [layer.weight for layer in actor.body.layers]
    body_biases = [layer.bias for layer in actor.body.layers]

    # Forward: the actor, a reparameterised squashed sample and its log-probability.
    body = stack_forward(actor.encoder(obs), body_weights, body_biases, activate_last=True)
    hidden = body[-1]
    mean = torch.addmm(mean_layer.bias, hidden, mean_layer.weight.t())
    raw_log_std = torch.addmm(std_layer.bias, hidden, std_layer.weight.t())
    log_std = raw_log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
    std = log_std.exp()
    noise = torch.randn_like(mean)
    raw = torch.addcmul(mean, noise, std)
    action = torch.tanh(raw)
    size = mean.shape[1]
    # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), stable for large |u|.
    log_det = 2.0 * (math.log(2.0) - raw - torch.nn.functional.softplus(-2.0 * raw))
    log_prob = -0.5 * noise.square().sum(1) - (log_std + log_det).sum(1) - size * _HALF_LOG_2PI

    # The first Q network at the sampled actions, through detached weights.
    q_weights = [weight[0] for weight in q_network.weights]
    q_biases = [bias[0] for bias in q_network.biases]
    q_input = torch.cat([q_network.encoder(obs), action], dim=1)
    q_layers = stack_forward(q_input, q_weights, q_biases)
    q = q_layers[-1]  # [n, signals] (one output per signal with continuous actions only)
    n, signals = q.shape
    policy_loss = (alpha * log_prob - q.mean(1)).mean()

    # Backward: to the action through Q1, then through the squashing and the Gaussian.
    grad_q = torch.full_like(q, -1.0 / (n * signals))
    grad_input, _ = stack_backward(grad_q, q_layers, q_weights, weight_grads=False, input_grad=True)
    assert grad_input is not None
    grad_action = grad_input[:, -size:]
    alpha_n = alpha / n
    grad_raw = grad_action * (1.0 - action.square()) + (2.0 * alpha_n) * action
    grad_mean = grad_raw
    inside = (raw_log_std >= LOG_STD_MIN) & (raw_log_std <= LOG_STD_MAX)
    grad_log_std = (grad_raw * noise * std - alpha_n) * inside
    grad_hidden = grad_mean @ mean_layer.weight + grad_log_std @ std_layer.weight
    _, body_grads = stack_backward(grad_hidden, body, body_weights, activate_last=True)

    by_parameter = dict(
        zip([*body_weights, *body_biases], [*body_grads[0::2], *body_grads[1::2]], strict=True)
    )
    by_parameter[mean_layer.weight] = grad_mean.t() @ hidden
    by_parameter[mean_layer.bias] = grad_mean.sum(0)
    by_parameter[std_layer.weight] = grad_log_std.t() @ hidden
    by_parameter[std_layer.bias] = grad_log_std.sum(0)
    grads = [by_parameter[p] for p in actor.parameters()]
    return PolicyGradients(grads, policy_loss[None], log_prob.mean())


class CriticForward(NamedTuple):
    """Both twins at the replayed actions: their input and every layer's activations."""

    inputs: torch.Tensor
    layers: list[torch.Tensor]


class CriticGradients(NamedTuple):
    """The critic loss's gradients (in the order of ``q_network.parameters()``), each twin's
    loss ``[2]`` and the smaller twin's mean value per signal ``[signals]``."""

    grads: list[torch.Tensor]
    q_losses: torch.Tensor
    q_values: torch.Tensor


@torch.no_grad()
def critic_forward(
    q_network: TwinQNetwork, obs: Sequence[torch.Tensor], continuous: torch.Tensor
) -> CriticForward:
    """Both twins' forward pass at the replayed ``continuous`` actions (run before the soft
    target is known; :func:`critic_gradients` finishes the step)."""
    inputs = q_network.inputs(obs, continuous)
    return CriticForward(
        inputs, ensemble_forward(inputs, list(q_network.weights), list(q_network.biases))
    )


@torch.no_grad()
def critic_gradients(
    q_network: TwinQNetwork,
    forward: CriticForward,
    target: torch.Tensor,
    submit: Callable[[Callable[[], torch.Tensor]], Future[torch.Tensor]] | None = None,
) -> CriticGradients:
    """The twins' regression on the soft ``target`` ``[n, signals]``: ``0.5 (Q - target)^2``
    averaged over the batch and the signals, per twin, and its gradients (the second twin's
    hidden weight products through ``submit``, if given: see
    :func:`~dojo.torch_layer.dense_stack.ensemble_backward`)."""
    q = forward.layers[-1]  # [2, n, signals]
    n, signals = target.shape
    error = q - target
    q_losses = 0.5 * error.square().mean(dim=(1, 2))
    q_values = q.min(dim=0).values.mean(0)
    weights = list(q_network.weights)
    _, grads = ensemble_backward(
        error.mul_(1.0 / (n * signals)), forward.inputs, forward.layers, weights, submit=submit
    )
    by_parameter = dict(
        zip([*weights, *q_network.biases], [*grads[0::2], *grads[1::2]], strict=True)
    )
    return CriticGradients([by_parameter[p] for p in q_network.parameters()], q_losses, q_values)
