"""Every core setting, declared once: name, type, default, constraints and description.

Trainers and the loop receive these frozen dataclasses; nothing after loading sees a raw dict.
Each field is a :func:`~dojo.config.declare.setting`, from which :mod:`dojo.config.schemas`
and :mod:`dojo.config.sections` derive the marshmallow schemas that load YAML into them
(``settings_schema``), so a default written here is the default of both. Names, defaults and
field order are ML-Agents 1.1.0's; the descriptions are what ``dojo config explain`` and the
configuration reference show.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

from dojo.config.components import (
    BehaviorsField,
    EnvironmentParametersField,
    HyperparametersField,
    RewardSignalsField,
    TrainerSettingsField,
    TrainerTypeField,
)
from dojo.config.declare import setting
from dojo.config.fields import (
    AtLeast,
    Between,
    Boolean,
    Check,
    Integer,
    Number,
    OneOf,
    SafeName,
    Section,
    Text,
    TextList,
)

VIS_ENCODE_TYPES = ("simple", "nature_cnn", "resnet", "match3", "fully_connected")
GOAL_CONDITIONING_TYPES = ("hyper", "none")
#: Longest path the operating systems dojo runs on accept (Linux's PATH_MAX).
MAX_PATH = 4096
#: Largest value of the Unity protocol's int32 fields (the seed each worker is sent).
INT32_MAX = 2**31 - 1
#: ``env_settings.vectorization_mode``: Gymnasium's names (``gymnasium.make_vec``).
VECTORIZATION_MODES = ("sync", "async")
_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?|mps|xpu(:\d+)?)$")


def _path_check(what: str) -> Check:
    """A path given by the user: at most :data:`MAX_PATH` characters, no NUL byte."""
    return Check(
        lambda path: len(path) <= MAX_PATH and "\0" not in path,
        f"must be {what} of at most {MAX_PATH} characters without a NUL byte, got {{value!r}}.",
        f"{what} (≤ {MAX_PATH} characters)",
    )


# --------------------------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemorySettings:
    memory_size: int = setting(
        128,
        Integer,
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
    sequence_length: int = setting(
        64,
        Integer,
        validate=AtLeast(1, "Use the number of steps the agent must remember, e.g. 64."),
        description="Steps per training sequence: how far back gradients reach through the "
        "memory; at most batch_size.",
    )


@dataclass(frozen=True)
class NetworkSettings:
    hidden_units: int = setting(
        128,
        Integer,
        validate=AtLeast(1, "Use the width of the dense layers, e.g. 128."),
        description="Units in each dense layer after the observation encoders.",
    )
    num_layers: int = setting(
        2,
        Integer,
        validate=AtLeast(1, "Use 1 or more dense layers."),
        description="Number of dense layers after the observation encoders.",
    )
    normalize: bool = setting(
        False,
        Boolean,
        description="Normalise vector observations with a running mean and variance.",
    )
    vis_encode_type: str = setting(
        "simple",
        Text,
        validate=OneOf(VIS_ENCODE_TYPES),
        description="Encoder of visual observations: simple, nature_cnn, resnet, match3, "
        "fully_connected.",
    )
    memory: MemorySettings | None = setting(
        None,
        Section,
        "dojo.config.schemas:MemorySchema",
        description="Recurrent memory: an LSTM after the dense layers, for tasks where the "
        "current observation is not enough (PPO); absent or null for none.",
    )
    goal_conditioning_type: str = setting(
        "hyper",
        Text,
        validate=OneOf(GOAL_CONDITIONING_TYPES),
        description="How goal-signal observations condition the network: hyper or none.",
    )
    deterministic: bool = setting(
        False,
        Boolean,
        description="Act with the mean (continuous) or argmax (discrete) instead of sampling.",
    )


# --------------------------------------------------------------------------------------------
# One behavior
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RewardSignalSettings:
    """Settings of one reward signal: the common keys plus the signal's own ``params``."""

    strength: float = setting(
        1.0,
        Number,
        validate=AtLeast(0.0, "strength scales the signal's reward; use e.g. 1.0."),
        description="Factor applied to the signal's reward.",
    )
    gamma: float = setting(
        0.99,
        Number,
        validate=Between(0.0, 1.0, low_open=True, hint="Use e.g. 0.99."),
        description="Discount factor of the signal's future rewards.",
    )
    network_settings: NetworkSettings = setting(
        NetworkSettings,
        Section,
        "dojo.config.schemas:NetworkSettingsSchema",
        description="Network of the signal's own model (curiosity, GAIL, RND).",
    )
    #: What the signal's own schema loaded (its plugin's keys); ``None`` when it takes none.
    params: Any = None


@dataclass(frozen=True)
class TrainerSettings:
    """One behavior's settings (``behaviors.<name>`` after defaults are merged)."""

    trainer_type: str = setting(
        "ppo", TrainerTypeField, description="The trainer (algorithm) plugin: ppo, sac, poca, ..."
    )
    #: Loaded by the trainer's own schema, from ``{}`` when the key is absent (so the schema
    #: never uses this default, and ``hyperparameters: null`` is an error).
    hyperparameters: Any = setting(
        None,
        HyperparametersField,
        allow_none=False,
        description="The trainer's own settings; see 'dojo config explain <trainer_type>'.",
    )
    network_settings: NetworkSettings = setting(
        NetworkSettings,
        Section,
        "dojo.config.schemas:NetworkSettingsSchema",
        description="The policy and value networks.",
    )
    reward_signals: dict[str, RewardSignalSettings] = setting(
        lambda: {"extrinsic": RewardSignalSettings()},
        RewardSignalsField,
        description="Reward signals by name (extrinsic, curiosity, gail, rnd, ...).",
    )
    init_path: str | None = setting(
        None,
        Text,
        validate=Check(
            lambda path: path.endswith(".pt"),
            "must name a .pt checkpoint, got {value!r}. Use a file name such as "
            "'checkpoint.pt' (looked up in the --initialize-from run) or a full path.",
            "ends with .pt",
        ),
        description="Checkpoint (.pt) to initialise the networks from.",
    )
    keep_checkpoints: int = setting(
        5,
        Integer,
        description="Number of recent checkpoints kept; older ones are deleted. 0 or less "
        "keeps every checkpoint (as in ML-Agents).",
    )
    even_checkpoints: bool = setting(
        False,
        Boolean,
        description="Space checkpoints evenly: checkpoint_interval = max_steps / keep_checkpoints.",
    )
    checkpoint_interval: int = setting(
        500000,
        Integer,
        validate=AtLeast(1),
        description="Steps between checkpoints (.pt and .onnx).",
    )
    max_steps: int = setting(
        500000,
        Integer,
        truncate=True,
        validate=AtLeast(0),
        description="Steps (over all agents of the behavior) after which training ends.",
    )
    time_horizon: int = setting(
        64,
        Integer,
        validate=AtLeast(1),
        description="Steps per agent before a trajectory is cut and its value bootstrapped.",
    )
    summary_freq: int = setting(
        50000,
        Integer,
        validate=AtLeast(1),
        description="Steps between statistics summaries (console and TensorBoard).",
    )
    threaded: bool = setting(
        False, Boolean, description="Update the trainer in its own thread (ML-Agents)."
    )
    #: Sections owned by plugins (``behavioral_cloning``, ``self_play``, ...): name -> what the
    #: section's schema loaded; only the sections given (and not null). Their fields are added
    #: to the schema from the plugin host (:class:`~dojo.config.schemas.TrainerSettingsSchema`).
    sections: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Run-level sections
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvSettings:
    env_path: str | None = setting(
        None,
        Text,
        validate=_path_check("a path or URI"),
        description="Unity executable or 'scheme:target' URI (gymnasium:CartPole-v1); null "
        "waits for the Unity Editor.",
    )
    env_args: list[str] | None = setting(
        None, TextList, description="Extra command-line arguments passed to the executable."
    )
    base_port: int = setting(
        5005,
        Integer,
        validate=Between(1, 65535),
        description="First port; worker i listens on base_port + i.",
    )
    num_envs: int = setting(
        1, Integer, validate=AtLeast(1), description="Number of parallel environments."
    )
    num_areas: int = setting(
        1,
        Integer,
        validate=AtLeast(1, maximum=INT32_MAX),
        description="Training areas instantiated in each Unity environment.",
    )
    timeout_wait: int = setting(
        60,
        Integer,
        validate=AtLeast(1, maximum=INT32_MAX),
        description="Seconds to wait for an environment to connect or answer.",
    )
    seed: int = setting(
        -1,
        Integer,
        validate=AtLeast(-1, "Use -1 for a random seed, or a seed ≥ 0.", maximum=INT32_MAX),
        description="Random seed; -1 picks one at random. Worker i gets seed + i.",
    )
    max_lifetime_restarts: int = setting(
        10,
        Integer,
        validate=AtLeast(-1, "Use -1 for unlimited restarts."),
        description="Restarts of a crashed environment allowed over the run; -1 = unlimited.",
    )
    restarts_rate_limit_n: int = setting(
        1,
        Integer,
        validate=AtLeast(-1, "Use -1 for no rate limit."),
        description="Restarts allowed within restarts_rate_limit_period_s; -1 = no limit.",
    )
    restarts_rate_limit_period_s: int = setting(
        60,
        Integer,
        validate=AtLeast(1, maximum=INT32_MAX),
        description="Window, in seconds, of the restart rate limit.",
    )
    vectorization_mode: str = setting(
        "sync",
        Text,
        validate=OneOf(VECTORIZATION_MODES),
        description=(
            "Gymnasium environments (dojo addition): sync steps every copy in the trainer's "
            "process (cheap environments); async steps each copy in a process of its own "
            "(environments whose step is expensive). Unity players are always processes."
        ),
    )


@dataclass(frozen=True)
class EngineSettings:
    width: int = setting(
        84,
        Integer,
        validate=AtLeast(1, maximum=INT32_MAX),
        description="Window width (pixels).",
    )
    height: int = setting(
        84,
        Integer,
        validate=AtLeast(1, maximum=INT32_MAX),
        description="Window height (pixels).",
    )
    quality_level: int = setting(
        5,
        Integer,
        validate=AtLeast(0, maximum=INT32_MAX),
        description="Unity QualitySettings level.",
    )
    time_scale: float = setting(
        20.0,
        Number,
        validate=Between(0.0, 100.0, low_open=True, hint="Unity accepts (0, 100]; use e.g. 20."),
        description="Unity Time.timeScale: how fast simulated time runs.",
    )
    target_frame_rate: int = setting(
        -1,
        Integer,
        validate=AtLeast(-1, "Use -1 for the platform default.", maximum=INT32_MAX),
        description="Unity Application.targetFrameRate; -1 = platform default.",
    )
    capture_frame_rate: int = setting(
        60,
        Integer,
        validate=AtLeast(0, maximum=INT32_MAX),
        description="Unity Time.captureFramerate.",
    )
    no_graphics: bool = setting(
        False, Boolean, description="Run the player without rendering (-nographics)."
    )
    no_graphics_monitor: bool = setting(
        False,
        Boolean,
        description="Render worker 0 only; other workers run without graphics.",
    )


@dataclass(frozen=True)
class CheckpointSettings:
    run_id: str = setting(
        "ppo",
        Text,
        validate=SafeName("Use --results-dir to choose the parent folder."),
        description="Name of the run's folder under results_dir: 1 to 128 characters, no '/', "
        "'\\' or control character, not '.' or '..'.",
    )
    initialize_from: str | None = setting(
        None,
        Text,
        validate=SafeName("Give the run id of a run under results_dir."),
        description="Run id whose checkpoints initialise this run (its step starts at 0).",
    )
    load_model: bool = setting(False, Boolean, description="Deprecated (--load): same as resume.")
    resume: bool = setting(False, Boolean, description="Continue the run from its last checkpoint.")
    force: bool = setting(
        False, Boolean, description="Reuse an existing run folder, overwriting its results."
    )
    train_model: bool = setting(False, Boolean, description="Deprecated (--train): no effect.")
    inference: bool = setting(False, Boolean, description="Run the policies without training them.")
    results_dir: str = setting(
        "results",
        Text,
        validate=_path_check("a path"),
        description="Folder that holds run folders.",
    )


@dataclass(frozen=True)
class TorchSettings:
    device: str | None = setting(
        None,
        Text,
        validate=Check(
            lambda device: bool(_DEVICE.match(device)),
            "must be cpu, cuda, cuda:N, mps or xpu, got {value!r}. Omit it to use cuda "
            "when available, else cpu.",
            "cpu, cuda, cuda:N, mps, xpu",
        ),
        description="Torch device; null picks cuda when available, else cpu.",
    )
    num_threads: int | None = setting(
        None,
        Integer,
        validate=AtLeast(1, maximum=4096),
        description=(
            "Threads torch and numpy's BLAS may use on the CPU (dojo addition); null = 1, "
            "which small networks run fastest on."
        ),
    )


# --------------------------------------------------------------------------------------------
# The whole run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOptions:
    """The whole resolved configuration of a run (keys in configuration.yaml's order)."""

    default_settings: TrainerSettings | None = setting(
        None,
        TrainerSettingsField,
        description="Settings merged under every behavior and used for behaviors not listed.",
    )
    behaviors: dict[str, TrainerSettings] = setting(
        dict, BehaviorsField, description="Trainer settings by behavior name."
    )
    env_settings: EnvSettings = setting(
        EnvSettings,
        Section,
        "dojo.config.sections:EnvSettingsSchema",
        description="The environment: executable or URI, ports, copies, seed, restarts.",
    )
    engine_settings: EngineSettings = setting(
        EngineSettings,
        Section,
        "dojo.config.sections:EngineSettingsSchema",
        description="The Unity player's window size, quality and time scale.",
    )
    environment_parameters: dict[str, Any] | None = setting(
        None,
        EnvironmentParametersField,
        description="Environment parameters: constants, samplers and curricula.",
    )
    checkpoint_settings: CheckpointSettings = setting(
        CheckpointSettings,
        Section,
        "dojo.config.sections:CheckpointSettingsSchema",
        description="Run id, results folder, resume / force / initialise-from / inference.",
    )
    torch_settings: TorchSettings = setting(
        TorchSettings,
        Section,
        "dojo.config.sections:TorchSettingsSchema",
        description="PyTorch device and threads.",
    )
    debug: bool = setting(False, Boolean, description="Verbose (debug) logging.")

    def settings_for(self, behavior_name: str) -> TrainerSettings | None:
        """Settings of ``behavior_name``: its own section, else ``default_settings``."""
        return self.behaviors.get(behavior_name, self.default_settings)


def to_plain(value: Any) -> Any:
    """Convert settings dataclasses (recursively) to plain dicts/lists for YAML output."""
    if is_dataclass(value) and not isinstance(value, type):
        return {key: to_plain(item) for key, item in asdict(value).items()}
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    return value
