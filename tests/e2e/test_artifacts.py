"""What a finished ``mlagents-learn`` run leaves in ``results/<run-id>/`` (ML-Agents 1.x layout)."""

from __future__ import annotations

import json
import re

import pytest
import torch
import yaml

from .conftest import FinishedRun
from .helpers import dojo, read_scalars, read_text_tags

SUMMARY_STEPS = [500, 1000, 1500, 2000, 2500, 3000]

ML_AGENTS_TAGS = [
    "Environment/Cumulative Reward",
    "Environment/Episode Length",
    "Policy/Entropy",
    "Losses/Policy Loss",
    "Losses/Value Loss",
    "Policy/Learning Rate",
    "Policy/Extrinsic Reward",
    "Policy/Extrinsic Value Estimate",
    "Policy/Epsilon",
    "Policy/Beta",
]


def _checkpoint_steps(run: FinishedRun) -> list[int]:
    pattern = re.compile(rf"^{run.behavior}-(\d+)\.pt$")
    matches = (pattern.match(p.name) for p in run.behavior_dir.iterdir())
    return sorted(int(m[1]) for m in matches if m)


def test_run_exits_cleanly(cartpole_run: FinishedRun) -> None:
    completed = cartpole_run.completed
    assert completed.returncode == 0
    assert "Traceback" not in completed.output
    assert "error" not in completed.stderr.lower(), completed.describe()


def test_results_folder_has_the_ml_agents_layout(cartpole_run: FinishedRun) -> None:
    run = cartpole_run
    steps = _checkpoint_steps(run)
    assert len(steps) == 2, "keep_checkpoints: 2 keeps the last two checkpoints"
    files = {p.relative_to(run.run_dir).as_posix() for p in run.run_dir.rglob("*") if p.is_file()}
    events = {f for f in files if f.startswith("CartPole/events.out.tfevents")}
    assert len(events) == 1
    expected = {
        "configuration.yaml",
        "run_logs/timers.json",
        "run_logs/training_status.json",
        "CartPole.onnx",
        "CartPole/checkpoint.pt",
        *(f"CartPole/CartPole-{step}.{ext}" for step in steps for ext in ("pt", "onnx")),
    }
    # Exactly these: no temporary files, no older checkpoints left behind.
    assert files - events == expected


def test_checkpoints_are_taken_at_each_interval_and_the_final_model_is_the_last(
    cartpole_run: FinishedRun,
) -> None:
    run = cartpole_run
    older, last = _checkpoint_steps(run)
    # A checkpoint is taken when a trajectory crosses a multiple of checkpoint_interval (1000);
    # the last one when max_steps (3000) is passed.
    assert 2000 <= older < 2000 + 300
    assert 3000 <= last < 3000 + 300
    final = run.run_dir / "CartPole.onnx"
    assert final.read_bytes() == (run.behavior_dir / f"CartPole-{last}.onnx").read_bytes()

    state = torch.load(run.behavior_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert {"Policy", "global_step", "Optimizer:critic", "Optimizer:value_optimizer"} <= set(state)
    assert int(state["global_step"]) == last
    numbered = torch.load(run.behavior_dir / f"CartPole-{last}.pt", weights_only=True)
    for name, tensor in state["Policy"].items():
        assert torch.equal(tensor, numbered["Policy"][name])


def test_console_prints_ml_agents_progress_lines(cartpole_run: FinishedRun) -> None:
    completed = cartpole_run.completed
    lines = completed.step_lines()
    assert [int(m["step"]) for m in lines] == SUMMARY_STEPS, completed.stdout
    assert {m["behavior"] for m in lines} == {"CartPole"}
    assert {m["mode"] for m in lines} == {"Training"}
    assert all(m["mean"] is not None for m in lines), "CartPole episodes end within 500 steps"
    elapsed = [float(m["elapsed"]) for m in lines]
    assert elapsed == sorted(elapsed)


def test_tensorboard_has_ml_agents_tags_at_every_summary(cartpole_run: FinishedRun) -> None:
    scalars = read_scalars(cartpole_run.behavior_dir)
    for tag in ML_AGENTS_TAGS:
        assert [step for step, _ in scalars.get(tag, [])] == SUMMARY_STEPS, tag
    # The console's mean reward is the TensorBoard value (rounded to 3 decimals).
    console = [float(m["mean"]) for m in cartpole_run.completed.step_lines()]
    tensorboard = [value for _, value in scalars["Environment/Cumulative Reward"]]
    assert console == pytest.approx(tensorboard, abs=1e-3)
    # Linear schedules: the learning rate decays from 3e-4 towards 0 at max_steps.
    rates = [value for _, value in scalars["Policy/Learning Rate"]]
    assert rates == sorted(rates, reverse=True)
    assert 0 < rates[-1] < rates[0] <= 3e-4
    lengths = [value for _, value in scalars["Environment/Episode Length"]]
    assert all(8 <= length <= 500 for length in lengths), "CartPole-v1 episodes last 8-500 steps"


def test_tensorboard_has_the_hyperparameters_text(cartpole_run: FinishedRun) -> None:
    tags = read_text_tags(cartpole_run.behavior_dir)
    assert any(tag.startswith("Hyperparameters") for tag in tags), tags


def test_training_status_lists_the_checkpoints(cartpole_run: FinishedRun) -> None:
    run = cartpole_run
    status = json.loads((run.run_dir / "run_logs/training_status.json").read_text())
    assert status["metadata"]["stats_format_version"] == "0.3.0"
    assert set(status["metadata"]) >= {"mlagents_version", "torch_version"}
    behavior = status["CartPole"]
    entries = behavior["checkpoints"]
    assert [entry["steps"] for entry in entries] == _checkpoint_steps(run)
    keys = {"steps", "file_path", "reward", "creation_time", "auxillary_file_paths"}
    for entry in entries:
        assert set(entry) == keys
        step = entry["steps"]
        # Paths as ML-Agents writes them: relative to the working directory of the command.
        assert entry["file_path"] == f"results/cartpole/CartPole/CartPole-{step}.onnx"
        assert entry["auxillary_file_paths"] == [f"results/cartpole/CartPole/CartPole-{step}.pt"]
        assert (run.cwd / entry["file_path"]).is_file()
        # The mean episode return at the time of the checkpoint (CartPole returns are 8-500).
        assert isinstance(entry["reward"], float), entry
        assert 8.0 <= entry["reward"] <= 500.0
        assert isinstance(entry["creation_time"], float)
    assert [e["creation_time"] for e in entries] == sorted(e["creation_time"] for e in entries)
    final = behavior["final_checkpoint"]
    assert set(final) == keys
    assert final["steps"] == entries[-1]["steps"]
    assert isinstance(final["reward"], float), final
    assert final["file_path"] == "results/cartpole/CartPole.onnx"
    assert (run.cwd / final["file_path"]).is_file()


def test_timers_json_has_the_ml_agents_tree(cartpole_run: FinishedRun) -> None:
    run = cartpole_run
    timers = json.loads((run.run_dir / "run_logs/timers.json").read_text())
    assert timers["name"] == "root"
    metadata = timers["metadata"]
    assert metadata["timer_format_version"] == "0.1.0"
    assert float(metadata["end_time_seconds"]) >= float(metadata["start_time_seconds"])
    assert "--run-id=cartpole" in metadata["command_line_arguments"]
    assert metadata["pytorch_version"] == torch.__version__
    assert all(isinstance(value, str) for value in metadata.values())
    learning = timers["children"]["TrainerController.start_learning"]
    assert learning["count"] == 1
    assert 0 < learning["total"] <= timers["total"]
    assert "TrainerController.advance" in learning["children"]
    gauges = timers["gauges"]
    assert "CartPole.Environment.CumulativeReward.mean" in gauges
    assert set(gauges["CartPole.Environment.CumulativeReward.mean"]) == {
        "value",
        "min",
        "max",
        "count",
    }


def test_configuration_yaml_is_the_resolved_config_and_reloads(cartpole_run: FinishedRun) -> None:
    run = cartpole_run
    written = yaml.safe_load((run.run_dir / "configuration.yaml").read_text())
    behavior = written["behaviors"]["CartPole"]
    assert behavior["max_steps"] == 3000
    assert behavior["hyperparameters"]["batch_size"] == 256
    assert behavior["hyperparameters"]["learning_rate"] == 3.0e-4  # a default, filled in
    assert written["checkpoint_settings"]["run_id"] == "cartpole"
    assert written["env_settings"]["env_path"] == "gymnasium:CartPole-v1"
    assert written["env_settings"]["seed"] == 0

    checked = dojo(["config", "check", "results/cartpole/configuration.yaml"], run.cwd)
    assert checked.returncode == 0, checked.describe()
    assert yaml.safe_load(checked.stdout) == written
