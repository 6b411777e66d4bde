"""SAC tests run with one torch thread, as ``mlagents-learn`` does by default: on a 2-core machine
shared with the environment (and other test processes), more threads only wait for each other."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "install: builds a fresh virtual environment and pip-installs dojo (~1 min)"
    )
