"""Which settings each behavior of the environment trains with, and what a run refuses.

The environment announces its behaviors by name (a Unity build's ``Name?team=N`` ids are
grouped under ``Name``, see :mod:`dojo.envs.behavior_ids`); the ``behaviors:`` section of that
name applies, else ``default_settings``, as in ML-Agents. Sections dojo validates but cannot
train with yet stop the run before anything is built.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dojo.config.settings import RunOptions, TrainerSettings
from dojo.envs.base import Environment
from dojo.envs.behavior_ids import parse_behavior_id
from dojo.errors import ConfigError, EnvError

logger = logging.getLogger("dojo")

#: Valid ML-Agents sections that dojo does not implement yet: a run that sets them stops.
NOT_IMPLEMENTED_SECTIONS = {
    "behavioral_cloning": "behavioral cloning",
    "self_play": "self-play",
}


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


def refuse_unimplemented(options: RunOptions) -> None:
    """Stop a run whose behaviors use a section dojo validates but cannot train with yet.

    ``dojo config check`` still accepts these sections (they are valid ML-Agents settings);
    training with them silently ignored would give the user a different agent than asked for.

    Raises:
        ConfigError: naming the first such section.
    """
    sections = [(f"behaviors.{name}", s) for name, s in sorted(options.behaviors.items())]
    if options.default_settings is not None:
        sections.insert(0, ("default_settings", options.default_settings))
    for where, settings in sections:
        for key, feature in NOT_IMPLEMENTED_SECTIONS.items():
            if getattr(settings, key, None) is not None:
                raise ConfigError(
                    f"{where}.{key}: {feature} is not implemented in dojo yet, so this run would "
                    f"train without it. Remove the '{key}' section to train without "
                    f"{feature}; 'dojo config check' still validates it."
                )


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
