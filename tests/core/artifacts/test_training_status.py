"""training_status.json: ML-Agents' layout, round trip, keep_checkpoints, resume checks."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import dojo
from dojo.api import CheckpointInfo
from dojo.artifacts.training_status import TrainingStatus, delete_checkpoint_files
from dojo.errors import RunError


def make_checkpoint(folder: Path, step: int, reward: float | None = 1.5) -> CheckpointInfo:
    """A checkpoint with real .pt and .onnx files on disk."""
    pt_path = folder / f"3DBall-{step}.pt"
    onnx_path = folder / f"3DBall-{step}.onnx"
    pt_path.write_bytes(b"pt")
    onnx_path.write_bytes(b"onnx")
    return CheckpointInfo("3DBall", step, pt_path, onnx_path, reward, 1700000000.0 + step)


def test_layout_and_round_trip(tmp_path: Path) -> None:
    status = TrainingStatus()
    checkpoint = make_checkpoint(tmp_path, 500)
    status.add_checkpoint("3DBall", checkpoint, keep_checkpoints=5)
    final = CheckpointInfo(
        "3DBall", 500, checkpoint.pt_path, tmp_path / "3DBall.onnx", None, 1700000999.5, final=True
    )
    status.set_final_checkpoint("3DBall", final)
    status.set_field("3DBall", "elo", 1212.5)
    status.set_field("difficulty", "lesson_num", 2)
    path = tmp_path / "training_status.json"
    status.save(path)

    saved = json.loads(path.read_text())
    assert list(saved) == ["3DBall", "difficulty", "metadata"]
    assert saved["3DBall"]["checkpoints"] == [
        {
            "steps": 500,
            "file_path": str(tmp_path / "3DBall-500.onnx"),
            "reward": 1.5,
            "creation_time": 1700000500.0,
            "auxillary_file_paths": [str(tmp_path / "3DBall-500.pt")],
        }
    ]
    assert saved["3DBall"]["final_checkpoint"] == {
        "steps": 500,
        "file_path": str(tmp_path / "3DBall.onnx"),
        "reward": None,
        "creation_time": 1700000999.5,
        "auxillary_file_paths": [str(tmp_path / "3DBall-500.pt")],
    }
    assert saved["3DBall"]["elo"] == 1212.5
    assert saved["difficulty"] == {"lesson_num": 2}
    assert saved["metadata"]["stats_format_version"] == "0.3.0"
    assert saved["metadata"]["mlagents_version"] == dojo.__version__
    assert set(saved["metadata"]) == {"stats_format_version", "mlagents_version", "torch_version"}
    assert path.read_text().startswith('{\n    "3DBall"')  # json indent=4, as ML-Agents

    loaded = TrainingStatus.load(path)
    assert loaded.checkpoints("3DBall") == saved["3DBall"]["checkpoints"]
    assert loaded.final_checkpoint("3DBall") == saved["3DBall"]["final_checkpoint"]
    assert loaded.get_field("3DBall", "elo") == 1212.5
    assert loaded.get_field("difficulty", "lesson_num") == 2
    assert loaded.get_field("difficulty", "missing", default=0) == 0
    assert loaded.final_checkpoint("Walker") is None


def test_keep_checkpoints_drops_oldest_files(tmp_path: Path) -> None:
    status = TrainingStatus()
    dropped = []
    for step in (100, 200, 300, 400):
        dropped += status.add_checkpoint(
            "3DBall", make_checkpoint(tmp_path, step), keep_checkpoints=2
        )
    # Recording deletes nothing (the status is saved first); the caller deletes what it drops.
    assert len(list(tmp_path.iterdir())) == 8
    assert (
        delete_checkpoint_files(dropped)
        == dropped
        == [
            tmp_path / "3DBall-100.onnx",
            tmp_path / "3DBall-100.pt",
            tmp_path / "3DBall-200.onnx",
            tmp_path / "3DBall-200.pt",
        ]
    )
    assert [entry["steps"] for entry in status.checkpoints("3DBall")] == [300, 400]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "3DBall-300.onnx",
        "3DBall-300.pt",
        "3DBall-400.onnx",
        "3DBall-400.pt",
    ]


def test_keep_checkpoints_zero_keeps_all_and_missing_files_are_skipped(tmp_path: Path) -> None:
    status = TrainingStatus()
    for step in (1, 2, 3):
        assert status.add_checkpoint("3DBall", make_checkpoint(tmp_path, step), 0) == []
    assert len(status.checkpoints("3DBall")) == 3
    (tmp_path / "3DBall-1.onnx").unlink()
    dropped = status.add_checkpoint("3DBall", make_checkpoint(tmp_path, 4), 3)
    assert delete_checkpoint_files(dropped) == [tmp_path / "3DBall-1.pt"]


def test_checkpoint_without_onnx(tmp_path: Path) -> None:
    status = TrainingStatus()
    pt_path = tmp_path / "3DBall-10.pt"
    status.add_checkpoint("3DBall", CheckpointInfo("3DBall", 10, pt_path, None, None, 1.0), 5)
    (entry,) = status.checkpoints("3DBall")
    assert entry["file_path"] == str(pt_path)
    assert entry["auxillary_file_paths"] == []


def test_resumed_list_keeps_pruning_old_run_files(tmp_path: Path) -> None:
    path = tmp_path / "training_status.json"
    first = TrainingStatus()
    for step in (100, 200):
        first.add_checkpoint("3DBall", make_checkpoint(tmp_path, step), 2)
    first.save(path)

    resumed = TrainingStatus.load(path)
    delete_checkpoint_files(resumed.add_checkpoint("3DBall", make_checkpoint(tmp_path, 300), 2))
    assert not (tmp_path / "3DBall-100.pt").exists()
    assert [entry["steps"] for entry in resumed.checkpoints("3DBall")] == [200, 300]


def test_missing_file_warns_and_gives_empty_status(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="dojo"):
        status = TrainingStatus.load(tmp_path / "training_status.json")
    assert "not found" in caplog.text
    assert status.to_dict() == {}


def test_missing_metadata_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "training_status.json"
    path.write_text(json.dumps({"3DBall": {"checkpoints": []}}))
    with pytest.raises(RunError, match="metadata not found"):
        TrainingStatus.load(path)
    path.write_text("{not json")
    with pytest.raises(RunError, match="not a valid training status file"):
        TrainingStatus.load(path)


def test_version_mismatch_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "training_status.json"
    metadata = {
        "stats_format_version": "0.1.0",
        "mlagents_version": "0.17.0",
        "torch_version": "1.0",
    }
    path.write_text(json.dumps({"3DBall": {"lesson_num": 1}, "metadata": metadata}))
    with caplog.at_level(logging.WARNING, logger="dojo"):
        status = TrainingStatus.load(path)
    assert status.get_field("3DBall", "lesson_num") == 1
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 3
    assert any("0.17.0" in message for message in messages)
    assert any("PyTorch" in message for message in messages)


def test_metadata_cannot_be_set_as_a_field() -> None:
    with pytest.raises(ValueError, match="metadata"):
        TrainingStatus().set_field("metadata", "x", 1)
