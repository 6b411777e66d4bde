"""TensorBoardWriter: what TensorBoard reads back from the event files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dojo.api import Aggregation, RunInfo, StatsSummary
from dojo.config.settings import CheckpointSettings, RunOptions
from dojo.stats.tensorboard_writer import TensorBoardWriter


def run_info(run_dir: Path, resume: bool = False) -> RunInfo:
    options = RunOptions(checkpoint_settings=CheckpointSettings(run_id="run", resume=resume))
    return RunInfo(run_id="run", run_dir=run_dir, options=options, behaviors=("3DBall",))


def summary(*values: float, aggregation: Aggregation = Aggregation.AVERAGE) -> StatsSummary:
    return StatsSummary(tuple(values), aggregation)


def accumulate(folder: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def event_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("events.out.tfevents*"))


def test_scalars_histograms_and_hidden_keys_read_back(tmp_path: Path) -> None:
    writer = TensorBoardWriter(run=run_info(tmp_path))
    writer.write_stats(
        "3DBall",
        {
            "Environment/Cumulative Reward": summary(
                1.0, 2.0, 6.0, aggregation=Aggregation.HISTOGRAM
            ),
            "Losses/Policy Loss": summary(0.5, 1.5),
            "Policy/Learning Rate": summary(3e-4, 1e-4, aggregation=Aggregation.MOST_RECENT),
            "Environment/Episode Length": summary(10.0, 20.0, aggregation=Aggregation.SUM),
            "Is Training": summary(1.0, aggregation=Aggregation.MOST_RECENT),
            "Step": summary(1000.0, aggregation=Aggregation.MOST_RECENT),
        },
        1000,
    )
    writer.write_stats("3DBall", {"Losses/Policy Loss": summary(0.25)}, 2000)
    writer.write_stats("Walker", {"Losses/Policy Loss": summary(9.0)}, 2000)
    writer.close()

    ball = accumulate(tmp_path / "3DBall")
    assert set(ball.Tags()["scalars"]) == {
        "Environment/Cumulative Reward",
        "Losses/Policy Loss",
        "Policy/Learning Rate",
        "Environment/Episode Length",
    }
    assert [(e.step, e.value) for e in ball.Scalars("Losses/Policy Loss")] == [
        (1000, 1.0),
        (2000, 0.25),
    ]
    assert ball.Scalars("Environment/Cumulative Reward")[0].value == pytest.approx(3.0)
    assert ball.Scalars("Policy/Learning Rate")[0].value == pytest.approx(1e-4)
    assert ball.Scalars("Environment/Episode Length")[0].value == pytest.approx(30.0)

    assert ball.Tags()["histograms"] == ["Environment/Cumulative Reward_hist"]
    (histogram,) = ball.Histograms("Environment/Cumulative Reward_hist")
    assert histogram.step == 1000
    assert histogram.histogram_value.num == 3
    assert histogram.histogram_value.sum == pytest.approx(9.0)
    assert (histogram.histogram_value.min, histogram.histogram_value.max) == (1.0, 6.0)

    walker = accumulate(tmp_path / "Walker")
    assert [(e.step, e.value) for e in walker.Scalars("Losses/Policy Loss")] == [(2000, 9.0)]


def test_hyperparameters_text_summary(tmp_path: Path) -> None:
    writer = TensorBoardWriter(run=run_info(tmp_path))
    writer.add_property(
        "3DBall", "hyperparameters", {"trainer_type": "ppo", "hyperparameters": {"batch_size": 64}}
    )
    writer.add_property("3DBall", "something_else", {"ignored": True})
    writer.close()

    accumulator = accumulate(tmp_path / "3DBall")
    # torch's SummaryWriter (used by ML-Agents too) names the text tag "<tag>/text_summary".
    assert accumulator.Tags()["tensors"] == ["Hyperparameters/text_summary"]
    (event,) = accumulator.Tensors("Hyperparameters/text_summary")
    text = event.tensor_proto.string_val[0].decode()
    assert text == "\ttrainer_type:\tppo\n\thyperparameters:\t\n\t  batch_size:\t64"


def test_flushed_at_every_summary_without_close(tmp_path: Path) -> None:
    writer = TensorBoardWriter(run=run_info(tmp_path))
    writer.write_stats("3DBall", {"Losses/Value Loss": summary(2.0)}, 500)
    # Not closed: a killed run must still have its curves on disk.
    values = accumulate(tmp_path / "3DBall").Scalars("Losses/Value Loss")
    assert [(e.step, e.value) for e in values] == [(500, 2.0)]
    writer.close()


def test_new_run_deletes_old_event_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = TensorBoardWriter(run=run_info(tmp_path))
    first.write_stats("3DBall", {"Losses/Value Loss": summary(1.0)}, 100)
    first.close()
    old_files = event_files(tmp_path / "3DBall")
    assert len(old_files) == 1
    (tmp_path / "3DBall" / "checkpoint.pt").write_bytes(b"keep me")

    with caplog.at_level(logging.WARNING, logger="dojo"):
        second = TensorBoardWriter(run=run_info(tmp_path, resume=False))
        second.write_stats("3DBall", {"Losses/Value Loss": summary(7.0)}, 50)
        second.close()

    assert not old_files[0].exists()
    assert len(event_files(tmp_path / "3DBall")) == 1
    assert (tmp_path / "3DBall" / "checkpoint.pt").read_bytes() == b"keep me"
    assert "left over from a previous run" in caplog.text
    values = accumulate(tmp_path / "3DBall").Scalars("Losses/Value Loss")
    assert [(e.step, e.value) for e in values] == [(50, 7.0)]


def test_resume_appends_and_curves_continue(tmp_path: Path) -> None:
    first = TensorBoardWriter(run=run_info(tmp_path))
    first.write_stats("3DBall", {"Losses/Value Loss": summary(1.0)}, 100)
    first.write_stats("3DBall", {"Losses/Value Loss": summary(2.0)}, 200)
    first.close()

    resumed = TensorBoardWriter(run=run_info(tmp_path, resume=True))
    resumed.write_stats("3DBall", {"Losses/Value Loss": summary(3.0)}, 300)
    resumed.close()

    assert len(event_files(tmp_path / "3DBall")) == 2
    values = accumulate(tmp_path / "3DBall").Scalars("Losses/Value Loss")
    assert [(e.step, e.value) for e in values] == [(100, 1.0), (200, 2.0), (300, 3.0)]


def test_empty_histogram_writes_scalar_only(tmp_path: Path) -> None:
    writer = TensorBoardWriter(run=run_info(tmp_path))
    writer.write_stats(
        "3DBall", {"Environment/Cumulative Reward": summary(aggregation=Aggregation.HISTOGRAM)}, 10
    )
    writer.close()
    accumulator = accumulate(tmp_path / "3DBall")
    assert accumulator.Tags()["histograms"] == []
    assert accumulator.Scalars("Environment/Cumulative Reward")[0].value == 0.0
