"""Checkpoint rotation ordered for crashes, and what ``--resume`` clears before it continues.

A real PPO trainer writes real checkpoints through :class:`CheckpointWriter`; the faults are
real too (a dropped checkpoint file that cannot be deleted, files left as a kill leaves them).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from dojo.artifacts.training_status import TrainingStatus
from dojo.config.loader import resolve_run_options
from dojo.config.settings import TrainerSettings
from dojo.envs.base import ActionSpec, BehaviorSpec, ObservationSpec
from dojo.errors import RunError
from dojo.plugin_host import load_plugins
from dojo.training.checkpoints import CheckpointWriter
from dojo_ppo.trainer import PPOTrainer
from tests.training_helpers import build_trainer

SPEC = BehaviorSpec((ObservationSpec((4,)),), ActionSpec(discrete_branches=(2,)))


def settings(keep_checkpoints: int) -> TrainerSettings:
    behavior = {
        "trainer_type": "ppo",
        "network_settings": {"hidden_units": 8, "num_layers": 1},
        "keep_checkpoints": keep_checkpoints,
    }
    options = resolve_run_options({"behaviors": {"B": behavior}}, {}, load_plugins(), "test")
    return options.behaviors["B"]


def write_checkpoints(run_dir: Path, steps: list[int], keep: int) -> CheckpointWriter:
    trainer = build_trainer(PPOTrainer, SPEC, settings(keep), run_dir / "B")
    writer = CheckpointWriter(run_dir, TrainingStatus())
    for step in steps:
        trainer.step = step
        writer.save(trainer, reward=1.0)
    return writer


def status_path(run_dir: Path) -> Path:
    return run_dir / "run_logs" / "training_status.json"


def saved_status(run_dir: Path) -> dict:
    return json.loads(status_path(run_dir).read_text())


def files(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / "B").iterdir())


def test_the_status_is_saved_before_dropped_files_are_deleted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The oldest checkpoint's ONNX cannot be deleted (a folder took its name): the status
    saved first already lists the new checkpoint, so the run goes on with a warning."""
    run_dir = tmp_path / "run"
    writer = write_checkpoints(run_dir, [100, 200], keep=2)
    (run_dir / "B" / "B-100.onnx").unlink()
    (run_dir / "B" / "B-100.onnx").mkdir()
    (run_dir / "B" / "B-100.onnx" / "x").write_text("in the way")
    trainer = build_trainer(PPOTrainer, SPEC, settings(2), run_dir / "B")
    trainer.step = 300
    with caplog.at_level(logging.WARNING, logger="dojo"):
        writer.save(trainer, reward=1.0)
    steps = [entry["steps"] for entry in saved_status(run_dir)["B"]["checkpoints"]]
    assert steps == [200, 300]
    assert "Could not delete the old checkpoint" in caplog.text
    assert not (run_dir / "B" / "B-100.pt").exists()  # the other file of it went


@pytest.mark.parametrize("keep", [0, -1])
def test_keep_checkpoints_zero_or_less_deletes_nothing(tmp_path: Path, keep: int) -> None:
    run_dir = tmp_path / "run"
    write_checkpoints(run_dir, [100, 200, 300, 400], keep=keep)
    assert len(saved_status(run_dir)["B"]["checkpoints"]) == 4
    assert files(run_dir) == [
        "B-100.onnx", "B-100.pt", "B-200.onnx", "B-200.pt", "B-300.onnx", "B-300.pt",
        "B-400.onnx", "B-400.pt", "checkpoint.pt",
    ]  # fmt: skip


def test_resume_removes_temporary_and_unrecorded_files_only(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    write_checkpoints(run_dir, [100, 200, 300], keep=2)
    folder = run_dir / "B"
    # As kills leave them: a rotation cut short, a checkpoint never recorded, half writes.
    (folder / "B-100.pt").write_bytes(b"dropped but not yet deleted")
    (folder / "B-400.pt").write_bytes(b"written, never recorded")
    (folder / ".checkpoint.pt.1234.abcd.tmp").write_bytes(b"half")
    (run_dir / "run_logs" / ".training_status.json.1.ff.tmp").write_text("{")
    kept = ["events.out.tfevents.1.host", "last_replay_buffer.npz", "notes.txt", "B-x.pt"]
    for name in kept:
        (folder / name).write_text("the user's or another component's")
    status = TrainingStatus.load(status_path(run_dir))
    from dojo.training.results import remove_interrupted_writes

    removed = remove_interrupted_writes(run_dir, status)
    assert sorted(p.name for p in removed) == [
        ".checkpoint.pt.1234.abcd.tmp",
        ".training_status.json.1.ff.tmp",
        "B-100.pt",
        "B-400.pt",
    ]
    assert files(run_dir) == sorted(
        ["B-200.onnx", "B-200.pt", "B-300.onnx", "B-300.pt", "checkpoint.pt", *kept]
    )


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (b'{"metadata": {}, "B": {"checkpoints": [{"steps": 1}]}}\xff', "not UTF-8"),
        (b'{"metadata": {}, "B": {"checkpoints": {"steps": 1}}}', "B.checkpoints"),
        (b'{"metadata": {}, "B": {"checkpoints": [{"steps": 1.5}]}}', "B.checkpoints[0].steps"),
        (b'{"metadata": {}, "B": {"final_checkpoint": "x"}}', "B.final_checkpoint"),
        (b'{"metadata": {}, "lesson": {"lesson_num": "2"}}', "lesson.lesson_num"),
        (b'{"metadata": {}, "B": 3}', "B: expected an object"),
    ],
    ids=["not-utf8", "list", "steps", "final", "lesson", "behavior"],
)
def test_an_ill_typed_status_is_refused_naming_the_file_and_the_entry(
    tmp_path: Path, content: bytes, where: str
) -> None:
    path = tmp_path / "training_status.json"
    path.write_bytes(content)
    with pytest.raises(RunError) as raised:
        TrainingStatus.load(path)
    assert str(path) in str(raised.value) and where in str(raised.value)
