"""Adam for trainers that compute their gradients themselves (``torch.autograd.grad``).

Same update as ``torch.optim.Adam(fused=True)`` (no weight decay, no AMSGrad), and the same
fused kernel, without the per-step work of the ``Optimizer`` machinery (hooks, grouping tensors
by device and dtype, reading ``.grad``): an off-policy trainer steps its optimizers at every
environment step, where that machinery costs as much as the kernel. Gradients are passed in,
so no ``.grad`` needs zeroing, and two instances can step disjoint parameter sets from two
threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


class GradientAdam:
    """Adam over ``params``; :meth:`step` takes one gradient per parameter.

    Args:
        params: the parameters, updated in place.
        betas, eps: as ``torch.optim.Adam``.
    """

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = list(params)
        self.betas = betas
        self.eps = eps
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        # One step counter shared by all parameters (they always step together).
        self._step = torch.zeros((), device=self.params[0].device if self.params else "cpu")

    @property
    def steps(self) -> int:
        """Updates applied so far."""
        return int(self._step)

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor], lr: float) -> None:
        """Apply one Adam update with learning rate ``lr``."""
        self._step += 1
        torch._fused_adam_(
            self.params,
            # The fused kernel reads a gradient's memory as if laid out like its parameter: a
            # transposed view (a hand-written backward's x^T g) would be applied scrambled.
            [g if g.is_contiguous() else g.contiguous() for g in grads],
            self.exp_avg,
            self.exp_avg_sq,
            [],
            [self._step] * len(self.params),
            lr=lr,
            beta1=self.betas[0],
            beta2=self.betas[1],
            weight_decay=0.0,
            eps=self.eps,
            amsgrad=False,
            maximize=False,
        )

    def state_dict(self) -> dict[str, Any]:
        """Moments and step count (tensors only: loads with ``weights_only``)."""
        return {
            "step": self._step.clone(),
            "exp_avg": [t.clone() for t in self.exp_avg],
            "exp_avg_sq": [t.clone() for t in self.exp_avg_sq],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output (shapes must match)."""
        for mine, saved in zip(self.exp_avg, state["exp_avg"], strict=True):
            mine.copy_(saved)
        for mine, saved in zip(self.exp_avg_sq, state["exp_avg_sq"], strict=True):
            mine.copy_(saved)
        self._step.copy_(state["step"])


@torch.no_grad()
def clip_gradient_norm(grads: Sequence[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Scale ``grads`` in place so their joint L2 norm is at most ``max_norm`` (as
    ``torch.nn.utils.clip_grad_norm_``, on gradients instead of ``.grad``). Returns the norm
    before clipping."""
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(list(grads))))
    torch._foreach_mul_(list(grads), torch.clamp(max_norm / (total + 1e-6), max=1.0))
    return total
