"""The PPO trainer on real Gymnasium environments and hand-made action masks."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import onnxruntime
import pytest
import torch

from dojo.config.loader import resolve_run_options
from dojo.config.settings import TrainerSettings
from dojo.envs.base import ActionSpec, BehaviorSpec, DecisionSteps, ObservationSpec
from dojo.plugin_host import load_plugins
from dojo.rewards.extrinsic import ExtrinsicRewardSignal
from dojo.training.sequences import SequenceLayout
from dojo_ppo.trainer import PPOTrainer
from tests.training_helpers import build_trainer, half_masked_decision_steps, play

HOST = load_plugins()


def ppo_settings(
    normalize: bool = False, memory: dict | None = None, **hyperparameters: Any
) -> TrainerSettings:
    behavior = {
        "trainer_type": "ppo",
        "hyperparameters": {"batch_size": 128, "buffer_size": 256, "num_epoch": 4}
        | hyperparameters,
        "network_settings": {
            "hidden_units": 32,
            "num_layers": 2,
            "normalize": normalize,
            "memory": memory,
        },
        "time_horizon": 32,
        "max_steps": 20000,
    }
    options = resolve_run_options({"behaviors": {"B": behavior}}, {}, HOST, "test")
    return options.behaviors["B"]


def make_trainer(
    spec: BehaviorSpec, settings: TrainerSettings, tmp_path: Path, signals: dict | None = None
) -> PPOTrainer:
    return build_trainer(PPOTrainer, spec, settings, tmp_path / "B", signals)


def cartpole_spec() -> BehaviorSpec:
    return BehaviorSpec((ObservationSpec((4,)),), ActionSpec(0, (2,)))


def test_learns_cartpole_in_a_short_run(tmp_path: Path) -> None:
    settings = ppo_settings(learning_rate=1e-3, beta=0.0, lambd=0.8, batch_size=256, num_epoch=20)
    trainer = make_trainer(cartpole_spec(), settings, tmp_path)
    stats = play(trainer, "CartPole-v1", steps=2500)  # 10,000 agent steps
    returns = stats.peek("Environment/Cumulative Reward")
    early, late = np.mean(returns[:20]), np.mean(returns[-20:])
    # Random play lasts about 22 steps; seeded, this run ends near 190.
    assert late > 3 * early and late > 100, (early, late)
    # All steps but the unfinished trajectories (under one time horizon per environment).
    assert trainer.step > 10_000 - 4 * 32
    for tag in ("Losses/Policy Loss", "Losses/Value Loss", "Policy/Learning Rate"):
        assert stats.peek(tag), tag


@pytest.mark.parametrize("final", [0.1, 0.0], ids=["ml-agents", "sb3"])
def test_linear_epsilon_decays_towards_epsilon_final(tmp_path: Path, final: float) -> None:
    settings = ppo_settings(epsilon=0.2, epsilon_final=final, epsilon_schedule="linear")
    assert settings.hyperparameters.epsilon_final == final
    trainer = make_trainer(cartpole_spec(), settings, tmp_path)
    stats = play(trainer, "CartPole-v1", steps=600)  # 2,400 of max_steps 20,000

    def scheduled(step: int) -> float:
        return 0.2 - (0.2 - final) * step / 20_000

    epsilons = stats.peek("Policy/Epsilon")
    assert epsilons == sorted(epsilons, reverse=True) and epsilons[0] < 0.2
    # The last update ran at most one rollout (256 steps) before the last step.
    assert scheduled(trainer.step) <= epsilons[-1] <= scheduled(trainer.step - 256)


def test_masked_actions_are_never_taken(tmp_path: Path) -> None:
    spec = BehaviorSpec((ObservationSpec((3,)),), ActionSpec(0, (3, 2)))
    trainer = make_trainer(spec, ppo_settings(), tmp_path)
    n = 64
    steps = half_masked_decision_steps(n)
    for _ in range(20):
        actions = trainer.act(steps).actions.discrete
        assert (actions[: n // 2, 0] == 2).all()
        assert (actions[n // 2 :, 1] == 0).all()


def test_continuous_actions_train_and_stay_in_range(tmp_path: Path) -> None:
    spec = BehaviorSpec((ObservationSpec((3,)),), ActionSpec(1, ()))
    trainer = make_trainer(spec, ppo_settings(), tmp_path)
    stats = play(trainer, "Pendulum-v1", steps=200)
    assert stats.peek("Losses/Policy Loss")
    steps = DecisionSteps(
        [np.random.default_rng(1).normal(size=(256, 3)).astype(np.float32) * 10],
        np.zeros(256, np.float32),
        np.arange(256),
    )
    actions = trainer.act(steps).actions.continuous
    assert actions.shape == (256, 1) and np.abs(actions).max() <= 1.0


class BonusSignal(ExtrinsicRewardSignal):
    stat_name = "Bonus"


def test_one_value_head_per_reward_signal(tmp_path: Path) -> None:
    settings = ppo_settings()
    spec = cartpole_spec()
    base = settings.reward_signals["extrinsic"]
    signals = {
        "extrinsic": ExtrinsicRewardSignal(name="extrinsic", settings=base, behavior_spec=spec),
        "bonus": BonusSignal(name="bonus", settings=base, behavior_spec=spec),
    }
    trainer = make_trainer(spec, settings, tmp_path, signals)
    stats = play(trainer, "CartPole-v1", steps=100)
    values = trainer.critic([torch.zeros(2, 4)])
    assert sorted(values) == ["bonus", "extrinsic"]
    assert stats.peek("Policy/Extrinsic Value Estimate") and stats.peek(
        "Policy/Bonus Value Estimate"
    )
    assert stats.peek("Policy/Bonus Reward") == stats.peek("Policy/Extrinsic Reward")


def test_shared_critic_adds_only_value_heads(tmp_path: Path) -> None:
    trainer = make_trainer(cartpole_spec(), ppo_settings(shared_critic=True), tmp_path)
    own = {id(p) for p in trainer.critic.parameters()}
    assert not own & {id(p) for p in trainer.actor.parameters()}
    assert sum(p.numel() for p in trainer.critic.parameters()) == 32 + 1
    play(trainer, "CartPole-v1", steps=100)
    assert trainer.context.stats.peek("Losses/Value Loss")


@pytest.mark.parametrize("reset_step", [False, True])
def test_checkpoint_round_trip(tmp_path: Path, reset_step: bool) -> None:
    settings = ppo_settings(learning_rate=1e-3)
    trainer = make_trainer(cartpole_spec(), settings, tmp_path)
    play(trainer, "CartPole-v1", steps=150)
    path = tmp_path / "checkpoint.pt"
    trainer.save_checkpoint(path)
    restored = make_trainer(cartpole_spec(), settings, tmp_path / "other")
    restored.load_checkpoint(path, reset_step=reset_step)
    assert restored.step == (0 if reset_step else trainer.step)
    obs = [torch.randn(50, 4)]
    expected = trainer.actor.act(obs, deterministic=True).discrete
    np.testing.assert_array_equal(restored.actor.act(obs, deterministic=True).discrete, expected)
    for a, b in zip(trainer.critic.parameters(), restored.critic.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    if not reset_step:
        assert restored.optimizer.steps == trainer.optimizer.steps > 0
        for a, b in zip(restored.optimizer.exp_avg_sq, trainer.optimizer.exp_avg_sq, strict=True):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize("reset_step", [False, True], ids=["resume", "initialize-from"])
def test_checkpoint_of_another_network_size_loads_what_fits_and_trains_on(
    tmp_path: Path, reset_step: bool, caplog: pytest.LogCaptureFixture
) -> None:
    settings = ppo_settings(learning_rate=1e-3)  # hidden_units 32
    trainer = make_trainer(cartpole_spec(), settings, tmp_path)
    play(trainer, "CartPole-v1", steps=150)
    path = tmp_path / "checkpoint.pt"
    trainer.save_checkpoint(path)
    narrower = dataclasses.replace(
        settings, network_settings=dataclasses.replace(settings.network_settings, hidden_units=16)
    )
    restored = make_trainer(cartpole_spec(), narrower, tmp_path / "other")

    with caplog.at_level(logging.WARNING, logger="dojo"):
        restored.load_checkpoint(path, reset_step=reset_step)

    assert restored.step == (0 if reset_step else trainer.step)
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    resized = "body.layers.0.weight [16, 4] (checkpoint [32, 4])"
    assert f"Policy: sizes differ, initialised anew: {resized}" in warning
    assert "Optimizer:critic: sizes differ" in warning
    # The one parameter whose size did not change is loaded: the logits' biases.
    torch.testing.assert_close(
        restored.actor.action_model.logits_layer.bias, trainer.actor.action_model.logits_layer.bias
    )
    # Adam's moments belong to the old parameters: they start from zero, with the step count.
    assert restored.optimizer.steps == 0
    assert not any(float(m.abs().sum()) for m in restored.optimizer.exp_avg)
    if not reset_step:
        assert "Optimizer:value_optimizer: starts fresh" in warning
    flat = restored._flat_parameters.copy()
    play(restored, "CartPole-v1", steps=100)  # 400 steps: at least one update
    assert restored.optimizer.steps > 0
    assert not np.array_equal(flat, restored._flat_parameters)


def test_normalizer_follows_observations_and_survives_checkpoints(tmp_path: Path) -> None:
    spec = BehaviorSpec((ObservationSpec((3,)),), ActionSpec(1, ()))
    settings = ppo_settings(normalize=True)
    trainer = make_trainer(spec, settings, tmp_path)
    play(trainer, "Pendulum-v1", steps=100)  # 400 steps: cos, sin, angular velocity
    normalizer = trainer.actor.encoder.normalizer
    assert normalizer is not None and int(normalizer.count) == trainer.step
    assert float(normalizer.var[2]) > 1.0  # angular velocity spreads far beyond unit variance
    path = tmp_path / "checkpoint.pt"
    trainer.save_checkpoint(path)
    restored = make_trainer(spec, settings, tmp_path / "other")
    restored.load_checkpoint(path)
    for name in ("count", "mean", "var"):
        torch.testing.assert_close(
            getattr(restored.actor.encoder.normalizer, name), getattr(normalizer, name)
        )
    obs = [torch.randn(20, 3) * 5]
    torch.testing.assert_close(
        restored.actor.act(obs, deterministic=True).continuous,
        trainer.actor.act(obs, deterministic=True).continuous,
    )


# --------------------------------------------------------------------------- recurrent memory


def no_velocity_spec() -> BehaviorSpec:
    return BehaviorSpec((ObservationSpec((2,)),), ActionSpec(0, (2,)))


class CueRecall(gym.Env):
    """A memory task: the first observation shows a cue (-1 or 1), the next ones show nothing
    but, at the last step, a flag asking for the cue's action; a right answer earns 1. Without
    memory a policy can only guess (mean return 0.5)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)
    length = 4

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> Any:
        super().reset(seed=seed)
        self.cue = int(self.np_random.integers(2))
        self.t = 0
        return np.array([2.0 * self.cue - 1.0, 0.0], np.float32), {}

    def step(self, action: Any) -> Any:
        self.t += 1
        if self.t < self.length:
            asking = float(self.t == self.length - 1)
            return np.array([0.0, asking], np.float32), 0.0, False, False, {}
        return np.zeros(2, np.float32), float(int(action) == self.cue), True, False, {}


if "test/CueRecall-v0" not in gym.registry:
    gym.register("test/CueRecall-v0", entry_point=CueRecall)


def test_memory_learns_what_the_observations_hide(tmp_path: Path) -> None:
    """With an LSTM the policy recalls a cue shown three steps earlier; a feed-forward one with
    the same settings keeps guessing."""
    late = {}
    for memory in (None, {"memory_size": 16, "sequence_length": 4}):
        settings = ppo_settings(
            memory=memory, learning_rate=3e-3, beta=0.0, batch_size=128, num_epoch=4
        )
        spec = BehaviorSpec((ObservationSpec((2,)),), ActionSpec(0, (2,)))
        trainer = make_trainer(spec, settings, tmp_path / str(bool(memory)))
        stats = play(trainer, "test/CueRecall-v0", steps=1500)  # 6,000 agent steps
        late[bool(memory)] = np.mean(stats.peek("Environment/Cumulative Reward")[-100:])
    # Seeds 0-2: feed-forward 0.43-0.58, memory 1.0.
    assert late[True] > 0.9 and late[False] < 0.7, late


def test_sequences_restart_from_the_stored_memories(tmp_path: Path) -> None:
    """What the update replays equals what happened while acting: log-probabilities and values
    recomputed over padded sequences from the stored starting memories match the stored ones,
    memories restart from zero with each episode and carry over a time-horizon cut."""
    settings = ppo_settings(
        memory={"memory_size": 16, "sequence_length": 5}, batch_size=10, buffer_size=100000
    )
    trainer = make_trainer(no_velocity_spec(), settings, tmp_path)
    seen: list = []
    play(trainer, "dojo/CartPoleNoVel-v0", steps=150, trajectories_seen=seen)
    rollout = trainer.rollout.take()  # no update ran: buffer_size is far away

    layout = SequenceLayout.from_starts(rollout["sequence_start"], 5)
    assert layout.n_sequences > len(seen)  # trajectories of 32 steps make several sequences
    padded_obs = torch.from_numpy(layout.pad(rollout["obs/0"]))
    padded_actions = torch.from_numpy(layout.pad(rollout["discrete"]))
    valid = torch.from_numpy(layout.valid.reshape(-1))
    with torch.no_grad():
        log_prob, _ = trainer.actor.evaluate(
            [padded_obs],
            None,
            None,
            padded_actions,
            torch.from_numpy(rollout["memory"][layout.starts]),
            5,
        )
        values = trainer.critic(
            [padded_obs], torch.from_numpy(rollout["critic_memory"][layout.starts]), 5
        )
    np.testing.assert_allclose(log_prob[valid].numpy(), rollout["log_prob"], atol=1e-5)
    np.testing.assert_allclose(
        values["extrinsic"][valid].numpy(), rollout["values/extrinsic"], atol=1e-5
    )

    # Episode starts (an agent's first trajectory or the one after an episode end) act from
    # zero memory; a trajectory continuing an episode after a cut does not.
    previous_done: dict[int, bool] = {}
    starts, continuations = [], []
    for trajectory in seen:
        first = trajectory.extras["memory"][0]
        (starts if previous_done.get(trajectory.agent_id, True) else continuations).append(first)
        previous_done[trajectory.agent_id] = trajectory.done
    assert starts and continuations
    assert not np.any(starts)
    assert all(np.abs(memory).max() > 1e-3 for memory in continuations)


def test_recurrent_policy_checkpoints_and_exports(tmp_path: Path) -> None:
    settings = ppo_settings(memory={"memory_size": 8, "sequence_length": 4}, batch_size=32)
    trainer = make_trainer(no_velocity_spec(), settings, tmp_path)
    play(trainer, "dojo/CartPoleNoVel-v0", steps=200)
    trainer.save_checkpoint(tmp_path / "checkpoint.pt")
    trainer.export_onnx(tmp_path / "B.onnx")
    restored = make_trainer(no_velocity_spec(), settings, tmp_path / "restored")
    restored.load_checkpoint(tmp_path / "checkpoint.pt")
    for before, after in zip(
        trainer.actor.state_dict().values(), restored.actor.state_dict().values(), strict=True
    ):
        assert torch.equal(before, after)
    for before, after in zip(
        trainer.critic.state_dict().values(), restored.critic.state_dict().values(), strict=True
    ):
        assert torch.equal(before, after)
    session = onnxruntime.InferenceSession(str(tmp_path / "B.onnx"))
    assert [i.name for i in session.get_inputs()] == ["obs_0", "action_masks", "recurrent_in"]
