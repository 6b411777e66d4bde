"""Suite-wide settings."""

from __future__ import annotations

import torch

# The networks in tests are tiny: one thread is faster than two and does not fight the
# environment or a parallel test process for the CPU (training runs do the same by default).
torch.set_num_threads(1)
