"""marshmallow schemas of the core configuration; ``@post_load`` builds :mod:`dojo.config.settings`.

Names, defaults and nesting are ML-Agents 1.1.0's (``reference/mlagents-facts.md`` §2). The core
owns the run, behavior, network, checkpoint, engine, environment and torch sections; a trainer's
``hyperparameters`` and a reward signal's own keys are validated by the schema its plugin
registered, looked up through the :class:`~dojo.plugin_host.PluginHost` given to
:class:`TrainerSettingsSchema` / :class:`RunOptionsSchema` (marshmallow 4 has no schema context).
Every field has a one-line description, rendered by ``dojo config explain`` and the reference.
The run-level sections live in :mod:`dojo.config.sections`, ``environment_parameters`` in
:mod:`dojo.config.environment_parameters`; both are re-exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from marshmallow import ValidationError, post_load, pre_load, validates_schema

from dojo.config import settings
from dojo.config.components import (
    BehaviorsField,
    HyperparametersField,
    RewardSignalsField,
    TrainerSettingsField,
    TrainerTypeField,
)
from dojo.config.environment_parameters import check_environment_parameters
from dojo.config.fields import (
    AnyValue,
    AtLeast,
    Between,
    Boolean,
    Check,
    Integer,
    Number,
    OneOf,
    Section,
    StrictSchema,
    Text,
)
from dojo.config.sections import (
    CheckpointSettingsSchema,
    EngineSettingsSchema,
    EnvSettingsSchema,
    TorchSettingsSchema,
)

if TYPE_CHECKING:
    from dojo.plugin_host import PluginHost

VIS_ENCODE_TYPES = ("simple", "nature_cnn", "resnet", "match3", "fully_connected")
GOAL_CONDITIONING_TYPES = ("hyper", "none")
#: Behavior-level keys of old formats that are accepted, reported and dropped.
LEGACY_BEHAVIOR_KEYS = {
    "framework": "the framework option was removed (dojo always uses PyTorch)",
    "output_path": "output_path (ML-Agents 0.17-0.19) is derived from --run-id and the behavior",
}


# --------------------------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------------------------


class MemorySchema(StrictSchema):
    """``network_settings.memory``: an LSTM after the dense layers."""

    memory_size = Integer(
        load_default=128,
        validate=[
            AtLeast(1, "memory_size is the LSTM state size; use e.g. 128."),
            Check(
                lambda size: size % 2 == 0,
                "must be even (the state is split into two halves: hidden and cell), got "
                "{value}. Use an even number such as 128.",
                "even",
            ),
        ],
        description="Floats of memory per agent (LSTM hidden + cell state, so memory_size / 2 "
        "LSTM units); must be even.",
    )
    sequence_length = Integer(
        load_default=64,
        validate=AtLeast(1, "Use the number of steps the agent must remember, e.g. 64."),
        description="Steps per training sequence: how far back gradients reach through the "
        "memory; at most batch_size.",
    )

    @post_load
    def _build(self, data: dict[str, Any], **_kwargs: Any) -> settings.MemorySettings:
        return settings.MemorySettings(**data)


#: Most parameters accepted in one network's dense layers and memory: 100 million float32
#: parameters are 400 MB per network, before gradients and optimizer state (the largest
#: ML-Agents example network, 3 layers of 512 units, has well under a million).
MAX_NETWORK_PARAMETERS = 100_000_000


def network_parameters(network: settings.NetworkSettings) -> int:
    """A lower bound of the parameters of one network with these settings, whatever its
    observations and actions: the dense layers (the first from at least one input, each next
    one ``hidden_units`` squared plus biases) and the LSTM of ``memory``."""
    units, layers = network.hidden_units, network.num_layers
    count = 2 * units + (layers - 1) * (units * units + units)
    if network.memory is not None:
        half = network.memory.memory_size // 2
        count += 4 * half * (units + half) + 8 * half  # input and hidden weights, two biases
    return count


def network_size_problem(network: settings.NetworkSettings) -> str | None:
    """Why a network of these settings is refused before anything is allocated, or ``None``."""
    count = network_parameters(network)
    if count <= MAX_NETWORK_PARAMETERS:
        return None
    memory = f" and memory_size {network.memory.memory_size}" if network.memory is not None else ""
    return (
        f"hidden_units {network.hidden_units}, num_layers {network.num_layers}{memory} make "
        f"networks of at least {count:,} parameters ({count * 4 / 1e9:,.1f} GB of float32 each, "
        f"before gradients and optimizer state); dojo accepts at most "
        f"{MAX_NETWORK_PARAMETERS:,} per network ({MAX_NETWORK_PARAMETERS * 4 // 10**6} MB). "
        "Use e.g. 128 to 512 hidden units."
    )


class NetworkSettingsSchema(StrictSchema):
    """``network_settings``: the policy and value networks."""

    hidden_units = Integer(
        load_default=128,
        validate=AtLeast(1, "Use the width of the dense layers, e.g. 128."),
        description="Units in each dense layer after the observation encoders.",
    )
    num_layers = Integer(
        load_default=2,
        validate=AtLeast(1, "Use 1 or more dense layers."),
        description="Number of dense layers after the observation encoders.",
    )
    normalize = Boolean(
        load_default=False,
        description="Normalise vector observations with a running mean and variance.",
    )
    vis_encode_type = Text(
        load_default="simple",
        validate=OneOf(VIS_ENCODE_TYPES),
        description="Encoder of visual observations: simple, nature_cnn, resnet, match3, "
        "fully_connected.",
    )
    memory = Section(
        MemorySchema,
        load_default=None,
        allow_none=True,
        description="Recurrent memory: an LSTM after the dense layers, for tasks where the "
        "current observation is not enough (PPO); absent or null for none.",
    )
    goal_conditioning_type = Text(
        load_default="hyper",
        validate=OneOf(GOAL_CONDITIONING_TYPES),
        description="How goal-signal observations condition the network: hyper or none.",
    )
    deterministic = Boolean(
        load_default=False,
        description="Act with the mean (continuous) or argmax (discrete) instead of sampling.",
    )

    @validates_schema(skip_on_field_errors=True)
    def _check_size(self, data: dict[str, Any], **_kwargs: Any) -> None:
        problem = network_size_problem(settings.NetworkSettings(**data))
        if problem is not None:
            raise ValidationError(problem, field_name="hidden_units")

    @post_load
    def _build(self, data: dict[str, Any], **_kwargs: Any) -> settings.NetworkSettings:
        return settings.NetworkSettings(**data)


# --------------------------------------------------------------------------------------------
# Reward signals, self-play, behavioral cloning
# --------------------------------------------------------------------------------------------


class RewardSignalCommonSchema(StrictSchema):
    """Keys every reward signal accepts; the signal's plugin validates the rest.

    The deprecated ``encoding_size`` is not one of them: as in ML-Agents 1.1.0 only signals
    with their own encoder (curiosity, gail, rnd) declare it, in their plugin's schema; the
    core then uses it as the signal's ``network_settings.hidden_units``
    (:class:`~dojo.config.components.RewardSignalsField`).
    """

    strength = Number(
        load_default=1.0,
        validate=AtLeast(0.0, "strength scales the signal's reward; use e.g. 1.0."),
        description="Factor applied to the signal's reward.",
    )
    gamma = Number(
        load_default=0.99,
        validate=Between(0.0, 1.0, low_open=True, hint="Use e.g. 0.99."),
        description="Discount factor of the signal's future rewards.",
    )
    network_settings = Section(
        NetworkSettingsSchema,
        load_default=settings.NetworkSettings,
        description="Network of the signal's own model (curiosity, GAIL, RND).",
    )


class SelfPlaySchema(StrictSchema):
    """``self_play``: train against past versions of the policy (ghost trainer)."""

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


class BehavioralCloningSchema(StrictSchema):
    """``behavioral_cloning``: imitate demonstrations alongside reinforcement learning."""

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


# --------------------------------------------------------------------------------------------
# One behavior
# --------------------------------------------------------------------------------------------


class TrainerSettingsSchema(StrictSchema):
    """``behaviors.<name>`` (and ``default_settings``): one behavior's trainer settings.

    A trainer's hyperparameters settings may define ``warnings_for(behavior) -> list[str]``:
    checks against the behavior's other keys (PPO: ``buffer_size`` above ``max_steps``), added
    to ``notices`` after ``where``.

    Args:
        host: the plugin host whose registries resolve ``trainer_type`` and reward signals.
        notices: list that collects warnings (legacy keys) for the loader to report once.
        where: the section's path in the file (``behaviors.CartPole``), for those warnings.
    """

    trainer_type = TrainerTypeField(
        load_default="ppo", description="The trainer (algorithm) plugin: ppo, sac, poca, ..."
    )
    hyperparameters = HyperparametersField(
        description="The trainer's own settings; see 'dojo config explain <trainer_type>'."
    )
    network_settings = Section(
        NetworkSettingsSchema,
        load_default=settings.NetworkSettings,
        description="The policy and value networks.",
    )
    reward_signals = RewardSignalsField(
        load_default=lambda: {"extrinsic": settings.RewardSignalSettings()},
        description="Reward signals by name (extrinsic, curiosity, gail, rnd, ...).",
    )
    init_path = Text(
        load_default=None,
        allow_none=True,
        validate=Check(
            lambda path: path.endswith(".pt"),
            "must name a .pt checkpoint, got {value!r}. Use a file name such as "
            "'checkpoint.pt' (looked up in the --initialize-from run) or a full path.",
            "ends with .pt",
        ),
        description="Checkpoint (.pt) to initialise the networks from.",
    )
    keep_checkpoints = Integer(
        load_default=5,
        description="Number of recent checkpoints kept; older ones are deleted. 0 or less "
        "keeps every checkpoint (as in ML-Agents).",
    )
    even_checkpoints = Boolean(
        load_default=False,
        description="Space checkpoints evenly: checkpoint_interval = max_steps / keep_checkpoints.",
    )
    checkpoint_interval = Integer(
        load_default=500000,
        validate=AtLeast(1),
        description="Steps between checkpoints (.pt and .onnx).",
    )
    max_steps = Integer(
        load_default=500000,
        truncate=True,
        validate=AtLeast(0),
        description="Steps (over all agents of the behavior) after which training ends.",
    )
    time_horizon = Integer(
        load_default=64,
        validate=AtLeast(1),
        description="Steps per agent before a trajectory is cut and its value bootstrapped.",
    )
    summary_freq = Integer(
        load_default=50000,
        validate=AtLeast(1),
        description="Steps between statistics summaries (console and TensorBoard).",
    )
    threaded = Boolean(
        load_default=False, description="Update the trainer in its own thread (ML-Agents)."
    )
    self_play = Section(
        SelfPlaySchema,
        load_default=None,
        allow_none=True,
        description="Self-play settings; absent or null to train without self-play.",
    )
    behavioral_cloning = Section(
        BehavioralCloningSchema,
        load_default=None,
        allow_none=True,
        description="Behavioral cloning from demonstrations; absent or null for none.",
    )

    def __init__(
        self,
        *,
        host: PluginHost,
        notices: list[str] | None = None,
        where: str = "",
        **kwargs: Any,
    ) -> None:
        self.host = host
        self.notices: list[str] = notices if notices is not None else []
        self.where = where
        super().__init__(**kwargs)

    def unknown_key_hint(self, key: str) -> str:
        if key in NetworkSettingsSchema().valid_keys():
            return f" {key!r} belongs under 'network_settings'."
        if key in ("use_recurrent", "memory_size", "sequence_length"):
            return " Memory is set under 'network_settings.memory' (memory_size, sequence_length)."
        if key == "trainer":
            return " The key is 'trainer_type' (and hyperparameters go under 'hyperparameters')."
        return ""

    @pre_load
    def _prepare(self, data: Any, **_kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key, reason in LEGACY_BEHAVIOR_KEYS.items():
            if key in data:
                data.pop(key)
                self.notices.append(f"'{key}' is no longer used and was ignored: {reason}.")
        data.setdefault("hyperparameters", {})
        return data

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _check_trainer_type_given(
        self, data: dict[str, Any], original: Any, **_kwargs: Any
    ) -> None:
        given = isinstance(original, dict) and "hyperparameters" in original
        if given and "trainer_type" not in original:
            raise ValidationError(
                "hyperparameters are given but trainer_type is not: say which trainer they "
                "are for, e.g. 'trainer_type: ppo'.",
                field_name="hyperparameters",
            )

    @validates_schema(skip_on_field_errors=True)
    def _check_sequence_length(self, data: dict[str, Any], **_kwargs: Any) -> None:
        memory = data["network_settings"].memory
        batch_size = getattr(data.get("hyperparameters"), "batch_size", None)
        if memory is not None and batch_size is not None and memory.sequence_length > batch_size:
            raise ValidationError(
                {
                    "memory": {
                        "sequence_length": [
                            f"must be ≤ hyperparameters.batch_size ({batch_size}), got "
                            f"{memory.sequence_length}: a minibatch holds whole sequences. "
                            f"Lower sequence_length to {batch_size} or less, or raise batch_size."
                        ]
                    }
                },
                field_name="network_settings",
            )

    @post_load
    def _build(self, data: dict[str, Any], **_kwargs: Any) -> settings.TrainerSettings:
        trainer = settings.TrainerSettings(**data)
        warnings_for = getattr(trainer.hyperparameters, "warnings_for", None)
        if callable(warnings_for):
            prefix = f"{self.where}." if self.where else ""
            self.notices.extend(f"{prefix}{warning}" for warning in warnings_for(trainer))
        return trainer


class EnvironmentParametersField(AnyValue):
    """``environment_parameters``: numbers, samplers and curricula by parameter name."""

    yaml_type = "mapping"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return check_environment_parameters(value, getattr(self.parent, "host", None))


class RunOptionsSchema(StrictSchema):
    """The whole configuration file.

    Args:
        host: the plugin host (trainer types, reward signals, samplers, completion criteria).
        notices: list that collects warnings for the loader to report once.
    """

    default_settings = TrainerSettingsField(
        load_default=None,
        allow_none=True,
        description="Settings merged under every behavior and used for behaviors not listed.",
    )
    behaviors = BehaviorsField(load_default=dict, description="Trainer settings by behavior name.")
    env_settings = Section(
        EnvSettingsSchema,
        load_default=settings.EnvSettings,
        description="The environment: executable or URI, ports, copies, seed, restarts.",
    )
    engine_settings = Section(
        EngineSettingsSchema,
        load_default=settings.EngineSettings,
        description="The Unity player's window size, quality and time scale.",
    )
    environment_parameters = EnvironmentParametersField(
        load_default=None,
        allow_none=True,
        description="Environment parameters: constants, samplers and curricula.",
    )
    checkpoint_settings = Section(
        CheckpointSettingsSchema,
        load_default=settings.CheckpointSettings,
        description="Run id, results folder, resume / force / initialise-from / inference.",
    )
    torch_settings = Section(
        TorchSettingsSchema,
        load_default=settings.TorchSettings,
        description="PyTorch device and threads.",
    )
    debug = Boolean(load_default=False, description="Verbose (debug) logging.")

    def __init__(
        self, *, host: PluginHost, notices: list[str] | None = None, **kwargs: Any
    ) -> None:
        self.host = host
        self.notices: list[str] = notices if notices is not None else []
        super().__init__(**kwargs)

    def unknown_key_hint(self, key: str) -> str:
        if key in ("curriculum", "parameter_randomization"):
            return " Old sections are converted only in whole old-format files."
        return ""

    @validates_schema(skip_on_field_errors=False)
    def _check_num_envs(self, data: dict[str, Any], **_kwargs: Any) -> None:
        env = data.get("env_settings")
        if isinstance(env, settings.EnvSettings) and env.num_envs > 1 and env.env_path is None:
            raise ValidationError(
                {
                    "num_envs": [
                        f"is {env.num_envs} but env_path is not set: the Unity Editor is a "
                        "single environment. Give an executable or URI with --env (or "
                        "env_settings.env_path), or set num_envs to 1."
                    ]
                },
                field_name="env_settings",
            )

    @post_load
    def _build(self, data: dict[str, Any], **_kwargs: Any) -> settings.RunOptions:
        return settings.RunOptions(**data)


__all__ = [
    "BehavioralCloningSchema",
    "CheckpointSettingsSchema",
    "EngineSettingsSchema",
    "EnvSettingsSchema",
    "EnvironmentParametersField",
    "MemorySchema",
    "NetworkSettingsSchema",
    "RewardSignalCommonSchema",
    "RunOptionsSchema",
    "SelfPlaySchema",
    "TorchSettingsSchema",
    "TrainerSettingsSchema",
]
