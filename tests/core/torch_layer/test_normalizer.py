"""RunningNormalizer: statistics equal numpy's, normalisation and clipping, state_dict."""

from __future__ import annotations

import numpy as np
import torch

from dojo.torch_layer.normalizer import RunningNormalizer


def test_statistics_equal_numpy_over_uneven_batches() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(loc=[3.0, -2.0, 0.0], scale=[0.5, 4.0, 1.0], size=(1000, 3))
    data[600:] += 10.0  # a distribution shift mid-way must not bias the running statistics
    normalizer = RunningNormalizer(3)
    start = 0
    for size in (1, 7, 64, 300, 2, 626):
        normalizer.update(torch.tensor(data[start : start + size], dtype=torch.float32))
        start += size
        seen = data[:start]
        np.testing.assert_allclose(normalizer.mean.numpy(), seen.mean(axis=0), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(normalizer.var.numpy(), seen.var(axis=0), rtol=1e-5, atol=1e-6)
    assert normalizer.count.item() == 1000


def test_single_batch_matches_numpy_and_empty_batch_is_ignored() -> None:
    data = np.random.default_rng(1).uniform(-4, 9, size=(257, 5)).astype(np.float32)
    normalizer = RunningNormalizer(5)
    normalizer.update(torch.from_numpy(data))
    normalizer.update(torch.zeros(0, 5))
    np.testing.assert_allclose(normalizer.mean.numpy(), data.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(normalizer.var.numpy(), data.var(axis=0), rtol=1e-5)


def test_forward_normalizes_and_clips_to_five_std() -> None:
    data = torch.randn(500, 2) * torch.tensor([2.0, 0.1]) + torch.tensor([1.0, -3.0])
    normalizer = RunningNormalizer(2)
    normalizer.update(data)
    out = normalizer(data)
    assert torch.allclose(out.mean(dim=0), torch.zeros(2), atol=1e-4)
    assert torch.allclose(out.std(dim=0, unbiased=False), torch.ones(2), atol=1e-3)
    outlier = normalizer(torch.tensor([[1e6, -1e6]]))
    assert outlier.tolist() == [[5.0, -5.0]]


def test_identity_before_update_and_constant_feature_is_finite() -> None:
    normalizer = RunningNormalizer(2)
    x = torch.tensor([[0.5, -1.5]])
    assert torch.allclose(normalizer(x), x)
    normalizer.update(torch.tensor([[1.0, 2.0], [1.0, 3.0]]))
    out = normalizer(torch.tensor([[1.0, 2.5]]))
    assert torch.isfinite(out).all()
    assert out[0, 0].item() == 0.0


def test_state_dict_round_trip_restores_statistics_and_output() -> None:
    source = RunningNormalizer(3)
    source.update(torch.randn(100, 3) * 3 + 1)
    target = RunningNormalizer(3)
    target.load_state_dict(source.state_dict())
    assert set(source.state_dict()) == {"count", "mean", "var"}
    x = torch.randn(4, 3)
    assert torch.equal(target(x), source(x))
    assert target.count.item() == 100
