"""marshmallow schemas of the run-level sections: ``env_settings``, ``engine_settings``,
``checkpoint_settings`` and ``torch_settings`` (ML-Agents 1.1.0 names and defaults; the flags of
``mlagents-learn`` override them). Re-exported by :mod:`dojo.config.schemas`.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError, post_load, validates_schema

from dojo.config import settings
from dojo.config.fields import (
    AtLeast,
    Between,
    Boolean,
    Check,
    Integer,
    Number,
    OneOf,
    SafeName,
    StrictSchema,
    Text,
    TextList,
)

#: Longest path the operating systems dojo runs on accept (Linux's PATH_MAX).
MAX_PATH = 4096


def _path_check(what: str) -> Check:
    """A path given by the user: at most :data:`MAX_PATH` characters, no NUL byte."""
    return Check(
        lambda path: len(path) <= MAX_PATH and "\0" not in path,
        f"must be {what} of at most {MAX_PATH} characters without a NUL byte, got {{value!r}}.",
        f"{what} (≤ {MAX_PATH} characters)",
    )


#: Largest value of the Unity protocol's int32 fields (the seed each worker is sent).
INT32_MAX = 2**31 - 1

#: ``env_settings.vectorization_mode``: Gymnasium's names (``gymnasium.make_vec``).
VECTORIZATION_MODES = ("sync", "async")


class EnvSettingsSchema(StrictSchema):
    """``env_settings``: which environment to run and how many copies."""

    env_path = Text(
        load_default=None,
        allow_none=True,
        validate=_path_check("a path or URI"),
        description="Unity executable or 'scheme:target' URI (gymnasium:CartPole-v1); null "
        "waits for the Unity Editor.",
    )
    env_args = TextList(
        load_default=None,
        allow_none=True,
        description="Extra command-line arguments passed to the executable.",
    )
    base_port = Integer(
        load_default=5005,
        validate=Between(1, 65535),
        description="First port; worker i listens on base_port + i.",
    )
    num_envs = Integer(
        load_default=1, validate=AtLeast(1), description="Number of parallel environments."
    )
    num_areas = Integer(
        load_default=1,
        validate=AtLeast(1, maximum=INT32_MAX),
        description="Training areas instantiated in each Unity environment.",
    )
    timeout_wait = Integer(
        load_default=60,
        validate=AtLeast(1, maximum=INT32_MAX),
        description="Seconds to wait for an environment to connect or answer.",
    )
    seed = Integer(
        load_default=-1,
        validate=AtLeast(-1, "Use -1 for a random seed, or a seed ≥ 0.", maximum=INT32_MAX),
        description="Random seed; -1 picks one at random. Worker i gets seed + i.",
    )
    max_lifetime_restarts = Integer(
        load_default=10,
        validate=AtLeast(-1, "Use -1 for unlimited restarts."),
        description="Restarts of a crashed environment allowed over the run; -1 = unlimited.",
    )
    restarts_rate_limit_n = Integer(
        load_default=1,
        validate=AtLeast(-1, "Use -1 for no rate limit."),
        description="Restarts allowed within restarts_rate_limit_period_s; -1 = no limit.",
    )
    restarts_rate_limit_period_s = Integer(
        load_default=60,
        validate=AtLeast(1, maximum=INT32_MAX),
        description="Window, in seconds, of the restart rate limit.",
    )
    vectorization_mode = Text(
        load_default="sync",
        validate=OneOf(VECTORIZATION_MODES),
        description=(
            "Gymnasium environments (dojo addition): sync steps every copy in the trainer's "
            "process (cheap environments); async steps each copy in a process of its own "
            "(environments whose step is expensive). Unity players are always processes."
        ),
    )

    @validates_schema(skip_on_field_errors=True)
    def _check_worker_seeds(self, data: dict[str, Any], **_kwargs: Any) -> None:
        seed, num_envs = data["seed"], data["num_envs"]
        if seed >= 0 and seed + num_envs - 1 > INT32_MAX:
            raise ValidationError(
                f"is {seed}, and copy i of the {num_envs} environments gets seed + i, which "
                f"passes {INT32_MAX} (the largest seed a Unity environment takes). Use a seed "
                f"of at most {INT32_MAX - num_envs + 1}.",
                field_name="seed",
            )

    @post_load
    def _build(self, data: dict[str, Any], **_kwargs: Any) -> settings.EnvSettings:
        return settings.EnvSettings(**data)


class EngineSettingsSchema(StrictSchema):
    """``engine_settings``: the Unity player's window and clock."""

    width = Integer(
        load_default=84,
        validate=AtLeast(1, maximum=INT32_MAX),
        description="Window width (pixels).",
    )
    height = Integer(
        load_default=84,
        validate=AtLeast(1, maximum=INT32_MAX),
        description="Window height (pixels).",
    )
    quality_level = Integer(
        load_default=5,
        validate=AtLeast(0, maximum=INT32_MAX),
        description="Unity QualitySettings level.",
    )
    time_scale = Number(
        load_default=20.0,
        validate=Between(0.0, 100.0, low_open=True, hint="Unity accepts (0, 100]; use e.g. 20."),
        description="Unity Time.timeScale: how fast simulated time runs.",
    )
    target_frame_rate = Integer(
        load_default=-1,
        validate=AtLeast(-1, "Use -1 for the platform default.", maximum=INT32_MAX),
        description="Unity Application.targetFrameRate; -1 = platform default.",
    )
    capture_frame_rate = Integer(
        load_default=60,
        validate=AtLeast(0, maximum=INT32_MAX),
        description="Unity Time.captureFramerate.",
    )
    no_graphics = Boolean(
        load_default=False, description="Run the player without rendering (-nographics)."
    )
    no_graphics_monitor = Boolean(
        load_default=False,
        description="Render worker 0 only; other workers run without graphics.",
    )

    @post_load
    def _build(self, data: dict[str, Any], **_kwargs: Any) -> settings.EngineSettings:
        return settings.EngineSettings(**data)


class CheckpointSettingsSchema(StrictSchema):
    """``checkpoint_settings``: the run id, its folder, and resume / initialise behaviour."""

    run_id = Text(
        load_default="ppo",
        validate=SafeName("Use --results-dir to choose the parent folder."),
        description="Name of the run's folder under results_dir: 1 to 128 characters, no '/', "
        "'\\' or control character, not '.' or '..'.",
    )
    initialize_from = Text(
        load_default=None,
        allow_none=True,
        validate=SafeName("Give the run id of a run under results_dir."),
        description="Run id whose checkpoints initialise this run (its step starts at 0).",
    )
    load_model = Boolean(load_default=False, description="Deprecated (--load): same as resume.")
    resume = Boolean(load_default=False, description="Continue the run from its last checkpoint.")
    force = Boolean(
        load_default=False, description="Reuse an existing run folder, overwriting its results."
    )
    train_model = Boolean(load_default=False, description="Deprecated (--train): no effect.")
    inference = Boolean(load_default=False, description="Run the policies without training them.")
    results_dir = Text(
        load_default="results",
        validate=_path_check("a path"),
        description="Folder that holds run folders.",
    )

    @post_load
    def _build(self, data: dict[str, Any], **_kwargs: Any) -> settings.CheckpointSettings:
        return settings.CheckpointSettings(**data)


_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?|mps|xpu(:\d+)?)$")


class TorchSettingsSchema(StrictSchema):
    """``torch_settings``: where and how PyTorch runs."""

    device = Text(
        load_default=None,
        allow_none=True,
        validate=Check(
            lambda device: bool(_DEVICE.match(device)),
            "must be cpu, cuda, cuda:N, mps or xpu, got {value!r}. Omit it to use cuda "
            "when available, else cpu.",
            "cpu, cuda, cuda:N, mps, xpu",
        ),
        description="Torch device; null picks cuda when available, else cpu.",
    )
    num_threads = Integer(
        load_default=None,
        allow_none=True,
        validate=AtLeast(1, maximum=4096),
        description=(
            "Threads torch and numpy's BLAS may use on the CPU (dojo addition); null = 1, "
            "which small networks run fastest on."
        ),
    )

    @post_load
    def _build(self, data: dict[str, Any], **_kwargs: Any) -> settings.TorchSettings:
        return settings.TorchSettings(**data)
