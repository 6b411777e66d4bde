"""Which settings each behavior of the environment trains with, and what a run refuses.

The environment announces its behaviors by name (a Unity build's ``Name?team=N`` ids are
grouped under ``Name``, see :mod:`dojo.envs.behavior_ids`); the ``behaviors:`` section of that
name applies, else ``default_settings``, as in ML-Agents.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dojo.config.settings import RunOptions, TrainerSettings
from dojo.envs.base import Environment
from dojo.envs.behavior_ids import parse_behavior_id
from dojo.errors import ConfigError, EnvError

logger = logging.getLogger("dojo")


def behavior_settings(
    options: RunOptions,
    name: str,
    *,
    config_given: bool,
    default_settings_for: Callable[[str], TrainerSettings],
) -> TrainerSettings:
    """Settings of behavior ``name`` (a behavior name, never a ``?team=`` id).

    Without a configuration file every behavior gets ``default_settings_for(name)`` with a
    warning; with one, a behavior it does not configure (and no ``default_settings``) is an
    error.

    Raises:
        ConfigError: no settings for ``name``, or a section named with a team suffix, which
            ML-Agents never uses (``behaviors: 3DBall?team=0:``).
    """
    qualified = [key for key in sorted(options.behaviors) if _names_behavior(key, name)]
    if qualified:
        raise ConfigError(
            f"behaviors.{qualified[0]}: behaviors are configured by name, without the team "
            f"suffix the environment adds to its ids: rename the section to '{name}:' (as in "
            "ML-Agents, a section named with the suffix would never be used)."
        )
    settings = options.settings_for(name)
    if settings is not None:
        return settings
    if config_given:
        raise ConfigError(
            f"the environment has a behavior {name!r} but the configuration file has no "
            f"'behaviors: {name}:' section and no 'default_settings'. Configured behaviors: "
            + (", ".join(sorted(options.behaviors)) or "none")
        )
    logger.warning("Behavior %r has no configuration: using the default settings.", name)
    return default_settings_for(name)


def warn_about_teams(env: Environment, name: str, trainer_type: str) -> None:
    """ML-Agents' warning when one behavior has several teams and no self-play: they all act
    with, and train, one policy."""
    teams = sorted({parse_behavior_id(qualified).team_id for qualified in env.behavior_ids(name)})
    if len(teams) > 1:
        logger.warning(
            "Behavior %r has agents on %d teams (%s): your environment contains multiple teams, "
            "but the %s trainer doesn't support adversarial games; all teams act with and train "
            "one policy. Enable self-play to train adversarial games.",
            name,
            len(teams),
            ", ".join(map(str, teams)),
            trainer_type,
        )


def _names_behavior(section: str, name: str) -> bool:
    """Whether the ``behaviors:`` key ``section`` is a fully qualified id of ``name``."""
    try:
        return "?" in section and parse_behavior_id(section).name == name
    except EnvError:
        return False
