"""The trained ``<Behavior>.onnx`` runs in onnxruntime with ML-Agents' names and acts like the
policy saved in ``checkpoint.pt`` (a recurrent one too, memories carried step by step)."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import numpy as np
import onnxruntime
import pytest
import torch

from dojo.config.settings import MemorySettings, NetworkSettings
from dojo.envs.base import ActionSpec, ObservationSpec
from dojo.envs.example_envs import register_example_environments
from dojo.torch_layer.networks import Actor

from .conftest import FinishedRun
from .helpers import learn, write_config

# The network of the runs' configurations (hidden_units 32, num_layers 1).
NETWORK = NetworkSettings(hidden_units=32, num_layers=1)
N_OBSERVATIONS = 100


def _session(path: Path) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _outputs(session: onnxruntime.InferenceSession, feed: dict[str, np.ndarray]) -> dict:
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, feed), strict=True))


def _actor(checkpoint: Path, observation_size: int, action_spec: ActionSpec) -> Actor:
    """The policy of ``checkpoint.pt`` as a user would rebuild it from the saved state."""
    actor = Actor((ObservationSpec((observation_size,)),), action_spec, NETWORK)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    actor.load_state_dict(state["Policy"])
    return actor.eval()


@pytest.fixture(scope="module")
def pendulum_run(tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    """A few hundred steps on Pendulum-v1 (one continuous action)."""
    cwd = tmp_path_factory.mktemp("pendulum_run")
    config = {
        "behaviors": {
            "Pendulum": {
                "trainer_type": "ppo",
                "hyperparameters": {"batch_size": 128, "buffer_size": 256, "num_epoch": 1},
                "network_settings": {"hidden_units": 32, "num_layers": 1},
                "max_steps": 600,
                "time_horizon": 32,
                "summary_freq": 500,
            }
        },
        "env_settings": {"env_path": "gymnasium:Pendulum-v1", "num_envs": 2},
    }
    path = write_config(cwd / "pendulum.yaml", config)
    completed = learn([path.name, "--run-id=pendulum", "--seed=0", "--results-dir=results"], cwd)
    assert completed.returncode == 0, completed.describe()
    return FinishedRun(cwd, "pendulum", path, completed, behavior="Pendulum")


def test_discrete_model_has_ml_agents_inputs_outputs_and_constants(
    cartpole_run: FinishedRun,
) -> None:
    session = _session(cartpole_run.run_dir / "CartPole.onnx")
    inputs = {i.name: i for i in session.get_inputs()}
    assert list(inputs) == ["obs_0", "action_masks"]
    assert inputs["obs_0"].shape[1:] == [4]
    assert inputs["action_masks"].shape[1:] == [2]
    assert [o.name for o in session.get_outputs()] == [
        "version_number",
        "memory_size",
        "discrete_actions",
        "discrete_action_output_shape",
        "deterministic_discrete_actions",
    ]
    feed = {"obs_0": np.zeros((3, 4), np.float32), "action_masks": np.ones((3, 2), np.float32)}
    outputs = _outputs(session, feed)
    assert outputs["version_number"].tolist() == [3.0]
    assert outputs["memory_size"].tolist() == [0.0]
    assert outputs["discrete_action_output_shape"].tolist() == [[2.0]]
    assert outputs["discrete_actions"].shape == (3, 1)
    assert set(outputs["discrete_actions"].ravel().tolist()) <= {0, 1}


def test_discrete_model_acts_like_the_saved_policy(cartpole_run: FinishedRun) -> None:
    actor = _actor(
        cartpole_run.behavior_dir / "checkpoint.pt", 4, ActionSpec(discrete_branches=(2,))
    )
    rng = np.random.default_rng(0)
    obs = rng.normal(scale=[1.0, 2.0, 0.2, 2.0], size=(N_OBSERVATIONS, 4)).astype(np.float32)
    masks = np.ones((N_OBSERVATIONS, 2), np.float32)
    outputs = _outputs(
        _session(cartpole_run.run_dir / "CartPole.onnx"), {"obs_0": obs, "action_masks": masks}
    )
    expected = actor.act([torch.from_numpy(obs)], torch.from_numpy(masks), deterministic=True)
    # Where both actions are (nearly) equally likely, rounding may pick either one.
    clear = np.abs(expected.log_prob.numpy() - np.log(0.5)) > 1e-4
    assert clear.sum() > N_OBSERVATIONS // 2
    np.testing.assert_array_equal(
        outputs["deterministic_discrete_actions"][clear], expected.discrete.numpy()[clear]
    )
    # The trained policy is not constant: both actions occur.
    assert set(outputs["deterministic_discrete_actions"].ravel().tolist()) == {0, 1}

    # A masked action is never taken, sampled or deterministic.
    only_right = np.tile(np.array([[0.0, 1.0]], np.float32), (N_OBSERVATIONS, 1))
    masked = _outputs(
        _session(cartpole_run.run_dir / "CartPole.onnx"), {"obs_0": obs, "action_masks": only_right}
    )
    assert (masked["deterministic_discrete_actions"] == 1).all()
    assert (masked["discrete_actions"] == 1).all()


def test_continuous_model_has_ml_agents_outputs_and_acts_like_the_saved_policy(
    pendulum_run: FinishedRun,
) -> None:
    session = _session(pendulum_run.run_dir / "Pendulum.onnx")
    assert [i.name for i in session.get_inputs()] == ["obs_0"]
    assert [o.name for o in session.get_outputs()] == [
        "version_number",
        "memory_size",
        "continuous_actions",
        "continuous_action_output_shape",
        "deterministic_continuous_actions",
    ]
    rng = np.random.default_rng(1)
    angle = rng.uniform(-np.pi, np.pi, N_OBSERVATIONS)
    speed = rng.uniform(-8.0, 8.0, N_OBSERVATIONS)
    obs = np.stack([np.cos(angle), np.sin(angle), speed], axis=1).astype(np.float32)
    outputs = _outputs(session, {"obs_0": obs})
    assert outputs["version_number"].tolist() == [3.0]
    assert outputs["memory_size"].tolist() == [0.0]
    assert outputs["continuous_action_output_shape"].tolist() == [1.0]
    assert outputs["continuous_actions"].shape == (N_OBSERVATIONS, 1)
    assert np.abs(outputs["continuous_actions"]).max() <= 1.0

    actor = _actor(pendulum_run.behavior_dir / "checkpoint.pt", 3, ActionSpec(continuous_size=1))
    expected = actor.act([torch.from_numpy(obs)], deterministic=True)
    np.testing.assert_allclose(
        outputs["deterministic_continuous_actions"],
        Actor.env_actions(expected.continuous).numpy(),
        atol=1e-5,
        rtol=0,
    )


# The recurrent run's network: an LSTM of 16 floats of memory (8 units) after one dense layer.
RECURRENT_NETWORK = NetworkSettings(
    hidden_units=32, num_layers=1, memory=MemorySettings(memory_size=16, sequence_length=8)
)


@pytest.fixture(scope="module")
def recurrent_run(tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    """3,000 steps of PPO with memory on CartPole without velocities."""
    cwd = tmp_path_factory.mktemp("recurrent_run")
    config = {
        "behaviors": {
            "CartPoleNoVel": {
                "trainer_type": "ppo",
                "hyperparameters": {
                    "batch_size": 64,
                    "buffer_size": 256,
                    "num_epoch": 4,
                    "learning_rate": 3e-3,
                },
                "network_settings": {
                    "hidden_units": 32,
                    "num_layers": 1,
                    "memory": {"memory_size": 16, "sequence_length": 8},
                },
                "max_steps": 3000,
                "time_horizon": 32,
                "summary_freq": 1000,
            }
        },
        "env_settings": {"env_path": "gymnasium:dojo/CartPoleNoVel-v0", "num_envs": 2},
    }
    path = write_config(cwd / "novel.yaml", config)
    completed = learn([path.name, "--run-id=novel", "--seed=0", "--results-dir=results"], cwd)
    assert completed.returncode == 0, completed.describe()
    return FinishedRun(cwd, "novel", path, completed, behavior="CartPoleNoVel")


def test_recurrent_model_carries_memories_like_the_saved_policy(
    recurrent_run: FinishedRun,
) -> None:
    """Run the exported model step by step through a CartPoleNoVel episode, feeding each step's
    ``recurrent_out`` back as ``recurrent_in``, next to the torch policy of ``checkpoint.pt``:
    same memories (1e-5) and same deterministic actions at all 50 steps."""
    session = _session(recurrent_run.run_dir / "CartPoleNoVel.onnx")
    inputs = {i.name: i for i in session.get_inputs()}
    assert list(inputs) == ["obs_0", "action_masks", "recurrent_in"]
    assert inputs["recurrent_in"].shape == ["batch", 1, 16]
    output_names = [o.name for o in session.get_outputs()]
    assert output_names[:2] == ["version_number", "memory_size"]
    assert output_names[-1] == "recurrent_out"

    actor = Actor((ObservationSpec((2,)),), ActionSpec(discrete_branches=(2,)), RECURRENT_NETWORK)
    state = torch.load(
        recurrent_run.behavior_dir / "checkpoint.pt", map_location="cpu", weights_only=True
    )
    actor.load_state_dict(state["Policy"])
    actor.eval()

    register_example_environments()
    env = gymnasium.make("dojo/CartPoleNoVel-v0")
    obs, _ = env.reset(seed=3)
    onnx_memory = np.zeros((1, 1, 16), np.float32)
    torch_memory = torch.zeros(1, 16)
    masks = np.ones((1, 2), np.float32)
    episodes, actions, log_probs = 1, [], []
    for _ in range(50):
        batch = np.asarray(obs, np.float32)[None]
        outputs = _outputs(
            session, {"obs_0": batch, "action_masks": masks, "recurrent_in": onnx_memory}
        )
        assert outputs["memory_size"].tolist() == [16.0]
        expected, torch_memory = actor.act_with_memories(
            [torch.from_numpy(batch)], torch.from_numpy(masks), torch_memory, deterministic=True
        )
        np.testing.assert_allclose(
            outputs["recurrent_out"][:, 0], torch_memory.numpy(), atol=1e-5, rtol=1e-5
        )
        action = int(outputs["deterministic_discrete_actions"][0, 0])
        assert action == int(expected.discrete[0, 0])
        actions.append(action)
        log_probs.append(float(expected.log_prob[0]))
        onnx_memory = outputs["recurrent_out"]
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            # A new episode starts from zero memory, as in training.
            obs, _ = env.reset()
            onnx_memory = np.zeros_like(onnx_memory)
            torch_memory = torch.zeros_like(torch_memory)
            episodes += 1
    env.close()
    # The memory is in use: the carried state is not zero, and the policy's confidence in its
    # action changes from step to step (so equal actions are no coincidence of a constant).
    assert np.abs(onnx_memory).max() > 1e-3
    assert np.ptp(log_probs) > 1e-3, log_probs
