"""Curiosity and RND: rewards for novelty that fall as the signal learns, and PPO integration."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dojo.api import RewardSignal, SignalBatch
from dojo.config.loader import resolve_run_options
from dojo.config.settings import TrainerSettings
from dojo.envs.base import ActionSpec, BehaviorSpec, ObservationSpec
from dojo.plugin_host import load_plugins
from dojo_ppo.trainer import PPOTrainer
from tests.training_helpers import build_trainer, play

HOST = load_plugins()
SPEC = BehaviorSpec((ObservationSpec((4,)),), ActionSpec(2, (3,)))


def behavior(signal: str, **own: Any) -> TrainerSettings:
    config = {
        "trainer_type": "ppo",
        "hyperparameters": {"batch_size": 64, "buffer_size": 256, "num_epoch": 2},
        "network_settings": {"hidden_units": 32},
        "reward_signals": {
            "extrinsic": {},
            signal: {"strength": 0.5, "network_settings": {"hidden_units": 32}, **own},
        },
        "time_horizon": 32,
        "max_steps": 5000,
    }
    return resolve_run_options({"behaviors": {"B": config}}, {}, HOST, "test").behaviors["B"]


def make_signal(name: str, spec: BehaviorSpec = SPEC, **own: Any) -> RewardSignal:
    settings = behavior(name, **own).reward_signals[name]
    factory = HOST.lookup("reward_signals", name).load_factory()
    return factory(name=name, settings=settings, behavior_spec=spec, device="cpu")


def batch(n: int = 64, seed: int = 0, shift: float = 0.0) -> SignalBatch:
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n, 4)).astype(np.float32) + shift
    return SignalBatch(
        obs=[obs],
        next_obs=[obs + 0.1 * rng.normal(size=(n, 4)).astype(np.float32)],
        continuous=rng.uniform(-1, 1, size=(n, 2)).astype(np.float32),
        discrete=rng.integers(0, 3, size=(n, 1)),
        rewards=np.zeros(n, np.float32),
        done=np.zeros(n, np.float32),
    )


@pytest.mark.parametrize("name", ["curiosity", "rnd"])
def test_reward_of_familiar_transitions_falls_while_novel_ones_stay_high(name: str) -> None:
    torch.manual_seed(0)
    signal = make_signal(name, learning_rate=1e-3)
    familiar, novel = batch(seed=1), batch(seed=2, shift=4.0)
    before = signal.evaluate(familiar).mean()
    for _ in range(150):
        stats = signal.update(familiar)
    after = signal.evaluate(familiar).mean()
    assert signal.evaluate(familiar).shape == (64,)
    assert after < 0.5 * before, (before, after)
    assert signal.evaluate(novel).mean() > 2 * after
    prefix = "Losses/Curiosity" if name == "curiosity" else "Losses/RND Loss"
    assert any(tag.startswith(prefix) for tag in stats)


def test_curiosity_reward_is_capped_so_strength_times_reward_is_at_most_one() -> None:
    signal = make_signal("curiosity")
    wild = batch(shift=50.0)
    assert signal.evaluate(wild).max() <= 1.0 / signal.strength + 1e-6


def test_curiosity_reports_forward_and_inverse_losses_for_discrete_only_actions() -> None:
    spec = BehaviorSpec((ObservationSpec((4,)),), ActionSpec(0, (2, 3)))
    signal = make_signal("curiosity", spec)
    data = batch()
    data.continuous = np.zeros((64, 0), np.float32)
    data.discrete = np.random.default_rng(0).integers(0, 2, size=(64, 2))
    stats = signal.update(data)
    assert set(stats) == {"Losses/Curiosity Forward Loss", "Losses/Curiosity Inverse Loss"}


@pytest.mark.parametrize("name", ["curiosity", "rnd"])
def test_state_dict_round_trip(name: str) -> None:
    signal = make_signal(name)
    for _ in range(20):
        signal.update(batch())
    copy = make_signal(name)
    copy.load_state_dict(signal.state_dict())
    np.testing.assert_allclose(copy.evaluate(batch(seed=5)), signal.evaluate(batch(seed=5)))


@pytest.mark.parametrize(("name", "trained"), [("curiosity", "network"), ("rnd", "predictor")])
def test_state_of_another_network_size_loads_what_fits(name: str, trained: str) -> None:
    signal = make_signal(name)  # hidden_units 32
    for _ in range(5):
        signal.update(batch())
    narrower = make_signal(name, network_settings={"hidden_units": 16})

    misfits = narrower.load_state_dict(signal.state_dict())

    assert misfits is not None
    assert any(
        line.startswith(f"{trained}: sizes differ, initialised anew: ") and "[16, 4]" in line
        for line in misfits
    ), misfits
    assert "optimizer: starts fresh, as not all its parameters were loaded" in misfits
    assert narrower.evaluate(batch()).shape == (64,)
    narrower.update(batch())  # its optimizer steps the new parameters


def test_learning_rate_defaults_are_ml_agents() -> None:
    assert behavior("curiosity").reward_signals["curiosity"].params.learning_rate == 3e-4
    assert behavior("rnd").reward_signals["rnd"].params.learning_rate == 1e-4


def test_unknown_key_has_the_dotted_path() -> None:
    with pytest.raises(Exception, match=r"reward_signals\.rnd\.learning_rat"):
        behavior("rnd", learning_rat=0.1)


@pytest.mark.parametrize("name", ["curiosity", "rnd"])
def test_ppo_trains_with_the_signal_and_checkpoints_it(name: str, tmp_path: Path) -> None:
    spec = BehaviorSpec((ObservationSpec((4,)),), ActionSpec(0, (2,)))
    settings = behavior(name)
    signals = {
        key: HOST.lookup("reward_signals", key).load_factory()(
            name=key, settings=value, behavior_spec=spec, device="cpu"
        )
        for key, value in settings.reward_signals.items()
    }
    trainer = build_trainer(PPOTrainer, spec, settings, tmp_path, signals)
    stats = play(trainer, "CartPole-v1", steps=200)
    stat = signals[name].stat_name
    assert stats.peek(f"Policy/{stat} Reward") and stats.peek(f"Policy/{stat} Value Estimate")
    loss_tags = [t for t in ("Losses/Curiosity Forward Loss", "Losses/RND Loss") if stats.peek(t)]
    assert loss_tags
    path = tmp_path / "checkpoint.pt"
    trainer.save_checkpoint(path)
    state = torch.load(path, weights_only=True)
    assert f"Module:{stat}" in state


def test_trainer_names_the_signal_parts_that_did_not_fit_in_its_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = BehaviorSpec((ObservationSpec((4,)),), ActionSpec(0, (2,)))

    def trainer_with_curiosity(hidden_units: int, folder: Path) -> PPOTrainer:
        settings = behavior("curiosity", network_settings={"hidden_units": hidden_units})
        signals = {
            key: HOST.lookup("reward_signals", key).load_factory()(
                name=key, settings=value, behavior_spec=spec, device="cpu"
            )
            for key, value in settings.reward_signals.items()
        }
        return build_trainer(PPOTrainer, spec, settings, folder, signals)

    path = tmp_path / "checkpoint.pt"
    trainer_with_curiosity(32, tmp_path / "a").save_checkpoint(path)
    restored = trainer_with_curiosity(16, tmp_path / "b")
    with caplog.at_level(logging.WARNING, logger="dojo"):
        restored.load_checkpoint(path)
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "Module:Curiosity: network: sizes differ, initialised anew: " in warning
    assert "Module:Curiosity: optimizer: starts fresh" in warning
    assert "Policy:" not in warning, "the policy's network did not change"
