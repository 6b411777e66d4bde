"""``pip install ./core ./plugins/sac`` into a new virtual environment trains SAC, and a PPO
configuration there fails with the install hint for dojo-ppo."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

_HELPERS = Path(__file__).resolve().parents[1] / "e2e" / "helpers.py"
_spec = importlib.util.spec_from_file_location("dojo_e2e_helpers", _HELPERS)
assert _spec is not None and _spec.loader is not None
helpers = importlib.util.module_from_spec(_spec)
sys.modules.setdefault(_spec.name, helpers)
_spec.loader.exec_module(helpers)

REPO = Path(__file__).resolve().parents[2]
TORCH = "torch==2.13.0"  # as the Makefile: pinned, installed first (no CUDA build)
INSTALL_TIMEOUT = 900.0


def _checked(completed: helpers.Completed) -> helpers.Completed:
    assert completed.returncode == 0, completed.describe()
    return completed


@pytest.mark.install
def test_core_and_sac_install_into_a_fresh_venv_and_train(tmp_path: Path) -> None:
    ignore = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__")
    core = shutil.copytree(REPO / "core", tmp_path / "src" / "core", ignore=ignore)
    sac = shutil.copytree(REPO / "plugins" / "sac", tmp_path / "src" / "sac", ignore=ignore)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet"]
    _checked(helpers.run_command([*pip, TORCH], tmp_path, timeout=INSTALL_TIMEOUT))
    _checked(helpers.run_command([*pip, str(core), str(sac)], tmp_path, timeout=INSTALL_TIMEOUT))
    learn = str(venv / "bin" / "mlagents-learn")

    plugins = _checked(helpers.run_command([str(venv / "bin" / "dojo"), "plugins"], tmp_path))
    assert "trainers: sac" in plugins.stdout and "ppo" not in plugins.stdout

    config = {
        "behaviors": {
            "Pendulum": {
                "trainer_type": "sac",
                "hyperparameters": {"batch_size": 32, "buffer_init_steps": 50},
                "network_settings": {"hidden_units": 16, "num_layers": 1},
                "max_steps": 600,
                "time_horizon": 10,
                "summary_freq": 200,
            }
        },
        "env_settings": {"env_path": "gymnasium:Pendulum-v1", "num_envs": 2},
    }
    helpers.write_config(tmp_path / "sac.yaml", config)
    trained = _checked(
        helpers.run_command(
            [learn, "sac.yaml", "--run-id=fresh", "--seed=0", "--results-dir=results"], tmp_path
        )
    )
    assert trained.steps() == [200, 400, 600]
    assert (tmp_path / "results" / "fresh" / "Pendulum.onnx").is_file()

    helpers.write_config(tmp_path / "ppo.yaml", helpers.cartpole_config())
    refused = helpers.run_command(
        [learn, "ppo.yaml", "--run-id=ppo", "--results-dir=results"], tmp_path
    )
    assert refused.returncode != 0
    assert "Traceback" not in refused.output
    assert "unknown trainer type 'ppo'" in refused.output, refused.describe()
    assert "pip install dojo-ppo" in refused.output and "plugins/ppo" in refused.output
    assert not (tmp_path / "results" / "ppo").exists()
