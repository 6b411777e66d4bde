"""Running mean/variance normalisation of vector observations (``network_settings.normalize``).

The statistics live in registered buffers, so they are saved with the module's ``state_dict``
and baked into the exported ONNX graph as constants: a model normalises its inputs in Unity
exactly as it did during training.
"""

from __future__ import annotations

import torch
from torch import nn

# ML-Agents clips normalised observations to +-5 standard deviations: one outlier observation
# cannot saturate the network.
NORMALIZED_CLIP = 5.0


def _refresh_after_load(module: RunningNormalizer, incompatible_keys: object) -> None:
    del incompatible_keys
    module._refresh_inv_std()


class RunningNormalizer(nn.Module):
    """Normalises ``[n, size]`` inputs to ``(x - mean) / sqrt(var + eps)``, clipped to +-5.

    Before the first :meth:`update` the mean is 0 and the variance 1, so the module passes inputs
    through (clipped). :meth:`update` merges a batch into the running statistics with the
    parallel (Chan et al.) form of Welford's algorithm; the result equals the mean and the
    population variance (``ddof=0``) of every row seen so far, whatever the batch sizes.

    Args:
        size: number of features (last dimension of the input).
        eps: added to the variance before the square root, so constant features map to 0
            instead of dividing by zero.
    """

    def __init__(self, size: int, eps: float = 1e-8) -> None:
        super().__init__()
        self.size = size
        self.eps = eps
        # float64 count: a float32 count stops increasing exactly after 2**24 rows.
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("var", torch.ones(size))
        # 1 / sqrt(var + eps), derived from ``var``: cached because forward runs once per
        # environment step; refreshed after every update and every load_state_dict.
        self.register_buffer("inv_std", torch.ones(size), persistent=False)
        self._refresh_inv_std()
        self.register_load_state_dict_post_hook(_refresh_after_load)

    @torch.no_grad()
    def _refresh_inv_std(self) -> None:
        self.inv_std.copy_(torch.rsqrt(self.var + self.eps))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Merge the rows of ``x`` (``[n, size]``) into the running mean and variance."""
        x = x.reshape(-1, self.size).to(torch.float64)
        batch_count = x.shape[0]
        if batch_count == 0:
            return
        batch_mean = x.mean(dim=0)
        batch_var = x.var(dim=0, unbiased=False)
        old_count = self.count
        old_mean = self.mean.to(torch.float64)
        total = old_count + batch_count
        delta = batch_mean - old_mean
        new_mean = old_mean + delta * (batch_count / total)
        # Sum of squared deviations of both parts plus the correction for their means differing.
        m2 = (
            self.var.to(torch.float64) * old_count
            + batch_var * batch_count
            + delta.square() * (old_count * batch_count / total)
        )
        self.mean.copy_(new_mean)
        self.var.copy_(m2 / total)
        self.count.copy_(total)
        self._refresh_inv_std()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised ``x``: same shape, each feature in standard deviations, within +-5."""
        normalized = (x - self.mean) * self.inv_std
        return torch.clamp(normalized, -NORMALIZED_CLIP, NORMALIZED_CLIP)
