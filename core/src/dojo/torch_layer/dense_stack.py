"""A stack of dense layers (ReLU or tanh) as one autograd node, with a hand-written backward.

Off-policy trainers update wide MLPs (256 x 256) at every environment step, so an update is a
few dozen small tensor operations around a dozen matrix products. Run through autograd layer
by layer, the bookkeeping between the products costs about as much as the products themselves
on a CPU. :func:`dense_stack` computes the same function as the usual
``Linear -> activation -> ... -> Linear`` modules but:

- records one autograd node for the whole stack instead of three or four per layer;
- computes only the gradients that are needed: no weight gradients for detached weights (a
  policy loss seen through frozen Q networks), no input gradient for inputs that need none;
- applies the activation in place and back-propagates it with one fused kernel
  (``threshold_backward`` / ``tanh_backward``) on the saved activations;
- computes tanh as ``2 sigmoid(2x) - 1``, which this PyTorch build runs about twice as fast
  as its ``tanh`` kernel on CPUs (equal to within float32 rounding);
- replaces the rank-1 matrix products of a one-unit output layer (a Q value) with
  broadcasting, which BLAS libraries run very slowly.

The same forward and backward passes are public as plain functions (:func:`stack_forward` /
:func:`stack_backward`, :func:`ensemble_forward` / :func:`ensemble_backward`) for losses whose
gradients are derived by hand (SAC's ``dojo_sac.fused_update``).

Weights use ``nn.Linear``'s layout, ``[out, in]``, so the stack can run on the parameters of
existing ``nn.Linear`` layers. Gradients equal autograd's (``tests/core/torch_layer``
checks them with ``torch.autograd.gradcheck`` in float64).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import partial
from typing import Any

import torch


def tanh_(x: torch.Tensor) -> torch.Tensor:
    """In-place tanh of ``x`` through the sigmoid kernel (about twice as fast on CPUs)."""
    return x.mul_(2.0).sigmoid_().mul_(2.0).sub_(1.0)


def stack_forward(
    x: torch.Tensor,
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor],
    tanh: bool = False,
    activate_last: bool = False,
) -> list[torch.Tensor]:
    """The layers of :func:`dense_stack` without autograd: every activation, input first
    (``[x, h_1, ..., out]``), as :func:`stack_backward` takes them."""
    activations = [x]
    h = x
    last = len(weights) - 1
    for i, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
        h = torch.addmm(bias, h, weight.t())
        if i < last or activate_last:
            h = tanh_(h) if tanh else h.relu_()
        activations.append(h)
    return activations


def stack_backward(
    grad: torch.Tensor,
    activations: Sequence[torch.Tensor],
    weights: Sequence[torch.Tensor],
    tanh: bool = False,
    activate_last: bool = False,
    weight_grads: bool = True,
    input_grad: bool = False,
) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
    """Back-propagate ``grad`` (of the output) through :func:`stack_forward`'s layers: the
    input gradient (if ``input_grad``) and, if ``weight_grads``, ``[dW_0, db_0, dW_1, ...]``."""
    n_layers = len(weights)
    grads: list[torch.Tensor] = [grad] * (2 * n_layers) if weight_grads else []
    g = grad
    for i in reversed(range(n_layers)):
        if i < n_layers - 1 or activate_last:
            if tanh:
                g = torch.ops.aten.tanh_backward(g, activations[i + 1])
            else:
                g = torch.ops.aten.threshold_backward(g, activations[i + 1], 0)
        weight = weights[i]
        if weight_grads:
            below = activations[i]
            # [out, in]; with few inputs (a first layer) BLAS is far faster at below^T @ g.
            if weight.shape[1] < weight.shape[0]:
                grads[2 * i] = (below.t() @ g).t().contiguous()
            else:
                grads[2 * i] = g.t() @ below
            grads[2 * i + 1] = g.sum(0)
        if i == 0 and not input_grad:
            return None, grads
        # g @ W, with a one-unit layer as a broadcast product instead of a rank-1 GEMM, and
        # a narrow input (a first layer) as (W^T g^T)^T, which BLAS runs far faster.
        if weight.shape[0] == 1:
            g = g * weight
        elif weight.shape[1] < weight.shape[0]:
            g = (weight.t() @ g.t()).t()
        else:
            g = g @ weight
    return g, grads


def _asked_for(grads: Sequence[torch.Tensor], needs: Sequence[bool]) -> list[torch.Tensor | None]:
    """The parameter gradients autograd asked for (``needs``), ``None`` for the others (all of
    them when the backward pass computed none: ``grads`` empty)."""
    if not grads:
        return [None] * len(needs)
    return [g if need else None for g, need in zip(grads, needs, strict=True)]


class _DenseStack(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, activate_last: bool, tanh: bool, *params: torch.Tensor
    ) -> Any:
        activations = stack_forward(x, params[0::2], params[1::2], tanh, activate_last)
        ctx.activate_last = activate_last
        ctx.tanh = tanh
        ctx.save_for_backward(*activations, *params)
        ctx.n_layers = len(params) // 2
        return activations[-1]

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        n_layers = ctx.n_layers
        saved = ctx.saved_tensors
        activations, params = saved[: n_layers + 1], saved[n_layers + 1 :]
        needs = ctx.needs_input_grad  # (x, activate_last, tanh, W0, b0, W1, b1, ...)
        grad_x, grads = stack_backward(
            grad, activations, params[0::2], ctx.tanh, ctx.activate_last, any(needs[3:]), needs[0]
        )
        return (grad_x, None, None, *_asked_for(grads, needs[3:]))


def dense_stack(
    x: torch.Tensor,
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor],
    activation: str = "relu",
    activate_last: bool = False,
) -> torch.Tensor:
    """``x`` ``[n, in]`` through ``Linear(W_i, b_i)`` layers with ``activation`` (``"relu"`` or
    ``"tanh"``) between them, and after the last one if ``activate_last``; weights
    ``[out, in]``, biases ``[out]``.

    Pass detached weights to get no gradient for them (their products are then skipped).
    """
    if activation not in ("relu", "tanh"):
        raise ValueError(f"unknown activation {activation!r}: use 'relu' or 'tanh'")
    params: list[torch.Tensor] = []
    for weight, bias in zip(weights, biases, strict=True):
        params += [weight, bias]
    return _DenseStack.apply(x, activate_last, activation == "tanh", *params)


def dense_relu_stack(
    x: torch.Tensor,
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor],
    activate_last: bool = False,
) -> torch.Tensor:
    """:func:`dense_stack` with ReLU activations."""
    return dense_stack(x, weights, biases, "relu", activate_last)


def ensemble_forward(
    x: torch.Tensor, weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor]
) -> list[torch.Tensor]:
    """The layers of :func:`ensemble_relu_stack` without autograd: every member's activations
    ``[k, n, width]`` per layer, the output ``[k, n, out]`` last, as :func:`ensemble_backward`
    takes them."""
    n_layers = len(weights)
    first, first_bias = weights[0], biases[0]  # [k, out, in], [k, out]
    k, width = first.shape[0], first.shape[1]
    n = x.shape[0]
    # The first layer of every member in one product: [n, k * out].
    flat = torch.addmm(first_bias.reshape(-1), x, first.reshape(k * width, -1).t())
    if n_layers > 1:
        flat.relu_()
    h = flat.view(n, k, width).transpose(0, 1)  # [k, n, out], a view of flat
    activations = [h]
    for i in range(1, n_layers):
        weight, bias = weights[i], biases[i]
        if weight.shape[1] == 1:
            # One output unit: a broadcast product (a [n, in] x [in, 1] GEMM is slow).
            h = (h * weight).sum(-1, keepdim=True) + bias.unsqueeze(1)
        else:
            h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
        if i < n_layers - 1:
            h.relu_()
        activations.append(h)
    if n_layers == 1:
        activations[-1] = h.contiguous()
    return activations


def ensemble_backward(
    grad: torch.Tensor,
    x: torch.Tensor,
    activations: Sequence[torch.Tensor],
    weights: Sequence[torch.Tensor],
    weight_grads: bool = True,
    input_grad: bool = False,
    submit: Callable[[Callable[[], torch.Tensor]], Future[torch.Tensor]] | None = None,
) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
    """Back-propagate ``grad`` ``[k, n, out]`` through :func:`ensemble_forward`'s layers: the
    input gradient ``[n, in]`` (if ``input_grad``) and, if ``weight_grads``, ``[dW_0, db_0,
    dW_1, ...]`` shaped like the stacked parameters.

    ``submit`` (e.g. an idle thread pool's ``submit``) takes the last member's hidden-layer
    weight products, so they run beside the rest of the backward pass."""
    n_layers = len(weights)
    grads: list[torch.Tensor] = [grad] * (2 * n_layers) if weight_grads else []
    pending: list[Future[torch.Tensor]] = []
    g = grad
    for i in reversed(range(1, n_layers)):
        if i < n_layers - 1:
            g = torch.ops.aten.threshold_backward(g, activations[i], 0)
        weight, below = weights[i], activations[i - 1]
        one_unit = weight.shape[1] == 1
        if weight_grads:
            if one_unit:
                grads[2 * i] = (g * below).sum(1, keepdim=True)
            elif submit is not None:
                out = torch.empty_like(weight)
                members = range(out.shape[0] - 1)
                pending.append(submit(partial(torch.mm, g[-1].t(), below[-1], out=out[-1])))
                for member in members:
                    torch.mm(g[member].t(), below[member], out=out[member])
                grads[2 * i] = out
            else:
                grads[2 * i] = torch.bmm(g.transpose(1, 2), below)
            grads[2 * i + 1] = g.sum(1)
        g = g * weight if one_unit else torch.bmm(g, weight)
    first = weights[0]
    k, width = first.shape[0], first.shape[1]
    if n_layers > 1:
        g = torch.ops.aten.threshold_backward(g, activations[0], 0)
    g = g.transpose(0, 1).reshape(x.shape[0], k * width)  # [n, k * out]
    if weight_grads:
        # [k * out, in]; with few inputs BLAS is far faster at x^T @ g.
        if x.shape[1] < k * width:
            grads[0] = (x.t() @ g).t().reshape(first.shape)
        else:
            grads[0] = (g.t() @ x).reshape(first.shape)
        grads[1] = g.sum(0).view(k, width)
    grad_x = None
    if input_grad:
        flat_weight = first.reshape(k * width, -1)
        grad_x = (flat_weight.t() @ g.t()).t() if x.shape[1] < k * width else g @ flat_weight
    for future in pending:
        future.result()
    return grad_x, grads


class _EnsembleDenseStack(torch.autograd.Function):
    """``k`` ReLU stacks of the same shape over one shared input (SAC's twin Q networks)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, *params: torch.Tensor) -> Any:
        activations = ensemble_forward(x, params[0::2], params[1::2])
        ctx.save_for_backward(x, *activations, *params)
        ctx.n_layers = len(params) // 2
        return activations[-1]

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        n_layers = ctx.n_layers
        saved = ctx.saved_tensors
        x = saved[0]
        activations = saved[1 : 1 + n_layers]
        params = saved[1 + n_layers :]
        needs = ctx.needs_input_grad  # (x, W0, b0, W1, b1, ...)
        grad_x, grads = ensemble_backward(
            grad, x, activations, params[0::2], any(needs[1:]), needs[0]
        )
        return (grad_x, *_asked_for(grads, needs[1:]))


def ensemble_relu_stack(
    x: torch.Tensor, weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor]
) -> torch.Tensor:
    """``k`` networks of ``Linear -> ReLU -> ... -> Linear`` layers over one input ``x``
    ``[n, in]``, as one autograd node: ``[k, n, out]``. Weights ``[k, out, in]`` and biases
    ``[k, out]`` hold the members' layers (``weights[i][j]`` is member ``j``'s layer ``i`` in
    ``nn.Linear``'s layout).

    The same function as :func:`dense_relu_stack` run once per member, in fewer operations:
    the first layers of all members are one product, later layers one batched product each.
    """
    params: list[torch.Tensor] = []
    for weight, bias in zip(weights, biases, strict=True):
        params += [weight, bias]
    return _EnsembleDenseStack.apply(x, *params)
