"""The fused dense ReLU stack and the gradient-taking Adam equal their PyTorch counterparts."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from torch import nn

from dojo.torch_layer.adam import GradientAdam
from dojo.torch_layer.dense_stack import (
    dense_relu_stack,
    dense_stack,
    ensemble_backward,
    ensemble_forward,
    ensemble_relu_stack,
)


def _stack(sizes: list[int], dtype: torch.dtype = torch.float64) -> nn.ModuleList:
    torch.manual_seed(0)
    return nn.ModuleList(nn.Linear(i, o, dtype=dtype) for i, o in itertools.pairwise(sizes))


def _reference(
    layers: nn.ModuleList, x: torch.Tensor, activate_last: bool, activation: str = "relu"
) -> torch.Tensor:
    act = torch.relu if activation == "relu" else torch.tanh
    for i, layer in enumerate(layers):
        x = layer(x)
        if i < len(layers) - 1 or activate_last:
            x = act(x)
    return x


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("activate_last", [False, True])
@pytest.mark.parametrize("sizes", [[4, 16, 16, 1], [3, 8, 5], [12, 6, 6, 6, 3]])
def test_gradients_equal_autograd_through_linear_layers(
    sizes: list[int], activate_last: bool, activation: str
) -> None:
    layers = _stack(sizes)
    x = torch.randn(9, sizes[0], dtype=torch.float64, requires_grad=True)
    params = [p for layer in layers for p in (layer.weight, layer.bias)]

    weights = [lay.weight for lay in layers]
    biases = [lay.bias for lay in layers]
    out = dense_stack(x, weights, biases, activation, activate_last)
    expected = _reference(layers, x, activate_last, activation)
    torch.testing.assert_close(out, expected)
    seen = torch.randn_like(out)
    mine = torch.autograd.grad((out * seen).sum(), [x, *params])
    theirs = torch.autograd.grad((expected * seen).sum(), [x, *params])
    for a, b in zip(mine, theirs, strict=True):
        torch.testing.assert_close(a, b)
    # Finite differences too (float64), for the input and every weight.
    assert torch.autograd.gradcheck(
        lambda x, *p: dense_stack(x, p[0::2], p[1::2], activation, activate_last), (x, *params)
    )


@pytest.mark.parametrize("members", [2, 3])
@pytest.mark.parametrize("sizes", [[4, 16, 16, 1], [3, 8, 5], [6, 3], [20, 7, 7, 2]])
def test_ensemble_equals_its_members_run_one_by_one(sizes: list[int], members: int) -> None:
    torch.manual_seed(1)
    pairs = list(itertools.pairwise(sizes))
    weights = [
        torch.randn(members, o, i, dtype=torch.float64, requires_grad=True) for i, o in pairs
    ]
    biases = [torch.randn(members, o, dtype=torch.float64, requires_grad=True) for _, o in pairs]
    x = torch.randn(9, sizes[0], dtype=torch.float64, requires_grad=True)

    out = ensemble_relu_stack(x, weights, biases)

    def member(j: int) -> torch.Tensor:
        h = x
        for i, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
            h = nn.functional.linear(h, weight[j], bias[j])
            h = h if i == len(weights) - 1 else torch.relu(h)
        return h

    expected = torch.stack([member(j) for j in range(members)])
    torch.testing.assert_close(out, expected)
    seen = torch.randn_like(out)
    params = [*weights, *biases]
    mine = torch.autograd.grad((out * seen).sum(), [x, *params])
    theirs = torch.autograd.grad((expected * seen).sum(), [x, *params])
    for a, b in zip(mine, theirs, strict=True):
        torch.testing.assert_close(a, b)
    n = len(weights)
    assert torch.autograd.gradcheck(
        lambda x, *p: ensemble_relu_stack(x, p[:n], p[n:]), (x, *params)
    )


@pytest.mark.parametrize("members", [2, 3])
def test_ensemble_backward_with_a_helper_thread_equals_it_alone(members: int) -> None:
    """The last member's hidden weight products on another thread: the same gradients."""
    torch.manual_seed(2)
    sizes = [4, 32, 32, 1]
    weights = [torch.randn(members, o, i) for i, o in itertools.pairwise(sizes)]
    biases = [torch.randn(members, o) for o in sizes[1:]]
    x = torch.randn(16, sizes[0])
    layers = ensemble_forward(x, weights, biases)
    grad = torch.randn_like(layers[-1])
    alone = ensemble_backward(grad, x, layers, weights, input_grad=True)
    with ThreadPoolExecutor(1) as pool:
        helped = ensemble_backward(grad, x, layers, weights, input_grad=True, submit=pool.submit)
    torch.testing.assert_close(helped[0], alone[0])
    assert len(helped[1]) == len(alone[1]) == 2 * (len(sizes) - 1)
    for a, b in zip(helped[1], alone[1], strict=True):
        torch.testing.assert_close(a, b)


def test_gradient_adam_takes_transposed_gradients() -> None:
    # A gradient that is a transposed view must update each parameter entry with its own value.
    grad = torch.tensor([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]]).t()  # [3, 2], not contiguous
    ours = torch.zeros(3, 2)
    GradientAdam([ours]).step([grad], 0.1)
    theirs = torch.zeros(3, 2, requires_grad=True)
    theirs.grad = grad.contiguous()
    torch.optim.Adam([theirs], lr=0.1).step()
    torch.testing.assert_close(ours, theirs.detach())


def test_float32_tanh_matches_torch_tanh() -> None:
    layers = _stack([8, 64, 64], dtype=torch.float32)
    x = torch.randn(256, 8) * 3
    out = dense_stack(x, [lay.weight for lay in layers], [lay.bias for lay in layers], "tanh", True)
    torch.testing.assert_close(out, _reference(layers, x, True, "tanh"), atol=1e-6, rtol=0)


def test_detached_weights_get_no_gradient_but_the_input_does() -> None:
    layers = _stack([4, 16, 16, 1])
    x = torch.randn(9, 4, dtype=torch.float64, requires_grad=True)
    out = dense_relu_stack(
        x, [lay.weight.detach() for lay in layers], [lay.bias.detach() for lay in layers]
    )
    out.sum().backward()
    assert all(p.grad is None for p in layers.parameters())
    (expected,) = torch.autograd.grad(_reference(layers, x, False).sum(), [x])
    torch.testing.assert_close(x.grad, expected)


def test_gradient_adam_follows_torch_adam_and_restores_its_state() -> None:
    torch.manual_seed(0)
    ours = [torch.randn(5, 3), torch.randn(3)]
    theirs = [p.clone().requires_grad_() for p in ours]
    reference = torch.optim.Adam(theirs, lr=3e-3)
    adam = GradientAdam(ours)
    for step in range(6):
        grads = [torch.randn_like(p) for p in ours]
        for p, g in zip(theirs, grads, strict=True):
            p.grad = g.clone()
        reference.step()
        adam.step(grads, lr=3e-3)
        for a, b in zip(ours, theirs, strict=True):
            torch.testing.assert_close(a, b.detach(), msg=f"step {step}")
    assert adam.steps == 6

    restored = GradientAdam([p.clone() for p in ours])
    restored.load_state_dict(adam.state_dict())
    grads = [torch.ones_like(p) for p in ours]
    adam.step(grads, lr=1e-2)
    restored.step(grads, lr=1e-2)
    for a, b in zip(adam.params, restored.params, strict=True):
        torch.testing.assert_close(a, b)
