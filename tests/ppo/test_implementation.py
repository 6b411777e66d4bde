"""``hyperparameters.implementation``: the reference and the fast update are the same update, and
the run says which one it trains with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dojo.api import SignalBatch, Trajectory
from dojo.envs.base import ActionSpec, ActionTuple, BehaviorSpec, DecisionSteps, ObservationSpec
from dojo.errors import ConfigError
from dojo.rewards.extrinsic import ExtrinsicRewardSignal
from dojo_ppo.trainer import PPOTrainer
from tests.e2e.helpers import cartpole_config, learn, write_config
from tests.ppo.test_trainer import cartpole_spec, make_trainer, ppo_settings
from tests.training_helpers import play

MASKED_SPEC = BehaviorSpec((ObservationSpec((6,)),), ActionSpec(0, (3, 3)))


class OppositeSignal(ExtrinsicRewardSignal):
    """A second reward signal whose rewards differ from the environment's: a second value head
    with its own returns."""

    stat_name = "Opposite"

    def evaluate(self, batch: SignalBatch) -> np.ndarray:
        return -batch.rewards


def two_head_trainer(implementation: str, tmp_path: Path) -> PPOTrainer:
    # 256 steps in minibatches of 64: four gradient steps per epoch, three epochs.
    settings = ppo_settings(
        implementation=implementation,
        batch_size=64,
        buffer_size=256,
        num_epoch=3,
        learning_rate=1e-3,
        beta=0.01,
    )
    base = settings.reward_signals["extrinsic"]
    signals = {
        "extrinsic": ExtrinsicRewardSignal(
            name="extrinsic", settings=base, behavior_spec=MASKED_SPEC
        ),
        "opposite": OppositeSignal(name="opposite", settings=base, behavior_spec=MASKED_SPEC),
    }
    return make_trainer(MASKED_SPEC, settings, tmp_path / implementation, signals)


def masked_rollout(trainer: PPOTrainer, agents: int = 8, length: int = 32) -> dict:
    """A rollout as the trainer prepares it: ``agents`` trajectories of ``length`` steps on
    random observations, each step with about a third of the actions disabled (at least one
    allowed per branch), actions sampled by ``trainer``."""
    rng = np.random.default_rng(7)
    n = agents * length
    obs = rng.normal(size=(n, 6)).astype(np.float32)
    disabled = rng.random((n, 6)) < 0.35
    for branch in (slice(0, 3), slice(3, 6)):
        nothing_allowed = disabled[:, branch].all(axis=1)
        disabled[nothing_allowed, branch.start] = False
    output = trainer.act(DecisionSteps([obs], np.zeros(n, np.float32), np.arange(n), disabled))
    trajectories = []
    for agent in range(agents):
        rows = slice(agent * length, (agent + 1) * length)
        trajectories.append(
            Trajectory(
                obs=[obs[rows]],
                next_obs=[rng.normal(size=6).astype(np.float32)],
                actions=ActionTuple(
                    np.empty((length, 0), np.float32), output.actions.discrete[rows]
                ),
                action_mask=disabled[rows],
                rewards=(0.1 * rng.normal(size=length)).astype(np.float32),
                extras={"log_prob": output.extras["log_prob"][rows]},
                done=agent % 2 == 0,
                interrupted=False,
                agent_id=agent,
            )
        )
    return dict(trainer.prepare_trajectories(trajectories))


def test_reference_and_fast_updates_end_equal(tmp_path: Path) -> None:
    reference = two_head_trainer("reference", tmp_path)
    fast = two_head_trainer("fast", tmp_path)
    assert reference._fused is None and fast._fused is not None
    before = [p.detach().clone() for p in fast.parameters]
    for mine, theirs in zip(reference.parameters, before, strict=True):
        assert torch.equal(mine, theirs)  # the same seed, the same initial weights
    rollout = masked_rollout(fast)
    assert rollout["masks"].min() == 0.0  # disabled actions

    for trainer in (reference, fast):
        trainer.update({key: value.copy() for key, value in rollout.items()})

    assert reference.optimizer.steps == fast.optimizer.steps == 12
    moved = max(
        float((p.detach() - b).abs().max()) for p, b in zip(fast.parameters, before, strict=True)
    )
    assert moved > 1e-3
    difference = max(
        float((a.detach() - b.detach()).abs().max())
        for a, b in zip(reference.parameters, fast.parameters, strict=True)
    )
    print(f"parameters moved by up to {moved:.3g}; the two paths differ by up to {difference:.3g}")
    assert difference < 1e-6
    for tag in ("Losses/Policy Loss", "Losses/Value Loss"):
        (expected,) = reference.context.stats.peek(tag)
        (got,) = fast.context.stats.peek(tag)
        print(f"{tag}: reference {expected!r}, fast {got!r}")
        assert got == pytest.approx(expected, abs=1e-6)


def test_auto_chooses_fast_where_it_applies_and_the_settings_say_so(tmp_path: Path) -> None:
    fast = make_trainer(cartpole_spec(), ppo_settings(), tmp_path / "a")
    assert fast.settings.hyperparameters.implementation == "fast"
    assert fast._fused is not None and fast._inference is not None
    assert fast.actor.body.speed_kernels and fast.critic.body.speed_kernels

    continuous = BehaviorSpec((ObservationSpec((3,)),), ActionSpec(1, ()))
    reference = make_trainer(continuous, ppo_settings(), tmp_path / "b")
    assert reference.settings.hyperparameters.implementation == "reference"
    assert reference._fused is None and reference._inference is None
    assert not reference.actor.body.speed_kernels and not reference.critic.body.speed_kernels

    asked = make_trainer(cartpole_spec(), ppo_settings(implementation="reference"), tmp_path / "c")
    assert asked.settings.hyperparameters.implementation == "reference"
    assert asked._fused is None and not asked.actor.body.speed_kernels


def test_a_checkpoint_of_one_implementation_trains_on_in_the_other(tmp_path: Path) -> None:
    fast = make_trainer(cartpole_spec(), ppo_settings(learning_rate=1e-3), tmp_path / "fast")
    play(fast, "CartPole-v1", steps=150)  # 600 steps: two updates
    fast.save_checkpoint(tmp_path / "checkpoint.pt")
    settings = ppo_settings(learning_rate=1e-3, implementation="reference")
    reference = make_trainer(cartpole_spec(), settings, tmp_path / "reference")

    reference.load_checkpoint(tmp_path / "checkpoint.pt")

    assert reference.step == fast.step and reference.optimizer.steps == fast.optimizer.steps > 0
    for mine, theirs in zip(reference.parameters, fast.parameters, strict=True):
        assert torch.equal(mine, theirs)
    for mine, theirs in zip(reference.optimizer.exp_avg, fast.optimizer.exp_avg, strict=True):
        assert torch.equal(mine, theirs)
    play(reference, "CartPole-v1", steps=100)  # 400 more steps: another update
    assert reference.optimizer.steps > fast.optimizer.steps


UNCOVERED = {
    "continuous actions": (BehaviorSpec((ObservationSpec((4,)),), ActionSpec(2, ())), {}),
    "branches of different sizes": (
        BehaviorSpec((ObservationSpec((4,)),), ActionSpec(0, (3, 2))),
        {},
    ),
    "visual observations": (
        BehaviorSpec((ObservationSpec((3, 20, 20)),), ActionSpec(0, (2,))),
        {},
    ),
    "network_settings.memory": (
        cartpole_spec(),
        {"memory": {"memory_size": 16, "sequence_length": 8}},
    ),
    "shared_critic: true": (cartpole_spec(), {"shared_critic": True}),
}


@pytest.mark.parametrize(("reason", "case"), list(UNCOVERED.items()), ids=list(UNCOVERED))
def test_fast_is_refused_where_it_does_not_apply_and_auto_falls_back(
    tmp_path: Path, reason: str, case: tuple[BehaviorSpec, dict]
) -> None:
    spec, settings = case
    with pytest.raises(ConfigError) as refused:
        make_trainer(spec, ppo_settings(implementation="fast", **settings), tmp_path / "fast")
    message = str(refused.value)
    assert reason in message
    assert "behaviors.B.hyperparameters.implementation" in message
    assert "reference" in message
    auto = make_trainer(spec, ppo_settings(**settings), tmp_path / "auto")
    assert auto.settings.hyperparameters.implementation == "reference"
    assert auto._fused is None


# --------------------------------------------------------------------------- the real command


def test_fast_where_it_does_not_apply_is_one_error_line_and_no_results(tmp_path: Path) -> None:
    config = cartpole_config(hyperparameters={"implementation": "fast", "shared_critic": True})
    write_config(tmp_path / "config.yaml", config)

    completed = learn(["config.yaml", "--run-id=refused", "--results-dir=results"], tmp_path)

    assert completed.returncode == 1, completed.describe()
    assert "Traceback" not in completed.output, completed.describe()
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, completed.describe()
    (error,) = errors
    assert "behaviors.CartPole.hyperparameters.implementation is fast" in error
    assert "shared_critic: true" in error and "to reference" in error
    assert not (tmp_path / "results").exists(), "nothing is written for a refused run"


def test_the_run_prints_the_implementation_auto_chose(tmp_path: Path) -> None:
    write_config(tmp_path / "config.yaml", cartpole_config(max_steps=300))

    completed = learn(["config.yaml", "--run-id=auto", "--results-dir=results"], tmp_path)

    assert completed.returncode == 0, completed.describe()
    printout = completed.stdout[completed.stdout.index("Hyperparameters for behavior name") :]
    assert "\n\t  implementation:\tfast\n" in printout, completed.describe()
