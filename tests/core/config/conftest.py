"""Fixtures for the configuration tests: plugin hosts and the ML-Agents configuration corpus.

``host`` is what a user with dojo-core + dojo-ppo has. ``full_host`` adds in-process stand-ins
for the trainers, reward signals and behavior sections of plugins that are not installed here
(sac, poca, curiosity, gail, rnd, self_play, behavioral_cloning), declaring ML-Agents 1.1.0's
keys, so that every file of the corpus can be
checked structurally.
"""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import post_load

import dojo_ppo.plugin
from dojo.config.fields import AtLeast, Between, Boolean, Integer, Number, StrictSchema, Text
from dojo.hookspecs import hookimpl
from dojo.plugin_host import PluginHost, load_plugins
from dojo.registry import Registry


class _Dict(StrictSchema):
    @post_load
    def _plain(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        return dict(data)


class SacStandIn(_Dict):
    batch_size = Integer(load_default=128, validate=AtLeast(1), description="minibatch")
    buffer_size = Integer(load_default=50000, validate=AtLeast(1), description="replay size")
    learning_rate = Number(load_default=3e-4, description="learning rate")
    learning_rate_schedule = Text(load_default="constant", description="schedule")
    buffer_init_steps = Integer(load_default=0, description="warm-up")
    tau = Number(load_default=0.005, description="target update")
    steps_per_update = Number(load_default=1.0, description="ratio")
    save_replay_buffer = Boolean(load_default=False, description="persist replay")
    init_entcoef = Number(load_default=1.0, description="entropy coefficient")
    reward_signal_steps_per_update = Number(load_default=1.0, description="ratio")


class PocaStandIn(_Dict):
    batch_size = Integer(load_default=1024, description="minibatch")
    buffer_size = Integer(load_default=10240, description="buffer")
    learning_rate = Number(load_default=3e-4, description="learning rate")
    beta = Number(load_default=5e-3, description="entropy")
    epsilon = Number(load_default=0.2, description="clip")
    lambd = Number(load_default=0.95, description="GAE lambda")
    num_epoch = Integer(load_default=3, description="epochs")
    learning_rate_schedule = Text(load_default="linear", description="schedule")
    beta_schedule = Text(load_default="linear", description="schedule")
    epsilon_schedule = Text(load_default="linear", description="schedule")


def _encoding_size() -> Integer:
    return Integer(load_default=None, allow_none=True, description="deprecated encoder width")


class CuriosityStandIn(_Dict):
    learning_rate = Number(load_default=3e-4, description="learning rate")
    encoding_size = _encoding_size()


class GailStandIn(_Dict):
    demo_path = Text(required=True, description="demonstrations")
    learning_rate = Number(load_default=3e-4, description="learning rate")
    encoding_size = _encoding_size()
    use_actions = Boolean(load_default=False, description="use actions")
    use_vail = Boolean(load_default=False, description="use VAIL")


class RndStandIn(_Dict):
    learning_rate = Number(load_default=1e-4, description="learning rate")
    encoding_size = _encoding_size()


class SelfPlayStandIn(StrictSchema):
    """``self_play`` with ML-Agents 1.1.0's keys and defaults (team_change: 5 x save_steps)."""

    save_steps = Integer(
        load_default=20000,
        validate=AtLeast(1),
        description="Trainer steps between snapshots of the policy.",
    )
    team_change = Integer(
        load_default=None,
        allow_none=True,
        validate=AtLeast(1),
        description="Trainer steps before the learning team changes (default 5 x save_steps).",
    )
    swap_steps = Integer(
        load_default=2000,
        validate=AtLeast(1),
        description="Ghost steps between opponent policy swaps.",
    )
    window = Integer(
        load_default=10,
        validate=AtLeast(1),
        description="Number of past snapshots opponents are drawn from.",
    )
    play_against_latest_model_ratio = Number(
        load_default=0.5,
        validate=Between(0.0, 1.0),
        description="Probability that the opponent is the latest policy.",
    )
    initial_elo = Number(load_default=1200.0, description="Starting ELO rating.")

    @post_load
    def _build(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if data["team_change"] is None:
            data["team_change"] = 5 * data["save_steps"]
        return dict(data)


class BehavioralCloningStandIn(StrictSchema):
    """``behavioral_cloning`` with ML-Agents 1.1.0's keys and defaults."""

    demo_path = Text(required=True, description="A .demo file or a folder of .demo files.")
    strength = Number(
        load_default=1.0,
        validate=AtLeast(0.0),
        description="Learning rate of cloning relative to the trainer's learning rate.",
    )
    steps = Integer(
        load_default=0,
        validate=AtLeast(0),
        description="Steps over which cloning is annealed to zero; 0 keeps it constant.",
    )
    samples_per_update = Integer(
        load_default=0,
        validate=AtLeast(0),
        description="Demonstration samples used per update; 0 uses all of them.",
    )
    num_epoch = Integer(
        load_default=None,
        allow_none=True,
        validate=AtLeast(1),
        description="Passes over the demonstrations per update (default: the trainer's).",
    )
    batch_size = Integer(
        load_default=None,
        allow_none=True,
        validate=AtLeast(1),
        description="Minibatch size of cloning (default: the trainer's batch_size).",
    )

    @post_load
    def _build(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        return dict(data)


class StandInPlugins:
    """Registers stand-ins for the components of plugins that are not installed."""

    @hookimpl
    def dojo_register_trainers(self, registry: Registry) -> None:
        registry.register("sac", factory="x:y", schema=SacStandIn, on_policy=False)
        registry.register("poca", factory="x:y", schema=PocaStandIn, on_policy=True)

    @hookimpl
    def dojo_register_reward_signals(self, registry: Registry) -> None:
        registry.register("curiosity", factory="x:y", schema=CuriosityStandIn)
        registry.register("gail", factory="x:y", schema=GailStandIn)
        registry.register("rnd", factory="x:y", schema=RndStandIn)

    @hookimpl
    def dojo_register_behavior_sections(self, registry: Registry) -> None:
        registry.register("self_play", factory="x:y", schema=SelfPlayStandIn)
        registry.register("behavioral_cloning", factory="x:y", schema=BehavioralCloningStandIn)


@pytest.fixture(scope="session")
def host() -> PluginHost:
    """dojo-core and dojo-ppo only, whatever else is installed (so 'sac' stays unknown)."""
    return load_plugins(discover=False, extra_plugins=(("ppo", dojo_ppo.plugin),))


@pytest.fixture(scope="session")
def full_host() -> PluginHost:
    """Installed plugins plus stand-ins for sac, poca, curiosity, gail and rnd."""
    return load_plugins(
        discover=False,
        extra_plugins=(("ppo", dojo_ppo.plugin), ("stand-ins", StandInPlugins())),
    )


@pytest.fixture(autouse=True)
def _restore_dojo_logger():
    """``dojo`` CLI calls configure the ``dojo`` logger; undo that after each test."""
    import logging

    logger = logging.getLogger("dojo")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved
