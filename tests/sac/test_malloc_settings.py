"""dojo.training.allocator: with its malloc thresholds, SAC updates fault in far fewer fresh
pages (the cost it removes). Each measurement runs in its own process: the settings are
process-wide."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import resource, sys, tempfile
from pathlib import Path
import numpy as np, torch
torch.set_num_threads(1)
if sys.argv[1] == "keep":
    from dojo.training.allocator import keep_freed_memory
    assert keep_freed_memory(), "mallopt refused the thresholds"
from dojo.envs.base import ActionSpec, BehaviorSpec, ObservationSpec
from dojo_sac.trainer import SACTrainer
from tests.sac.test_trainer import sac_settings
from tests.training_helpers import build_trainer
spec = BehaviorSpec((ObservationSpec((3,)),), ActionSpec(continuous_size=1))
settings = sac_settings({"hidden_units": 256}, batch_size=256)
trainer = build_trainer(SACTrainer, spec, settings, Path(tempfile.mkdtemp()))
rng = np.random.default_rng(0)
def batch():
    return {"obs/0": rng.standard_normal((256, 3), np.float32),
            "next_obs/0": rng.standard_normal((256, 3), np.float32),
            "continuous": rng.uniform(-1, 1, (256, 1)).astype(np.float32),
            "rewards/extrinsic": rng.standard_normal(256, np.float32),
            "done": np.zeros(256, np.float32)}
for _ in range(30):
    trainer.update(batch())
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    trainer.update(batch())
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 200)
trainer.close()
"""


def faults_per_update(mode: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_malloc_thresholds_cut_the_page_faults_of_sac_updates() -> None:
    # The counts vary from process to process (10 to 50 per update here with the thresholds, 55
    # to 110 without): compare totals over three processes each.
    default = kept = 0.0
    for _ in range(3):
        default += faults_per_update("default")
        kept += faults_per_update("keep")
    assert default > 3 * 20, f"expected fresh pages at every update by default: {default:.1f}"
    assert kept < 0.75 * default, (default, kept)
