"""``--force``, ``--resume``, ``--initialize-from``, ``--inference`` and ``threaded`` as
ML-Agents documents them."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from .conftest import FinishedRun, copy_run
from .helpers import (
    CARTPOLE,
    Completed,
    cartpole_config,
    event_files,
    learn,
    learn_until_first_step,
    read_scalars,
    snapshot,
    write_config,
)


def _policy(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=True)["Policy"]


def _layout(run_dir: Path) -> set[str]:
    """Files of a run with step numbers and event-file suffixes blanked out."""
    names = set()
    for path in run_dir.rglob("*"):
        if path.is_file():
            name = path.relative_to(run_dir).as_posix()
            name = re.sub(r"events\.out\.tfevents\..*", "events.out.tfevents.*", name)
            names.add(re.sub(r"-\d+\.(pt|onnx)$", r"-<step>.\1", name))
    return names


def test_existing_run_id_is_refused_and_left_untouched(
    cartpole_run: FinishedRun, tmp_path: Path
) -> None:
    run = copy_run(cartpole_run, tmp_path)
    before = snapshot(run.cwd)

    completed = learn([run.config.name, "--run-id=cartpole", "--results-dir=results"], run.cwd)

    assert completed.returncode != 0
    assert "Traceback" not in completed.output
    assert completed.stderr.count("error:") == 1, completed.describe()
    message = completed.stderr
    assert "results/cartpole" in message
    assert "--resume" in message and "--force" in message
    assert snapshot(run.cwd) == before


def test_force_reuses_the_folder_and_starts_the_curves_afresh(
    cartpole_run: FinishedRun, tmp_path: Path
) -> None:
    run = copy_run(cartpole_run, tmp_path)
    old_events = event_files(run.behavior_dir)
    write_config(run.config, cartpole_config(max_steps=1000))

    completed = learn(
        [run.config.name, "--run-id=cartpole", "--force", "--seed=1", "--results-dir=results"],
        run.cwd,
    )

    assert completed.returncode == 0, completed.describe()
    new_events = event_files(run.behavior_dir)
    assert len(new_events) == 1
    assert not set(old_events) & set(new_events), "the old TensorBoard data is removed"
    scalars = read_scalars(run.behavior_dir)
    assert [s for s, _ in scalars["Environment/Cumulative Reward"]] == [500, 1000]
    step = int(torch.load(run.behavior_dir / "checkpoint.pt", weights_only=True)["global_step"])
    assert 1000 <= step < 1300, "trained from step 0, not resumed"


def test_resume_of_a_missing_run_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cartpole.yaml", cartpole_config())

    completed = learn(
        [config.name, "--run-id=nothing", "--resume", "--results-dir=results"], tmp_path
    )

    assert completed.returncode != 0
    assert "Traceback" not in completed.output
    assert completed.stderr.count("error:") == 1, completed.describe()
    assert "results/nothing" in completed.stderr
    assert not (tmp_path / "results").exists()


def test_initialize_from_loads_the_weights_and_restarts_at_step_0(
    cartpole_run: FinishedRun, tmp_path: Path
) -> None:
    run = copy_run(cartpole_run, tmp_path)
    source = run.behavior_dir / "checkpoint.pt"
    source_files = snapshot(run.run_dir)
    # A learning rate too small to move any weight: the new run's policy must then be the
    # source's. Another seed, so a fresh initialisation could not match it either.
    config = cartpole_config(
        max_steps=1000,
        hyperparameters={"learning_rate": 1.0e-10, "learning_rate_schedule": "constant"},
    )
    write_config(tmp_path / "warm.yaml", config)

    completed = learn(
        [
            "warm.yaml",
            "--run-id=warm",
            "--initialize-from=cartpole",
            "--seed=7",
            "--results-dir=results",
        ],
        tmp_path,
    )

    assert completed.returncode == 0, completed.describe()
    assert "results/cartpole/CartPole/checkpoint.pt" in completed.stdout
    assert completed.steps() == [500, 1000]
    warm_dir = tmp_path / "results" / "warm" / CARTPOLE
    scalars = read_scalars(warm_dir)
    assert [s for s, _ in scalars["Environment/Cumulative Reward"]] == [500, 1000]
    state = torch.load(warm_dir / "checkpoint.pt", weights_only=True)
    assert 1000 <= int(state["global_step"]) < 1300
    expected = _policy(source)
    assert state["Policy"].keys() == expected.keys()
    for name, tensor in expected.items():
        torch.testing.assert_close(state["Policy"][name], tensor, atol=1e-6, rtol=0)
    assert snapshot(run.run_dir) == source_files, "the source run is only read"


def test_inference_runs_the_saved_policy_without_training(
    cartpole_run: FinishedRun, tmp_path: Path
) -> None:
    run = copy_run(cartpole_run, tmp_path)
    checkpoints = {
        p.name: p.read_bytes() for p in run.behavior_dir.iterdir() if p.suffix in (".pt", ".onnx")
    }
    saved_step = int(
        torch.load(run.behavior_dir / "checkpoint.pt", weights_only=True)["global_step"]
    )

    # Under --inference ML-Agents runs until interrupted, whatever max_steps says.
    completed = learn_until_first_step(
        [run.config.name, "--run-id=cartpole", "--resume", "--inference", "--results-dir=results"],
        run.cwd,
    )

    assert completed.returncode == 0, completed.describe()
    lines = completed.step_lines()
    assert lines and {m["mode"] for m in lines} == {"Not Training"}
    assert int(lines[0]["step"]) > saved_step
    # No update, no new checkpoint: the saved files are exactly as they were.
    after = {
        p.name: p.read_bytes() for p in run.behavior_dir.iterdir() if p.suffix in (".pt", ".onnx")
    }
    assert after == checkpoints
    assert (run.run_dir / "CartPole.onnx").read_bytes() == (
        cartpole_run.run_dir / "CartPole.onnx"
    ).read_bytes()


def test_threaded_trainer_trains_and_writes_the_same_artifacts(
    cartpole_run: FinishedRun, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "threaded.yaml", cartpole_config(threaded=True))

    completed = learn(
        [config.name, "--run-id=cartpole", "--seed=0", "--results-dir=results"], tmp_path
    )

    assert completed.returncode == 0, completed.describe()
    assert completed.steps() == cartpole_run.completed.steps()
    run_dir = tmp_path / "results" / "cartpole"
    assert _layout(run_dir) == _layout(cartpole_run.run_dir)
    scalars = read_scalars(run_dir / CARTPOLE)
    assert set(scalars) == set(read_scalars(cartpole_run.behavior_dir))
    # The update thread may lag behind the environment, so the first summaries can come
    # before the first update; the later ones have losses.
    loss_steps = [s for s, _ in scalars["Losses/Policy Loss"]]
    assert set(loss_steps) <= {500, 1000, 1500, 2000, 2500, 3000}
    assert loss_steps[-2:] == [2500, 3000]
    state = torch.load(run_dir / CARTPOLE / "checkpoint.pt", weights_only=True)
    assert int(state["global_step"]) >= 3000, "every collected step was trained on before saving"


def test_environment_worker_processes_train_exactly_like_in_process_copies(
    cartpole_run: FinishedRun, tmp_path: Path
) -> None:
    config = cartpole_config()
    config["env_settings"]["vectorization_mode"] = "async"
    path = write_config(tmp_path / "workers.yaml", config)

    completed = learn(
        [path.name, "--run-id=cartpole", "--seed=0", "--results-dir=results"], tmp_path
    )

    assert completed.returncode == 0, completed.describe()

    # The same seeded copies, stepped in worker processes: the same episodes, so the same
    # console lines (step, mean and std of the reward) as the in-process run.
    def curve(run: Completed) -> list[tuple[str | None, ...]]:
        return [(m["step"], m["mean"], m["std"]) for m in run.step_lines()]

    assert curve(completed) == curve(cartpole_run.completed)
    assert (tmp_path / "results" / "cartpole" / "CartPole.onnx").is_file()
