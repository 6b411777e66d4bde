"""Killing one of four player processes mid-run: restarted, logged, training goes on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .conftest import free_port, serve_script

MLAGENTS_LEARN = str(Path(sys.executable).parent / "mlagents-learn")

CONFIG = """
behaviors:
  CartPole:
    trainer_type: ppo
    hyperparameters: {batch_size: 128, buffer_size: 256, num_epoch: 3, learning_rate: 1.0e-3}
    network_settings: {hidden_units: 32, num_layers: 1}
    max_steps: 4000
    time_horizon: 32
    summary_freq: 500
    checkpoint_interval: 1000
    keep_checkpoints: 10
"""


def test_killed_worker_is_restarted_and_training_completes(tmp_path: Path) -> None:
    port = free_port(4)
    (tmp_path / "config.yaml").write_text(CONFIG)
    player = serve_script(tmp_path)
    results = tmp_path / "results"
    run = subprocess.Popen(
        [
            MLAGENTS_LEARN, str(tmp_path / "config.yaml"), "--env", str(player),
            "--num-envs", "4", "--base-port", str(port), "--run-id", "restart",
            "--results-dir", str(results), "--timeout-wait", "20", "--seed", "1",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    behavior = results / "restart" / "CartPole"
    victim_pid_file = tmp_path / f"pid-{port + 2}"
    try:
        deadline = time.monotonic() + 120
        while not list(behavior.glob("CartPole-*.pt")):
            assert run.poll() is None, run.communicate()[0]
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.2)
        saved_before = sorted(behavior.glob("CartPole-*.pt"))
        victim = int(victim_pid_file.read_text())
        os.kill(victim, signal.SIGKILL)
        output, _ = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, output
    assert f"worker 2 (port {port + 2}) failed" in output, output
    assert "killed by SIGKILL" in output
    assert f"worker 2 (port {port + 2}) restarted." in output
    assert int(victim_pid_file.read_text()) != victim  # a new player process
    assert "Step: 4000." in output, output
    for checkpoint in saved_before:
        assert checkpoint.exists(), f"{checkpoint} was lost"
    assert (results / "restart" / "CartPole.onnx").exists()
