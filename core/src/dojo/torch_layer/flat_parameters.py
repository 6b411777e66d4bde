"""Parameters kept in one contiguous buffer, for updates written as whole-buffer operations.

A trainer that computes its gradients itself (PPO's hand-derived loss) can write every
parameter's gradient into one flat buffer and then clip the joint norm and step Adam in a
handful of operations on that buffer, instead of a few per parameter: on small networks those
per-parameter operations cost more than the arithmetic. :func:`flatten_parameters` moves the
parameters into such a buffer; each parameter stays an ordinary ``nn.Parameter`` whose data is
a view of it, so modules, ``state_dict``/``load_state_dict`` (which copy in place), ONNX export
and autograd see no difference.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def flatten_parameters(params: Sequence[torch.Tensor], shared: bool = False) -> torch.Tensor:
    """Move ``params`` (same device and dtype, each listed once) into one new contiguous buffer,
    in order, and return it; every parameter's data becomes a view of it. ``shared`` puts the
    buffer in shared memory (CPU), so a child process can be handed the parameters."""
    if not params:
        raise ValueError("flatten_parameters needs at least one parameter")
    if len({id(p) for p in params}) != len(params):
        raise ValueError("flatten_parameters got the same parameter twice")
    first = params[0]
    if any(p.device != first.device or p.dtype != first.dtype for p in params):
        raise ValueError("flatten_parameters needs parameters of one device and dtype")
    flat = torch.empty(sum(p.numel() for p in params), dtype=first.dtype, device=first.device)
    if shared:
        flat.share_memory_()
    with torch.no_grad():
        for p, view in zip(params, views_like(flat, params), strict=True):
            view.copy_(p)
            p.data = view
    return flat


def views_like(flat: torch.Tensor, params: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Consecutive views of the 1-d tensor ``flat`` shaped like ``params`` (the layout of
    :func:`flatten_parameters`)."""
    total = sum(p.numel() for p in params)
    if flat.dim() != 1 or flat.numel() != total:
        raise ValueError(f"views_like needs a 1-d buffer of {total} values, got {flat.shape}")
    if not params:
        return []
    return [
        view.view_as(p)
        for view, p in zip(torch.split(flat, [p.numel() for p in params]), params, strict=True)
    ]
