"""docs/contracts.md tells the truth: its field tables list exactly the fields of the classes they
name, and the facts it marks as checked hold."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

import dojo.api
from dojo.api import ActionTuple, Aggregation, SignalBatch, StatsSummary, Trajectory
from dojo.config.environment_parameters import CompletionCriteriaSchema

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")


def class_tables() -> list[tuple[str, str, list[list[str]]]]:
    """``(class name, first header cell, rows)`` of each table right under a ``### `Name```
    heading; cells without their backticks."""
    tables = []
    for match in re.finditer(r"^### `(\w+)`\n\n((?:\|.*\|\n)+)", CONTRACTS, re.M):
        lines = match[2].splitlines()
        rows = [[c.strip().strip("`") for c in line.strip("|").split("|")] for line in lines]
        tables.append((match[1], rows[0][0], rows[2:]))
    return tables


TABLES = class_tables()


def names_of(cls: type, kind: str) -> list[str]:
    """What a table of ``kind`` (its first header cell) must list for ``cls``."""
    if kind == "field" and dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls)]
    if kind == "member" and issubclass(cls, enum.Enum):
        return [member.name for member in cls]
    if kind == "keyword":
        parameters = inspect.signature(cls.__init__).parameters.values()
        return [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]
    raise AssertionError(f"no rule for a {kind!r} table of {cls.__name__}")


def test_the_page_has_class_tables() -> None:
    assert {name for name, _kind, _rows in TABLES} >= {
        "Trajectory", "ActionOutput", "ActionTuple", "DecisionSteps", "TerminalSteps",
        "SignalBatch", "StatsSummary", "Aggregation", "CompletionCriterion", "LessonProgress",
    }  # fmt: skip


@pytest.mark.parametrize(("name", "kind", "rows"), TABLES, ids=[t[0] for t in TABLES])
def test_a_table_lists_exactly_the_fields_of_its_class(
    name: str, kind: str, rows: list[list[str]]
) -> None:
    cls = getattr(dojo.api, name)  # every class the page documents is in dojo.api
    assert [row[0] for row in rows] == names_of(cls, kind)


def test_completion_criteria_defaults_are_the_schemas() -> None:
    (rows,) = [rows for name, _kind, rows in TABLES if name == "CompletionCriterion"]
    fields = CompletionCriteriaSchema().fields
    for key, default, _what in rows:
        field = fields[key]
        written = "required" if field.required else str(field.load_default)
        assert default.strip('"') == written, key


def test_masks_turn_from_disabled_to_allowed() -> None:
    from dojo.api import allowed_action_mask

    disabled = np.array([[True, False, False], [False, False, True]])
    allowed = allowed_action_mask(disabled)
    assert allowed is not None and allowed.dtype.is_floating_point
    assert str(allowed.dtype) == "torch.float32"
    assert allowed.tolist() == [[0.0, 1.0, 1.0], [1.0, 1.0, 0.0]]
    assert allowed_action_mask(None) is None


@pytest.mark.parametrize(
    ("aggregation", "value"),
    [
        (Aggregation.AVERAGE, 7 / 3),
        (Aggregation.MOST_RECENT, 4.0),
        (Aggregation.SUM, 7.0),
        (Aggregation.HISTOGRAM, 7 / 3),
    ],
)
def test_aggregations_write_what_the_page_says(aggregation: Aggregation, value: float) -> None:
    assert StatsSummary((1.0, 2.0, 4.0), aggregation).value == pytest.approx(value)
    if aggregation is not Aggregation.SUM:
        assert StatsSummary((), aggregation).value == 0.0


def test_tensorboard_names_are_the_pages() -> None:
    from dojo.stats.tensorboard_writer import HIDDEN_KEYS, HISTOGRAM_SUFFIX

    text = " ".join(CONTRACTS.split())
    assert f"under `<tag>{HISTOGRAM_SUFFIX}`" in text
    hidden = " and ".join(f"`{key}`" for key in sorted(HIDDEN_KEYS))
    assert f"the tags {hidden} are left out of TensorBoard" in text


@pytest.mark.parametrize(
    ("done", "interrupted", "last_done"),
    [(False, False, 0.0), (True, False, 1.0), (True, True, 0.0)],
)
def test_only_a_true_terminal_state_is_done_in_a_signal_batch(
    done: bool, interrupted: bool, last_done: float
) -> None:
    trajectory = Trajectory(
        obs=[np.zeros((3, 2), np.float32)],
        next_obs=[np.ones(2, np.float32)],
        actions=ActionTuple(np.zeros((3, 1), np.float32), np.zeros((3, 0), np.int64)),
        action_mask=None,
        rewards=np.ones(3, np.float32),
        extras={},
        done=done,
        interrupted=interrupted,
        agent_id=0,
    )
    batch = SignalBatch.from_trajectory(trajectory)
    assert batch.done.tolist() == [0.0, 0.0, last_done]
    assert batch.next_obs[0][-1].tolist() == [1.0, 1.0]  # next_obs closes the last transition
