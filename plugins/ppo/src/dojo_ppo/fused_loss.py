"""PPO's fast implementation: the loss of :func:`dojo_ppo.loss.ppo_loss` with its gradients
derived by hand, for feed-forward networks with discrete actions.

PPO on small networks (CartPole's 64 x 64) spends most of a run in its update, and most of an
update step in per-operation overhead: running the loss through autograd records and replays
dozens of small nodes, which cost several times the matrix products. For feed-forward actors
and critics on vector observations with discrete actions (equal-sized branches, optional masks)
on the CPU, :class:`FusedDiscreteLoss` computes the same clipped-surrogate, value and entropy
losses and their gradients directly, without recording a graph, with numpy on views of the
parameters (an elementwise numpy operation on these sizes costs a fraction of a torch one, and
its tanh is several times faster). The gradients land in one flat buffer laid out like the
parameters (:mod:`dojo.torch_layer.flat_parameters`), ready for
:meth:`~dojo.torch_layer.adam.GradientAdam.step_flat`. An update step of PPO CartPole went
from about 680 microseconds (autograd-free torch) to 350.

``hyperparameters.implementation`` chooses between this and the reference implementation
(:mod:`dojo_ppo.implementation` says which networks this covers). ``tests/ppo`` holds the two
equal: each step's gradients against autograd on :func:`~dojo_ppo.loss.ppo_loss`
(``test_fused_loss.py``), and whole updates, parameters and reported losses
(``test_implementation.py``).

Derivatives used (per sample, ``N`` samples, branch log-probabilities ``logp = log_softmax(z)``):

- surrogate ``min(r A, clip(r) A)`` with ``r = exp(lp - lp_old)``: ``d/d lp = A r`` where the
  unclipped term is the smaller (or equal) one, else 0;
- ``lp = sum_b logp_b[a_b]``: ``d lp / d z_b = onehot(a_b) - p_b``;
- entropy ``H_b = -sum p_b logp_b``: ``d H_b / d z_b = -p_b (logp_b + H_b)``;
- value loss ``mean_s mean_n (R - v)^2`` (weight ``VALUE_LOSS_WEIGHT`` = 0.5 in the loss):
  ``d/d v = 2 VALUE_LOSS_WEIGHT (v - R) / (S N)``;
- tanh layers: ``d/d pre = g (1 - h^2)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, NamedTuple

import numpy as np
import torch

from dojo.torch_layer.action_model import MASKED_LOGIT
from dojo.torch_layer.adam import GradientAdam
from dojo.torch_layer.flat_parameters import views_like
from dojo.torch_layer.networks import Actor, Critic
from dojo_ppo.loss import VALUE_LOSS_WEIGHT
from dojo_ppo.minibatches import epoch_minibatches


class FusedResult(NamedTuple):
    """One update step's gradients (the flat buffer, laid out like the parameters given) and
    its losses."""

    grad: np.ndarray
    policy_loss: float
    value_loss: float


class DenseViews:
    """Numpy views of a linear layer's weight ``[out, in]`` and bias (current as long as the
    parameters are updated in place)."""

    def __init__(self, layer: torch.nn.Linear) -> None:
        self.weight = layer.weight.detach().numpy()
        self.bias = layer.bias.detach().numpy()


class _Dense(DenseViews):
    """:class:`DenseViews` plus views of the weight's and bias's places in the flat gradient
    buffer."""

    def __init__(self, layer: torch.nn.Linear, grad_of: dict[int, np.ndarray]) -> None:
        super().__init__(layer)
        self.d_weight = grad_of[id(layer.weight)]
        self.d_bias = grad_of[id(layer.bias)]


def tanh_layers(x: np.ndarray, layers: Sequence[DenseViews]) -> list[np.ndarray]:
    """The input and every layer's output of a tanh body."""
    outputs = [x]
    for layer in layers:
        h = outputs[-1] @ layer.weight.T
        h += layer.bias
        outputs.append(np.tanh(h, out=h))
    return outputs


def _backward_tanh_layers(
    grad: np.ndarray, layers: Sequence[_Dense], outputs: list[np.ndarray]
) -> None:
    """Weight and bias gradients of a tanh body (written into the layers' gradient views),
    given the gradient at its output (which it may overwrite)."""
    g = grad
    for i in reversed(range(len(layers))):
        h, below, layer = outputs[i + 1], outputs[i], layers[i]
        slope = h * h
        np.subtract(1.0, slope, out=slope)
        g *= slope
        if below.shape[1] < layer.weight.shape[0]:
            # Few inputs (a first layer): BLAS is far faster at below^T @ g.
            layer.d_weight[...] = (below.T @ g).T
        else:
            np.matmul(g.T, below, out=layer.d_weight)
        g.sum(0, out=layer.d_bias)
        if i:
            g = g @ layer.weight


class FusedLayers(NamedTuple):
    """The layers :class:`FusedDiscreteLoss` reads (picklable: a child process receives them
    with their parameters in shared memory) and the parameter order of its gradient buffer."""

    body: list[torch.nn.Linear]
    logits: torch.nn.Linear
    branches: int
    branch_size: int
    critic_body: list[torch.nn.Linear]
    heads: list[torch.nn.Linear]
    parameters: list[torch.Tensor]

    @classmethod
    def of(cls, actor: Actor, critic: Critic, parameters: Sequence[torch.Tensor]) -> FusedLayers:
        logits = actor.action_model.logits_layer
        assert logits is not None
        return cls(
            list(actor.body.layers),
            logits,
            len(actor.action_model.branches),
            actor.action_model.max_branch,
            list(critic.body.layers),
            list(critic.value_heads.heads.values()),
            list(parameters),
        )


@torch.no_grad()
def encoder_features(
    actor: Actor, critic: Critic, obs: list[torch.Tensor]
) -> tuple[np.ndarray, np.ndarray]:
    """The actor's and the critic's encoder outputs, the inputs of :meth:`FusedDiscreteLoss.step`
    (computed once per update)."""
    return (
        np.ascontiguousarray(actor.encoder(obs).numpy()),
        np.ascontiguousarray(critic.encoder(obs).numpy()),
    )


class FusedDiscreteLoss:
    """PPO's loss and gradients for a qualifying actor and critic (see
    :func:`dojo_ppo.implementation.fast_path_refusal`).

    Args:
        layers: the networks' layers (:meth:`FusedLayers.of`); their parameters are read
            through numpy views, so they must keep their storage (updates in place, as Adam
            and ``load_state_dict`` do).
    """

    def __init__(self, layers: FusedLayers) -> None:
        self.parameters = layers.parameters
        self.branches = layers.branches
        self.branch_size = layers.branch_size
        self.grad = np.zeros(sum(p.numel() for p in self.parameters), np.float32)
        grad_views = views_like(torch.from_numpy(self.grad), self.parameters)
        grad_of = {id(p): g.numpy() for p, g in zip(self.parameters, grad_views, strict=True)}
        self._body = [_Dense(layer, grad_of) for layer in layers.body]
        self._logits = _Dense(layers.logits, grad_of)
        self._critic_body = [_Dense(layer, grad_of) for layer in layers.critic_body]
        # (Parameters the loss never reaches keep the buffer's initial zeros.)
        self._heads = [_Dense(head, grad_of) for head in layers.heads]

    def step(
        self,
        actor_x: np.ndarray,
        critic_x: np.ndarray,
        actions: np.ndarray,
        masks: np.ndarray | None,
        old_log_prob: np.ndarray,
        advantages: np.ndarray,
        returns: Sequence[np.ndarray],
        epsilon: float,
        beta: float,
    ) -> FusedResult:
        """Gradients of :func:`~dojo_ppo.loss.ppo_loss`'s total for one minibatch
        (float32 arrays): encoder outputs ``[N, features]``, actions ``[N, branches]`` int64,
        masks ``[N, sum(branches)]`` (1 = allowed) or ``None``, and one returns array per
        value head (in the critic's head order). The returned buffer is reused by the next
        call."""
        n = actor_x.shape[0]
        # Policy.
        hidden = tanh_layers(actor_x, self._body)
        logits = hidden[-1] @ self._logits.weight.T
        logits += self._logits.bias
        if masks is not None:
            logits[masks < 0.5] = MASKED_LOGIT
        z = logits.reshape(n, self.branches, self.branch_size)
        z -= z.max(axis=2, keepdims=True)
        probs = np.exp(z)
        total = probs.sum(axis=2, keepdims=True)
        probs /= total
        logp = z
        logp -= np.log(total)
        rows = np.arange(n)[:, None]
        branch = np.arange(self.branches)[None, :]
        log_prob = logp[rows, branch, actions].sum(axis=1)
        ratio = np.exp(log_prob - old_log_prob)
        unclipped = ratio * advantages
        clipped = np.clip(ratio, 1.0 - epsilon, 1.0 + epsilon) * advantages
        policy_loss = -float(np.minimum(unclipped, clipped).mean())
        # d loss / d log_prob, then / d logits (onehot - probs).
        d_log_prob = (unclipped <= clipped) * unclipped
        d_log_prob *= -1.0 / n
        d_logits = probs * -d_log_prob[:, None, None]
        d_logits[rows, branch, actions] += d_log_prob[:, None]
        if beta:
            entropy = -(probs * logp).sum(axis=2, keepdims=True)  # [N, branches, 1]
            d_logits += probs * (logp + entropy) * (beta / n)
        d_logits = d_logits.reshape(n, -1)
        np.matmul(d_logits.T, hidden[-1], out=self._logits.d_weight)
        d_logits.sum(0, out=self._logits.d_bias)
        _backward_tanh_layers(d_logits @ self._logits.weight, self._body, hidden)

        # Values: VALUE_LOSS_WEIGHT x the mean over heads of the mean squared error.
        critic_hidden = tanh_layers(critic_x, self._critic_body)
        features = critic_hidden[-1]
        scale = 2.0 * VALUE_LOSS_WEIGHT / (len(self._heads) * n)
        d_features = np.zeros_like(features)
        value_loss = 0.0
        for head, target in zip(self._heads, returns, strict=True):
            error = features @ head.weight[0]
            error += head.bias[0] - target
            value_loss += float(np.dot(error, error)) / n
            error *= scale  # d loss / d value
            np.matmul(error, features, out=head.d_weight[0])
            head.d_bias[0] = error.sum()
            d_features += np.multiply.outer(error, head.weight[0])
        _backward_tanh_layers(d_features, self._critic_body, critic_hidden)
        return FusedResult(self.grad, policy_loss, value_loss / len(self._heads))


class Epochs(NamedTuple):
    """One update's input: ``num_epoch`` passes over the rollout in shuffled minibatches of
    ``batch_size`` (:func:`~dojo_ppo.minibatches.epoch_minibatches`). Fields as
    :meth:`FusedDiscreteLoss.step` takes them; ``seed`` seeds the shuffles."""

    actor_x: np.ndarray
    critic_x: np.ndarray
    actions: np.ndarray
    masks: np.ndarray | None
    old_log_prob: np.ndarray
    advantages: np.ndarray
    returns: list[np.ndarray]
    num_epoch: int
    batch_size: int
    learning_rate: float
    epsilon: float
    beta: float
    max_grad_norm: float
    seed: int


def run_epochs(
    loss: FusedDiscreteLoss,
    optimizer: GradientAdam,
    flat_parameters: np.ndarray,
    lock: AbstractContextManager[Any],
    job: Epochs,
    on_minibatch: Callable[[np.ndarray | slice], None] | None = None,
) -> tuple[float, float]:
    """Run ``job``'s gradient steps (clipped joint gradient norm, Adam on the flat parameters,
    each step under ``lock``); ``on_minibatch`` gets every minibatch's rows after its step.
    Returns the mean policy and value losses."""
    rng = np.random.default_rng(job.seed)
    size = len(job.advantages)
    policy_total = value_total = 0.0
    updates = 0
    for _ in range(job.num_epoch):
        for rows in epoch_minibatches(rng, size, job.batch_size):
            result = loss.step(
                job.actor_x[rows],
                job.critic_x[rows],
                job.actions[rows],
                None if job.masks is None else job.masks[rows],
                job.old_log_prob[rows],
                job.advantages[rows],
                [r[rows] for r in job.returns],
                job.epsilon,
                job.beta,
            )
            with lock:
                optimizer.step_flat(
                    flat_parameters, result.grad, job.learning_rate, job.max_grad_norm
                )
            if on_minibatch is not None:
                on_minibatch(rows)
            policy_total += result.policy_loss
            value_total += result.value_loss
            updates += 1
    return policy_total / updates, value_total / updates
