"""save_state / load_state: round trip, atomic writes, clear errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from dojo.errors import RunError
from dojo.torch_layer.checkpoint import load_state, save_state
from dojo.torch_layer.networks import Actor

from .helpers import NETWORK_SETTINGS, SPECS


def _state() -> dict:
    spec = SPECS["hybrid"]
    actor = Actor(spec.observation_specs, spec.action_spec, NETWORK_SETTINGS)
    optimizer = torch.optim.Adam(actor.parameters(), lr=3e-4)
    actor.sample([torch.randn(4, 4), torch.randn(4, 2)]).log_prob.sum().backward()
    optimizer.step()
    return {
        "Policy": actor.state_dict(),
        "Optimizer:value_optimizer": optimizer.state_dict(),
        "global_step": 12345,
    }


def test_round_trip(tmp_path: Path) -> None:
    state = _state()
    path = save_state(tmp_path / "Behavior" / "checkpoint.pt", state)
    loaded = load_state(path)
    assert loaded["global_step"] == 12345
    assert set(loaded["Policy"]) == set(state["Policy"])
    assert all(torch.equal(loaded["Policy"][k], v) for k, v in state["Policy"].items())
    optimizer_state = loaded["Optimizer:value_optimizer"]
    assert optimizer_state["param_groups"][0]["lr"] == 3e-4


def test_write_is_atomic_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    save_state(path, {"global_step": 1})
    save_state(path, {"global_step": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
    assert load_state(path)["global_step"] == 2


def test_failed_write_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    save_state(path, {"global_step": 1})
    with pytest.raises((AttributeError, pickle.PicklingError, TypeError)):
        save_state(path, {"global_step": 2, "bad": lambda: None})  # lambdas cannot be pickled
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
    assert load_state(path)["global_step"] == 1


def test_missing_file_is_a_run_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "checkpoint.pt"
    with pytest.raises(RunError, match="does not exist") as info:
        load_state(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("truncate", [False, True])
def test_corrupt_file_is_a_run_error_naming_the_path(tmp_path: Path, truncate: bool) -> None:
    path = tmp_path / "checkpoint.pt"
    if truncate:
        save_state(path, _state())
        path.write_bytes(path.read_bytes()[:300])
    else:
        path.write_bytes(b"this is not a checkpoint")
    with pytest.raises(RunError, match="cannot be read") as info:
        load_state(path)
    assert str(path) in str(info.value)
    assert info.value.__cause__ is not None


class _Custom:
    pass


def test_arbitrary_objects_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    torch.save({"object": _Custom()}, path)
    with pytest.raises(RunError, match="cannot be read"):
        load_state(path)
    torch.save([1, 2], path)
    with pytest.raises(RunError, match="not a dict"):
        load_state(path)
