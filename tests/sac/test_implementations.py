"""SAC's two forms of the update (``hyperparameters.implementation``): whole updates of the
reference form (plain layers, autograd) and the fast form (hand-derived gradients, dojo's
kernels) give the same parameters; ``auto`` picks one and the settings say which; ``fast`` is
refused, with the reason and the fix, where it does not apply; checkpoints load across forms."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dojo.envs.base import ActionSpec, BehaviorSpec, ObservationSpec
from dojo.errors import ConfigError
from dojo_sac.trainer import SACTrainer
from tests.sac.test_interrupt_and_resume import helpers, pendulum_config
from tests.sac.test_trainer import PENDULUM, make_trainer, random_trajectories, sac_settings

THREE_ACTIONS = BehaviorSpec((ObservationSpec((5,)),), ActionSpec(continuous_size=3))


def updated(spec: BehaviorSpec, implementation: str, folder: Path, updates: int) -> SACTrainer:
    """A trainer of ``implementation`` after ``updates`` gradient steps on batches replayed
    from the same random trajectories (the same seeds give every trainer the same weights,
    batches and noise)."""
    settings = sac_settings({"hidden_units": 64}, implementation=implementation)
    trainer = make_trainer(spec, settings, folder)
    assert trainer.implementation == implementation
    trainer.process_trajectories(random_trajectories(spec, 12, 16, seed=3))
    torch.manual_seed(1)
    for _ in range(updates):
        trainer.update(trainer.sample_batch())
    trainer.close()
    return trainer


def every_parameter(trainer: SACTrainer) -> list[torch.Tensor]:
    """The policy's, the entropy coefficients', the Q networks' and the target networks'."""
    return [*trainer.parameters, *trainer.target_network.parameters()]


@pytest.mark.parametrize("spec", [PENDULUM, THREE_ACTIONS], ids=["pendulum", "three-actions"])
def test_whole_updates_of_both_forms_give_the_same_parameters(
    tmp_path: Path, spec: BehaviorSpec
) -> None:
    """Critic, policy, entropy coefficients and target networks after several updates.
    Largest difference seen: 3e-8 (float32 rounding of differently ordered sums)."""
    reference = updated(spec, "reference", tmp_path / "reference", updates=8)
    fast = updated(spec, "fast", tmp_path / "fast", updates=8)

    initial = make_trainer(spec, sac_settings({"hidden_units": 64}), tmp_path / "initial")
    moved = [
        (a - b).abs().max().item()
        for a, b in zip(every_parameter(reference), every_parameter(initial), strict=True)
    ]
    assert min(moved) > 0, "every parameter, target networks included, took a step"
    differences = [
        (a - b).abs().max().item()
        for a, b in zip(every_parameter(reference), every_parameter(fast), strict=True)
    ]
    assert max(differences) < 1e-6, max(differences)
    # The losses, values and entropy coefficients each update reported.
    torch.testing.assert_close(torch.stack(fast._stats), torch.stack(reference._stats))


def test_auto_picks_fast_where_it_applies_and_the_settings_say_which(tmp_path: Path) -> None:
    continuous = make_trainer(PENDULUM, sac_settings(), tmp_path / "continuous")
    assert continuous.implementation == "fast"
    assert continuous.settings.hyperparameters.implementation == "fast"
    assert continuous.q_network.speed_kernels and continuous.actor.body.speed_kernels
    reference = make_trainer(PENDULUM, sac_settings(implementation="reference"), tmp_path / "r")
    assert reference.settings.hyperparameters.implementation == "reference"
    assert not reference.q_network.speed_kernels and not reference.actor.body.speed_kernels
    discrete = BehaviorSpec((ObservationSpec((3,)),), ActionSpec(0, (3,)))
    trainer = make_trainer(discrete, sac_settings(), tmp_path / "discrete")
    assert trainer.settings.hyperparameters.implementation == "reference"


NOT_FOR_FAST = {
    "discrete": (
        BehaviorSpec((ObservationSpec((3,)),), ActionSpec(0, (3,))),
        None,
        "discrete actions (branches (3,))",
    ),
    "hybrid": (
        BehaviorSpec((ObservationSpec((3,)),), ActionSpec(1, (2,))),
        None,
        "discrete actions (branches (2,))",
    ),
    "memory": (
        PENDULUM,
        {"memory": {"memory_size": 8, "sequence_length": 4}},
        "network_settings.memory (recurrent networks)",
    ),
    "camera": (
        BehaviorSpec((ObservationSpec((3, 20, 20)),), ActionSpec(1, ())),
        None,
        "visual observations (observation 0, shape (3, 20, 20);",
    ),
}


@pytest.mark.parametrize("case", list(NOT_FOR_FAST))
def test_fast_is_refused_where_it_does_not_apply_and_auto_picks_reference(
    tmp_path: Path, case: str
) -> None:
    spec, network, reason = NOT_FOR_FAST[case]
    with pytest.raises(ConfigError) as refused:
        make_trainer(spec, sac_settings(network, implementation="fast"), tmp_path / "fast")
    key = "behaviors.B.hyperparameters.implementation"
    message = str(refused.value)
    assert message.startswith(f"{key} is fast, but SAC's fast path")
    assert f"does not cover {reason}" in message
    assert f"Set {key} to reference (or auto, which chooses reference here)." in message
    trainer = make_trainer(spec, sac_settings(network), tmp_path / "auto")
    assert trainer.implementation == "reference"
    trainer.close()


def test_a_checkpoint_of_either_form_loads_into_the_other(tmp_path: Path) -> None:
    reference = updated(PENDULUM, "reference", tmp_path / "reference", updates=3)
    reference.save_checkpoint(tmp_path / "reference.pt")
    fast = make_trainer(PENDULUM, sac_settings({"hidden_units": 64}), tmp_path / "fast", seed=5)
    assert fast.implementation == "fast"
    fast.load_checkpoint(tmp_path / "reference.pt")
    saved = torch.load(tmp_path / "reference.pt", weights_only=True)
    for key, network in (
        ("Policy", fast.actor),
        ("Optimizer:q_network", fast.q_network),
        ("Optimizer:target_network", fast.target_network),
    ):
        state = network.state_dict()
        assert list(state) == list(saved[key]), key
        for name, value in saved[key].items():
            torch.testing.assert_close(state[name], value, rtol=0, atol=0)
    assert fast.policy_optimizer.steps == reference.policy_optimizer.steps == 3

    # And back: the fast trainer's checkpoint into a reference trainer.
    fast.save_checkpoint(tmp_path / "fast.pt")
    settings = sac_settings({"hidden_units": 64}, implementation="reference")
    back = make_trainer(PENDULUM, settings, tmp_path / "back", seed=7)
    back.load_checkpoint(tmp_path / "fast.pt")
    for a, b in zip(every_parameter(back), every_parameter(reference), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    obs = [torch.randn(4, 3)]
    torch.testing.assert_close(
        back.q_network(obs, torch.zeros(4, 1)), fast.q_network(obs, torch.zeros(4, 1))
    )


def test_mlagents_learn_refuses_fast_in_one_line_before_creating_the_results(
    tmp_path: Path,
) -> None:
    config = pendulum_config(max_steps=1000)
    behavior = config["behaviors"]["Pendulum"]
    behavior["hyperparameters"]["implementation"] = "fast"
    behavior["network_settings"]["memory"] = {"memory_size": 8, "sequence_length": 4}
    helpers.write_config(tmp_path / "sac.yaml", config)

    completed = helpers.learn(["sac.yaml", "--run-id=refused", "--results-dir=results"], tmp_path)

    assert completed.returncode == 1, completed.describe()
    assert "Traceback" not in completed.output, completed.describe()
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.describe()
    assert lines[0].startswith("error: behaviors.Pendulum.hyperparameters.implementation is fast")
    assert "does not cover network_settings.memory" in lines[0]
    assert not (tmp_path / "results").exists()


def test_the_run_prints_which_form_auto_picked(tmp_path: Path) -> None:
    helpers.write_config(tmp_path / "sac.yaml", pendulum_config(max_steps=100))
    completed = helpers.learn(["sac.yaml", "--run-id=auto", "--results-dir=results"], tmp_path)
    assert completed.returncode == 0, completed.describe()
    assert "implementation:\tfast" in completed.output, completed.describe()
