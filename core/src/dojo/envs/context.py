"""What an environment provider is given: one :class:`EnvironmentContext` per environment.

Every provider registered with ``dojo_register_environments`` is called as
``factory(context)`` and returns a :class:`dojo.envs.base.Environment`::

    def make_corridor(context: EnvironmentContext) -> Environment:
        return Corridor(int(context.target), context.num_envs, context.seed)

New fields may be added in later versions (with defaults), so providers read the fields they
need by name and never unpack the context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dojo.config.settings import EngineSettings, EnvSettings


@dataclass(frozen=True)
class EnvironmentContext:
    """The arguments of an environment provider's factory: ``factory(context)``."""

    #: The text after ``scheme:`` in ``--env`` (``"CartPole-v1"`` for
    #: ``--env gymnasium:CartPole-v1``); a plain path for the ``unity`` provider, and ``""`` for
    #: the Unity Editor (no ``--env``).
    target: str
    #: How many copies of the environment to build and step together (``--num-envs``, or the
    #: copies a ``python -m dojo_unity.serve --copies N`` player serves). Use this, not
    #: ``settings.num_envs``.
    num_envs: int
    #: The run's seed, already drawn when the configuration said -1 (``settings.seed`` keeps what
    #: the user wrote). Copy ``i`` is usually seeded with ``seed + i``; negative = unseeded.
    seed: int
    #: The run's ``env_settings`` (``env_args``, ``base_port``, ``timeout_wait``,
    #: ``vectorization_mode``, the restart limits, ...).
    settings: EnvSettings = field(default_factory=EnvSettings)
    #: The run's ``engine_settings`` (resolution, time scale, ``no_graphics``): what a Unity
    #: player is configured with; other providers may ignore them.
    engine_settings: EngineSettings = field(default_factory=EngineSettings)
    #: The run's ``results/<run-id>/run_logs`` folder, where environment processes write their
    #: logs (a Unity player's ``-logFile``); ``None`` outside a training run (a served
    #: environment, a test). The folder may not exist yet: create it before writing.
    log_dir: Path | None = None
