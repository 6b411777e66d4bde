"""save_state / load_state: round trip, atomic writes, clear errors; non-strict loading of a
checkpoint saved with other network settings."""

from __future__ import annotations

import dataclasses
import logging
import pickle
from pathlib import Path

import pytest
import torch

from dojo.errors import RunError
from dojo.torch_layer.adam import GradientAdam
from dojo.torch_layer.checkpoint import CheckpointLoader, load_matching, load_state, save_state
from dojo.torch_layer.flat_parameters import flatten_parameters
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


# ------------------------------------------------------------------ loading a changed network


def _actor(hidden_units: int = 32, num_layers: int = 2, seed: int = 0) -> Actor:
    torch.manual_seed(seed)
    spec = SPECS["hybrid"]
    network = dataclasses.replace(
        NETWORK_SETTINGS, hidden_units=hidden_units, num_layers=num_layers
    )
    return Actor(spec.observation_specs, spec.action_spec, network)


def test_load_matching_loads_what_fits_and_names_the_rest() -> None:
    saved = _actor(hidden_units=64, seed=1).state_dict()
    actor = _actor(hidden_units=32)
    fresh = {key: value.clone() for key, value in actor.state_dict().items()}
    flat = flatten_parameters(list(actor.parameters()))  # the layout PPO trains in

    fit = load_matching(actor, saved)

    resized = {key: (network, checkpoint) for key, network, checkpoint in fit.resized}
    assert resized["body.layers.0.weight"] == ((32, 6), (64, 6))
    assert not fit.missing and not fit.unexpected and not fit.parameters_loaded
    after = actor.state_dict()
    for key, value in after.items():
        expected = fresh[key] if key in resized else saved[key]
        assert torch.equal(value, expected), key
    assert any(key not in resized for key in after if "weight" in key or "bias" in key)
    # Loaded in place: the parameters are still views of the flat buffer.
    flat.zero_()
    assert all(float(p.detach().abs().sum()) == 0.0 for p in actor.parameters())
    (line,) = fit.describe()
    assert line.startswith("sizes differ, initialised anew: ")
    assert "body.layers.0.weight [32, 6] (checkpoint [64, 6])" in line


def test_load_matching_reports_missing_and_unexpected_layers() -> None:
    deeper = _actor(num_layers=3).state_dict()
    actor = _actor(num_layers=2)
    fit = load_matching(actor, deeper)
    assert fit.unexpected == ("body.layers.2.weight", "body.layers.2.bias")
    assert not fit.missing and fit.parameters_loaded
    shallower = _actor(num_layers=1).state_dict()
    fit = load_matching(_actor(num_layers=2), shallower)
    assert fit.missing == ("body.layers.1.weight", "body.layers.1.bias")
    assert not fit.parameters_loaded


def _adam_state(actor: Actor) -> dict:
    adam = GradientAdam(list(actor.parameters()))
    adam.step([torch.ones_like(p) for p in actor.parameters()], lr=1e-3)
    return adam.state_dict()


def test_optimizer_is_restored_only_for_parameters_that_all_loaded(tmp_path: Path) -> None:
    wide = _actor(hidden_units=64)
    state = {"Policy": wide.state_dict(), "Adam": _adam_state(wide), "global_step": 7}
    path = save_state(tmp_path / "checkpoint.pt", state)

    same = _actor(hidden_units=64)
    adam = GradientAdam(list(same.parameters()))
    checkpoint = CheckpointLoader.read(path)
    assert checkpoint.optimizer("Adam", adam, checkpoint.module("Policy", same))
    assert adam.steps == 1 and checkpoint.step() == 7 and checkpoint.misfits == []

    narrow = _actor(hidden_units=32)
    adam = GradientAdam(list(narrow.parameters()))
    checkpoint = CheckpointLoader.read(path)
    assert not checkpoint.optimizer("Adam", adam, checkpoint.module("Policy", narrow))
    assert adam.steps == 0
    assert all(float(m.abs().sum()) == 0.0 for m in adam.exp_avg + adam.exp_avg_sq)
    assert checkpoint.misfits[-1] == "Adam: starts fresh, as not all its parameters were loaded"


def test_adam_refuses_moments_of_other_shapes_and_keeps_its_own() -> None:
    adam = GradientAdam(list(_actor(hidden_units=32).parameters()))
    with pytest.raises(ValueError, match=r"saved exp_avg\[0\] is \[64, 6\], parameter 0 is"):
        adam.load_state_dict(_adam_state(_actor(hidden_units=64)))
    assert adam.steps == 0
    with pytest.raises(ValueError, match="saved exp_avg for"):
        adam.load_state_dict(_adam_state(_actor(num_layers=3)))


def test_one_warning_names_every_part_that_did_not_fit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = save_state(tmp_path / "checkpoint.pt", {"Policy": _actor(hidden_units=64).state_dict()})
    checkpoint = CheckpointLoader.read(path)
    checkpoint.module("Policy", _actor(hidden_units=32))
    checkpoint.module("Optimizer:critic", _actor())
    with caplog.at_level(logging.WARNING, logger="dojo"):
        checkpoint.warn("Walker")
    (record,) = caplog.records
    message = record.getMessage()
    assert f"Checkpoint {path} does not fully fit the networks of Walker" in message
    assert "Policy: sizes differ, initialised anew: body.layers.0.weight [32, 6]" in message
    assert "Optimizer:critic: not in the checkpoint, initialised anew" in message
