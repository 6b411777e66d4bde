"""LSTM memory (``network_settings.memory``): what the actor remembers while acting is what it
trains on, sequence by sequence."""

from __future__ import annotations

import pytest
import torch

from dojo.config.settings import MemorySettings, NetworkSettings
from dojo.errors import ConfigError
from dojo.torch_layer.memory import LSTMMemory
from dojo.torch_layer.networks import Actor, Critic

from .helpers import SPECS, random_masks

RECURRENT = NetworkSettings(
    hidden_units=16, num_layers=1, memory=MemorySettings(memory_size=12, sequence_length=5)
)


def _actor(name: str) -> Actor:
    torch.manual_seed(0)
    spec = SPECS[name]
    return Actor(spec.observation_specs, spec.action_spec, RECURRENT)


def test_memory_is_hidden_plus_cell_state() -> None:
    actor = _actor("discrete")
    assert actor.memory_size == 12
    assert actor.hidden_size == 6  # the LSTM has memory_size / 2 units
    critic = Critic(SPECS["discrete"].observation_specs, RECURRENT, ["extrinsic"])
    assert critic.memory_size == 12
    assert critic.memory is not actor.memory


@pytest.mark.parametrize("size", [0, 7])
def test_odd_or_empty_memory_is_refused(size: int) -> None:
    with pytest.raises(ConfigError, match="memory_size"):
        LSTMMemory(4, size)


@pytest.mark.parametrize("name", ["continuous", "discrete", "hybrid"])
def test_sequences_reproduce_the_steps_taken_one_at_a_time(name: str) -> None:
    """Acting carries memories step by step; training replays sequences from the memory stored
    at their first step. Both must give the same log-probabilities (or PPO's ratio is off)."""
    spec = SPECS[name]
    actor = _actor(name)
    generator = torch.Generator().manual_seed(1)
    n_agents, steps = 3, 5
    obs_steps = [
        [torch.randn((n_agents, *s.shape), generator=generator) for s in spec.observation_specs]
        for _ in range(steps)
    ]
    masks = None
    if spec.action_spec.discrete_branches:
        masks = random_masks(spec.action_spec.discrete_branches, n_agents * steps, generator)
    start = torch.randn(n_agents, actor.memory_size, generator=generator)
    memories, samples = start, []
    for t, obs in enumerate(obs_steps):
        step_masks = None if masks is None else masks.reshape(n_agents, steps, -1)[:, t]
        sample, memories = actor.act_with_memories(obs, step_masks, memories)
        samples.append(sample)

    # The same experience as one sequence per agent, [agent, step] flattened.
    sequences = [
        torch.stack([obs[i] for obs in obs_steps], dim=1).reshape(n_agents * steps, -1)
        for i in range(len(spec.observation_specs))
    ]

    def stacked(field: str) -> torch.Tensor | None:
        values = [getattr(s, field) for s in samples]
        if values[0] is None:
            return None
        return torch.stack(values, dim=1).reshape(n_agents * steps, *values[0].shape[1:])

    log_prob, _ = actor.evaluate(
        sequences, masks, stacked("continuous"), stacked("discrete"), start, steps
    )
    torch.testing.assert_close(log_prob, stacked("log_prob"), atol=1e-5, rtol=1e-5)
    _, after = actor.hidden_and_memories(sequences, start, steps)
    torch.testing.assert_close(after, memories, atol=1e-6, rtol=1e-5)


def test_the_memory_changes_the_action_distribution() -> None:
    actor = _actor("discrete")
    obs = [torch.ones(1, 6)]
    with torch.no_grad():
        fresh = actor.action_model.distribution(actor.hidden(obs, torch.zeros(1, 12)))
        other = actor.action_model.distribution(actor.hidden(obs, torch.ones(1, 12)))
    assert not torch.allclose(fresh.discrete_log_probs, other.discrete_log_probs)


def test_critic_values_follow_sequences() -> None:
    torch.manual_seed(0)
    critic = Critic(SPECS["continuous"].observation_specs, RECURRENT, ["extrinsic", "curiosity"])
    obs = [torch.randn(8, 4), torch.randn(8, 3)]
    values, memories = critic.values_and_memories(obs, torch.zeros(2, 12), sequence_length=4)
    assert values["extrinsic"].shape == (8,) and values["curiosity"].shape == (8,)
    assert memories.shape == (2, 12)
    # Without memories given, each row is its own one-step sequence from zeros.
    assert critic(obs)["extrinsic"].shape == (8,)
    first = critic.values_and_memories([o[:1] for o in obs], torch.zeros(1, 12))[0]
    torch.testing.assert_close(first["extrinsic"], values["extrinsic"][:1])
