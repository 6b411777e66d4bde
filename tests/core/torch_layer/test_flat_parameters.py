"""Parameters in one flat buffer, and Adam's whole-buffer numpy step on them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dojo.torch_layer.adam import GradientAdam
from dojo.torch_layer.flat_parameters import flatten_parameters


def small_network() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))


def test_flattened_parameters_keep_their_values_and_share_the_buffer() -> None:
    network = small_network()
    x = torch.randn(4, 3)
    before = network(x).detach().clone()
    params = list(network.parameters())
    flat = flatten_parameters(params)
    assert flat.numel() == sum(p.numel() for p in params)
    torch.testing.assert_close(network(x), before)
    # Writing the buffer changes the network; loading a state dict writes the buffer.
    flat.zero_()
    assert (network(x) == 0).all()
    network.load_state_dict(small_network().state_dict())
    torch.testing.assert_close(network(x), before)
    assert flat.abs().sum() > 0


def test_flatten_refuses_a_parameter_listed_twice() -> None:
    layer = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="twice"):
        flatten_parameters([layer.weight, layer.weight])


def test_step_flat_equals_clipped_torch_adam() -> None:
    ours, theirs = small_network(), small_network()
    ours_params = list(ours.parameters())
    flat = flatten_parameters(ours_params).numpy()
    adam = GradientAdam(ours_params, eps=1e-5)
    reference = torch.optim.Adam(theirs.parameters(), lr=1e-2, eps=1e-5)
    generator = torch.Generator().manual_seed(1)
    for step in range(5):
        # Large gradients on odd steps: clipping to norm 0.5 then matters.
        grads = [
            torch.randn(p.shape, generator=generator) * (10 if step % 2 else 0.01)
            for p in ours_params
        ]
        for p, g in zip(theirs.parameters(), grads, strict=True):
            p.grad = g.clone()
        norm = torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.5)
        reference.step()
        flat_grad = torch.cat([g.reshape(-1) for g in grads]).numpy()
        assert adam.step_flat(flat, flat_grad, 1e-2, max_norm=0.5) == pytest.approx(
            float(norm), rel=1e-5
        )
        for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
            torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-5, atol=1e-6)
    assert adam.steps == 5
    # The moments live in the optimizer's state like those of step().
    state = adam.state_dict()
    for moment, p in zip(state["exp_avg"], theirs.parameters(), strict=True):
        torch.testing.assert_close(moment, reference.state[p]["exp_avg"], rtol=1e-5, atol=1e-7)


def test_step_flat_rejects_a_buffer_of_another_size() -> None:
    params = list(small_network().parameters())
    flat = flatten_parameters(params).numpy()
    with pytest.raises(ValueError, match="buffers of 32 values, got 32 and 5"):
        GradientAdam(params).step_flat(flat, np.zeros(5, np.float32), 1e-3)
