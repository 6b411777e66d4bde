"""The example configurations in ``configs/`` train as they are (shortened)."""

from __future__ import annotations

from pathlib import Path

import yaml

from .helpers import learn, read_scalars

REPO = Path(__file__).resolve().parents[2]


def test_flat_format_example_trains(tmp_path: Path) -> None:
    """``configs/ppo/CartPole-flat.yaml`` (ML-Agents 0.16 flat format), with fewer steps."""
    flat = yaml.safe_load((REPO / "configs/ppo/CartPole-flat.yaml").read_text())
    assert flat["default"]["trainer"] == "ppo", "still the flat format"
    flat["CartPole"].update(max_steps=2000, summary_freq=500)
    (tmp_path / "flat.yaml").write_text(yaml.safe_dump(flat), encoding="utf-8")

    completed = learn(
        [
            "flat.yaml",
            "--env=gymnasium:CartPole-v1",
            "--num-envs=4",
            "--run-id=flat",
            "--seed=0",
            "--results-dir=results",
        ],
        tmp_path,
    )

    assert completed.returncode == 0, completed.describe()
    assert "flat format" in completed.output, "the user is told the file was converted"
    assert completed.steps() == [500, 1000, 1500, 2000]
    run_dir = tmp_path / "results" / "flat"
    assert (run_dir / "CartPole.onnx").is_file()
    assert "Losses/Policy Loss" in read_scalars(run_dir / "CartPole")
    # The behavior's flat keys landed in the current format, over the `default` section.
    written = yaml.safe_load((run_dir / "configuration.yaml").read_text())
    behavior = written["behaviors"]["CartPole"]
    assert behavior["trainer_type"] == "ppo"
    assert behavior["hyperparameters"]["lambd"] == 0.8
    assert behavior["hyperparameters"]["num_epoch"] == 20
    assert behavior["network_settings"]["hidden_units"] == 64
    assert behavior["reward_signals"]["extrinsic"]["gamma"] == 0.98
    assert behavior["max_steps"] == 2000
    assert behavior["time_horizon"] == 32
