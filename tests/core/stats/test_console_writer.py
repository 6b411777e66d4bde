"""ConsoleWriter: ML-Agents' progress line and hyperparameters dump, word for word."""

from __future__ import annotations

import logging
import re

import pytest

from dojo.api import Aggregation, StatsSummary
from dojo.stats.console_writer import ConsoleWriter, hyperparameters_to_text

TIME = r"Time Elapsed: \d+\.\d{3} s"


def summary(*values: float, aggregation: Aggregation = Aggregation.AVERAGE) -> StatsSummary:
    return StatsSummary(tuple(values), aggregation)


def logged_line(
    caplog: pytest.LogCaptureFixture, values: dict[str, StatsSummary], step: int
) -> str:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dojo"):
        ConsoleWriter().write_stats("3DBall", values, step)
    (record,) = caplog.records
    assert record.name == "dojo"
    assert record.levelno == logging.INFO
    return record.getMessage()


def test_training_line(caplog: pytest.LogCaptureFixture) -> None:
    line = logged_line(
        caplog,
        {
            "Environment/Cumulative Reward": summary(
                1.0, 2.0, 3.0, aggregation=Aggregation.HISTOGRAM
            ),
            "Is Training": summary(1.0, aggregation=Aggregation.MOST_RECENT),
        },
        12000,
    )
    assert re.fullmatch(
        rf"3DBall\. Step: 12000\. {TIME}\. "
        r"Mean Reward: 2\.000\. Std of Reward: 0\.816\. Training\.",
        line,
    )


def test_not_training_line(caplog: pytest.LogCaptureFixture) -> None:
    line = logged_line(
        caplog,
        {
            "Environment/Cumulative Reward": summary(-1.5),
            "Is Training": summary(0.0, aggregation=Aggregation.MOST_RECENT),
        },
        50,
    )
    assert re.fullmatch(
        rf"3DBall\. Step: 50\. {TIME}\. "
        r"Mean Reward: -1\.500\. Std of Reward: 0\.000\. Not Training\.",
        line,
    )


def test_no_episode_line(caplog: pytest.LogCaptureFixture) -> None:
    line = logged_line(caplog, {"Is Training": summary(1.0)}, 3000)
    assert re.fullmatch(
        rf"3DBall\. Step: 3000\. {TIME}\. No episode was completed since last summary\. Training\.",
        line,
    )


def test_without_is_training_stat_reads_not_training(caplog: pytest.LogCaptureFixture) -> None:
    # ML-Agents' default when the trainer reported nothing about training.
    assert logged_line(caplog, {}, 1).endswith(
        "No episode was completed since last summary. Not Training."
    )


def test_group_reward_and_elo_variants(caplog: pytest.LogCaptureFixture) -> None:
    line = logged_line(
        caplog,
        {
            "Environment/Cumulative Reward": summary(1.0, 3.0),
            "Environment/Group Cumulative Reward": summary(4.0),
            "Is Training": summary(1.0),
            "Self-play/ELO": summary(1210.25),
        },
        10,
    )
    assert re.fullmatch(
        rf"3DBall\. Step: 10\. {TIME}\. Mean Reward: 2\.000\. Mean Group Reward: 4\.000\. "
        r"Training\. ELO: 1210\.250\.",
        line,
    )


def test_time_elapsed_counts_from_creation(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = iter([100.0, 131.2041])
    monkeypatch.setattr("dojo.stats.console_writer.time.monotonic", lambda: next(clock))
    writer = ConsoleWriter()
    with caplog.at_level(logging.INFO, logger="dojo"):
        writer.write_stats("3DBall", {"Is Training": summary(1.0)}, 1)
    assert "Time Elapsed: 31.204 s." in caplog.text


def test_hyperparameters_dump(caplog: pytest.LogCaptureFixture) -> None:
    settings = {
        "trainer_type": "ppo",
        "hyperparameters": {"batch_size": 64, "learning_rate": 0.0003},
        "network_settings": {"normalize": False, "memory": None},
    }
    with caplog.at_level(logging.INFO, logger="dojo"):
        ConsoleWriter().add_property("3DBall", "hyperparameters", settings)
        ConsoleWriter().add_property("3DBall", "unknown_property", settings)
    (record,) = caplog.records
    assert record.getMessage() == (
        "Hyperparameters for behavior name 3DBall: \n"
        "\ttrainer_type:\tppo\n"
        "\thyperparameters:\t\n"
        "\t  batch_size:\t64\n"
        "\t  learning_rate:\t0.0003\n"
        "\tnetwork_settings:\t\n"
        "\t  normalize:\tFalse\n"
        "\t  memory:\tNone"
    )


def test_hyperparameters_dump_of_a_dataclass() -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Inner:
        beta: float = 0.005

    @dataclass(frozen=True)
    class Outer:
        hyperparameters: Inner = Inner()

    assert hyperparameters_to_text(Outer()) == "\thyperparameters:\t\n\t  beta:\t0.005"
