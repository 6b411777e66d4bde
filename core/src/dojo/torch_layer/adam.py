"""Adam for trainers that compute their gradients themselves (``torch.autograd.grad``).

Same update as ``torch.optim.Adam(fused=True)`` (no weight decay, no AMSGrad), and the same
fused kernel, without the per-step work of the ``Optimizer`` machinery (hooks, grouping tensors
by device and dtype, reading ``.grad``): an off-policy trainer steps its optimizers at every
environment step, where that machinery costs as much as the kernel. Gradients are passed in,
so no ``.grad`` needs zeroing, and two instances can step disjoint parameter sets from two
threads.

:meth:`GradientAdam.step_flat` runs the same update with numpy on parameters kept in one flat
buffer (:mod:`dojo.torch_layer.flat_parameters`), together with gradient-norm clipping: a
dozen whole-buffer operations however many parameters there are, for small networks whose
per-parameter kernel launches cost more than their arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from dojo.torch_layer.flat_parameters import views_like


class GradientAdam:
    """Adam over ``params``; :meth:`step` takes one gradient per parameter.

    Args:
        params: the parameters, updated in place.
        betas, eps: as ``torch.optim.Adam``.
        shared: keep the moments and the step count in shared memory (CPU), so a child process
            can be handed this optimizer and step it.
    """

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        shared: bool = False,
    ) -> None:
        self.params = list(params)
        self.betas = betas
        self.eps = eps
        # Each moment in one buffer, with a view per parameter (what the fused kernel and
        # the checkpoints see); :meth:`step_flat` updates the buffers whole.
        size = sum(p.numel() for p in self.params)
        first = self.params[0] if self.params else torch.zeros(())
        self._exp_avg_flat = torch.zeros(size, dtype=first.dtype, device=first.device)
        self._exp_avg_sq_flat = torch.zeros_like(self._exp_avg_flat)
        if shared:
            self._exp_avg_flat.share_memory_()
            self._exp_avg_sq_flat.share_memory_()
        self.exp_avg = views_like(self._exp_avg_flat, self.params)
        self.exp_avg_sq = views_like(self._exp_avg_sq_flat, self.params)
        # One step counter shared by all parameters (they always step together).
        self._step = torch.zeros((), device=first.device)
        if shared:
            self._step.share_memory_()
        self._scratch: np.ndarray | None = None

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

    def step_flat(
        self, params: np.ndarray, grad: np.ndarray, lr: float, max_norm: float | None = None
    ) -> float:
        """:meth:`step` for CPU parameters laid out in one flat buffer, in the order this
        optimizer was given them: ``params`` is that buffer as a numpy array (updated in
        place), ``grad`` the gradients in the same layout. With ``max_norm`` the gradient is
        first scaled (in place) so its L2 norm is at most ``max_norm``, as
        :func:`clip_gradient_norm`. Returns the norm before clipping."""
        m = self._exp_avg_flat.numpy()
        v = self._exp_avg_sq_flat.numpy()
        if params.shape != m.shape or grad.shape != m.shape:
            raise ValueError(
                f"step_flat needs buffers of {m.size} values, got {params.size} and {grad.size}"
            )
        norm = float(np.sqrt(np.dot(grad, grad)))
        if max_norm is not None and norm > max_norm:
            grad *= np.float32(max_norm / (norm + 1e-6))
        self._step += 1
        step = float(self._step)
        beta1, beta2 = self.betas
        if self._scratch is None:
            self._scratch = np.empty_like(m)
        scratch = self._scratch
        # exp_avg += (1 - beta1) (grad - exp_avg)   (torch: lerp)
        np.subtract(grad, m, out=scratch)
        scratch *= np.float32(1.0 - beta1)
        m += scratch
        # exp_avg_sq = beta2 exp_avg_sq + (1 - beta2) grad^2
        v *= np.float32(beta2)
        np.multiply(grad, grad, out=scratch)
        scratch *= np.float32(1.0 - beta2)
        v += scratch
        # param -= lr / bc1 * exp_avg / (sqrt(exp_avg_sq) / sqrt(bc2) + eps)
        np.sqrt(v, out=scratch)
        scratch *= np.float32(1.0 / np.sqrt(1.0 - beta2**step))
        scratch += np.float32(self.eps)
        np.divide(m, scratch, out=scratch)
        scratch *= np.float32(lr / (1.0 - beta1**step))
        params -= scratch
        return norm

    def state_dict(self) -> dict[str, Any]:
        """Moments and step count (tensors only: loads with ``weights_only``)."""
        return {
            "step": self._step.clone(),
            "exp_avg": [t.clone() for t in self.exp_avg],
            "exp_avg_sq": [t.clone() for t in self.exp_avg_sq],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output.

        Raises:
            ValueError: the saved moments are not one per parameter with the parameters'
                shapes (saved for other networks); nothing was changed.
        """
        for name in ("exp_avg", "exp_avg_sq"):
            saved = state[name]
            if len(saved) != len(self.params):
                raise ValueError(f"{len(saved)} saved {name} for {len(self.params)} parameters")
            for i, (moment, param) in enumerate(zip(saved, self.params, strict=True)):
                if moment.shape != param.shape:
                    raise ValueError(
                        f"saved {name}[{i}] is {list(moment.shape)}, parameter {i} is "
                        f"{list(param.shape)}"
                    )
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
