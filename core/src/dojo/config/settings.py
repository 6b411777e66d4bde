"""Resolved, validated settings: frozen dataclasses that trainers and the loop receive.

The marshmallow schemas in :mod:`dojo.config.schemas` load YAML into these classes; nothing
after loading sees a raw dict. Field names and defaults are ML-Agents 1.1.0's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any


@dataclass(frozen=True)
class MemorySettings:
    memory_size: int = 128
    sequence_length: int = 64


@dataclass(frozen=True)
class NetworkSettings:
    hidden_units: int = 128
    num_layers: int = 2
    normalize: bool = False
    vis_encode_type: str = "simple"
    memory: MemorySettings | None = None
    goal_conditioning_type: str = "hyper"
    deterministic: bool = False


@dataclass(frozen=True)
class RewardSignalSettings:
    """Settings of one reward signal: the common keys plus the signal's own ``params``."""

    strength: float = 1.0
    gamma: float = 0.99
    network_settings: NetworkSettings = field(default_factory=NetworkSettings)
    params: Any = None


@dataclass(frozen=True)
class TrainerSettings:
    """One behavior's settings (``behaviors.<name>`` after defaults are merged)."""

    trainer_type: str = "ppo"
    hyperparameters: Any = None
    network_settings: NetworkSettings = field(default_factory=NetworkSettings)
    reward_signals: dict[str, RewardSignalSettings] = field(
        default_factory=lambda: {"extrinsic": RewardSignalSettings()}
    )
    init_path: str | None = None
    keep_checkpoints: int = 5
    even_checkpoints: bool = False
    checkpoint_interval: int = 500000
    max_steps: int = 500000
    time_horizon: int = 64
    summary_freq: int = 50000
    threaded: bool = False
    self_play: dict[str, Any] | None = None
    behavioral_cloning: dict[str, Any] | None = None


@dataclass(frozen=True)
class EnvSettings:
    env_path: str | None = None
    env_args: list[str] | None = None
    base_port: int = 5005
    num_envs: int = 1
    num_areas: int = 1
    timeout_wait: int = 60
    seed: int = -1
    max_lifetime_restarts: int = 10
    restarts_rate_limit_n: int = 1
    restarts_rate_limit_period_s: int = 60
    vectorization_mode: str = "sync"


@dataclass(frozen=True)
class EngineSettings:
    width: int = 84
    height: int = 84
    quality_level: int = 5
    time_scale: float = 20.0
    target_frame_rate: int = -1
    capture_frame_rate: int = 60
    no_graphics: bool = False
    no_graphics_monitor: bool = False


@dataclass(frozen=True)
class CheckpointSettings:
    run_id: str = "ppo"
    initialize_from: str | None = None
    load_model: bool = False
    resume: bool = False
    force: bool = False
    train_model: bool = False
    inference: bool = False
    results_dir: str = "results"


@dataclass(frozen=True)
class TorchSettings:
    device: str | None = None
    num_threads: int | None = None


@dataclass(frozen=True)
class RunOptions:
    """The whole resolved configuration of a run."""

    behaviors: dict[str, TrainerSettings] = field(default_factory=dict)
    default_settings: TrainerSettings | None = None
    environment_parameters: dict[str, Any] | None = None
    env_settings: EnvSettings = field(default_factory=EnvSettings)
    engine_settings: EngineSettings = field(default_factory=EngineSettings)
    checkpoint_settings: CheckpointSettings = field(default_factory=CheckpointSettings)
    torch_settings: TorchSettings = field(default_factory=TorchSettings)
    debug: bool = False

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
