"""Behavior sections owned by plugins: build their add-ons and wrappers around a trainer.

A section given in ``behaviors.<name>`` (and not ``null``) was validated by its plugin's
schema (:class:`~dojo.config.components.BehaviorSectionField`); here its factory is built:
add-ons are attached to the trainer, then wrappers wrap it, each in the order the sections
were registered (see :mod:`dojo.extensions`).
"""

from __future__ import annotations

from dojo.api import Trainer
from dojo.config.settings import TrainerSettings
from dojo.errors import ConfigError, PluginError
from dojo.extensions import TrainerAddOn, TrainerWrapper
from dojo.plugin_host import PluginHost


def apply_behavior_sections(
    host: PluginHost, name: str, settings: TrainerSettings, trainer: Trainer
) -> Trainer:
    """Attach the add-ons and apply the wrappers of behavior ``name``'s sections.

    Returns:
        The trainer the training loop uses: ``trainer``, or the outermost wrapper.

    Raises:
        ConfigError: an add-on's section on a trainer that does not expose its policy.
        PluginError: a section's factory is neither an add-on nor a wrapper class.
    """
    order = host.registry("behavior_sections").names()
    given = sorted(settings.sections.items(), key=lambda item: order.index(item[0]))
    wrappers = []
    for section, section_settings in given:
        where = f"behaviors.{name}.{section}"
        entry = host.lookup("behavior_sections", section, where=where)
        factory = entry.load_factory()
        if isinstance(factory, type) and issubclass(factory, TrainerWrapper):
            wrappers.append((section, section_settings, factory))
        elif isinstance(factory, type) and issubclass(factory, TrainerAddOn):
            policy = trainer.trainable_policy()
            if policy is None:
                raise ConfigError(
                    f"{where}: the {settings.trainer_type!r} trainer does not expose its policy "
                    f"(Trainer.trainable_policy), so the {section!r} section of plugin "
                    f"{entry.plugin!r} cannot train it. Remove the section or use a trainer "
                    "that exposes its policy (ppo, sac)."
                )
            trainer.attach_add_on(
                factory(name=section, settings=section_settings, trainer=trainer, policy=policy)
            )
        else:
            raise PluginError(
                f"{where}: the factory of behavior section {section!r} ({entry.factory!r}, "
                f"plugin {entry.plugin!r}) is neither a dojo.api.TrainerAddOn nor a "
                "dojo.api.TrainerWrapper subclass"
            )
    for section, section_settings, factory in wrappers:
        trainer = factory(name=section, settings=section_settings, trainer=trainer)
    return trainer
