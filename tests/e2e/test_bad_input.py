"""Bad input to the real ``mlagents-learn``: one ``error:`` line on stderr, exit code 1, no
traceback, and the results folder neither created nor touched."""

from __future__ import annotations

from pathlib import Path

from .conftest import FinishedRun, copy_run
from .helpers import Completed, cartpole_config, learn, snapshot, write_config


def _one_error_line(completed: Completed) -> str:
    assert completed.returncode == 1, completed.describe()
    assert "Traceback" not in completed.output, completed.describe()
    lines = completed.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), completed.describe()
    return lines[0]


def test_resume_as_another_trainer_type_is_refused_and_the_run_is_untouched(
    cartpole_run: FinishedRun, tmp_path: Path
) -> None:
    run = copy_run(cartpole_run, tmp_path)
    sac = cartpole_config(
        trainer_type="sac", hyperparameters={}, max_steps=6000, reward_signals={"extrinsic": {}}
    )
    sac["behaviors"]["CartPole"]["hyperparameters"] = {"batch_size": 64, "buffer_size": 1000}
    write_config(tmp_path / "sac.yaml", sac)
    before = snapshot(run.results)

    completed = learn(["sac.yaml", f"--run-id={run.run_id}", "--resume"], tmp_path)

    line = _one_error_line(completed)
    assert "behavior CartPole was trained with trainer_type ppo" in line
    assert f"results/{run.run_id}/CartPole/checkpoint.pt" in line
    assert "now says sac" in line
    assert snapshot(run.results) == before


def test_an_unreadable_checkpoint_is_named_without_torch_advice(
    cartpole_run: FinishedRun, tmp_path: Path
) -> None:
    run = copy_run(cartpole_run, tmp_path)
    checkpoint = run.behavior_dir / "checkpoint.pt"
    checkpoint.write_bytes(b"not a checkpoint at all")
    more_steps = cartpole_config(max_steps=6000)
    write_config(tmp_path / "more.yaml", more_steps)

    completed = learn(["more.yaml", f"--run-id={run.run_id}", "--resume"], tmp_path)

    line = _one_error_line(completed)
    assert f"checkpoint results/{run.run_id}/CartPole/checkpoint.pt cannot be read" in line
    assert "not a dojo checkpoint, or it is damaged" in line
    assert "weights_only" not in completed.output


def test_run_id_dot_dot_writes_nothing_next_to_the_results(tmp_path: Path) -> None:
    write_config(tmp_path / "config.yaml", cartpole_config())
    before = sorted(p.name for p in tmp_path.iterdir())

    completed = learn(["config.yaml", "--run-id=..", "--results-dir=results"], tmp_path)

    assert "checkpoint_settings.run_id: must be a safe folder name" in _one_error_line(completed)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_argument_errors_exit_1_with_one_line_and_help_exits_0(tmp_path: Path) -> None:
    for flags, says in (
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--seed", "abc"], "argument --seed: invalid int value: 'abc'"),
        (["--run-id"], "argument --run-id: expected one argument"),
    ):
        completed = learn(flags, tmp_path)
        assert says in _one_error_line(completed)
        assert "usage:" not in completed.output
    assert learn(["--help"], tmp_path).returncode == 0
    assert list(tmp_path.iterdir()) == []
