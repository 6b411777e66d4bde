"""Hook specifications: every way a plugin can extend dojo.

A plugin is a module (or object) with functions decorated by :data:`hookimpl` whose names match
the hooks below. Plugins are found through the ``dojo.plugins`` entry-point group::

    [project.entry-points."dojo.plugins"]
    myalgo = "dojo_myalgo.plugin"

and the module implements, for example::

    from dojo.api import hookimpl


    @hookimpl
    def dojo_register_trainers(registry):
        registry.register(
            "myalgo",
            factory="dojo_myalgo.trainer:MyAlgoTrainer",
            schema="dojo_myalgo.settings:MyAlgoHyperparametersSchema",
            description="My algorithm.",
        )

Hooks are grouped by phase. ``dojo_register_*`` hooks run once, when the host starts, before any
configuration is read; the registries they fill are frozen afterwards. In every registry a name
is registered once: a third-party plugin that takes a name already registered is recorded as a
load failure (shown by ``dojo plugins``), and the first registration keeps the name. Factories
and schemas are given as ``"module:attr"`` strings so that registering never imports heavy
modules (torch).
Lifecycle hooks are notifications: their return values are ignored and they must not raise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import argparse

    from dojo.api import CheckpointInfo, RunInfo
    from dojo.registry import Registry

PROJECT_NAME = "dojo"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --------------------------------------------------------------------------------------------
# Registration: called once at start-up, in plugin registration order.
# --------------------------------------------------------------------------------------------


@hookspec
def dojo_register_trainers(registry: Registry) -> None:
    """Register trainer types (the values of ``trainer_type`` in YAML).

    Called once when the plugin host starts. Call ``registry.register(name, factory=...,
    schema=..., description=...)`` for each trainer:

    - ``name``: the ``trainer_type`` users write, e.g. ``"ppo"``.
    - ``factory``: ``"module:attr"`` of a :class:`dojo.api.Trainer` subclass, constructed with
      keyword arguments (see :class:`dojo.api.Trainer`).
    - ``schema``: ``"module:attr"`` of the marshmallow schema of the trainer's
      ``hyperparameters`` section; its ``@post_load`` returns a frozen dataclass.

    Args:
        registry: the host's trainer registry. A name that is already taken is refused: the
            first registration keeps it and the plugin's attempt is recorded as a load failure
            (``dojo plugins`` lists it).

    Returns:
        Nothing.
    """


@hookspec
def dojo_register_reward_signals(registry: Registry) -> None:
    """Register reward signals (the keys of ``reward_signals`` in YAML).

    Called once when the plugin host starts. ``factory`` names a
    :class:`dojo.api.RewardSignal` subclass; ``schema`` names the marshmallow schema of the
    signal's own keys (``strength`` and ``gamma`` are added by the core for every signal and
    must not be declared again).

    Args:
        registry: the host's reward-signal registry.

    Returns:
        Nothing.
    """


@hookspec
def dojo_register_samplers(registry: Registry) -> None:
    """Register environment-parameter samplers (``sampler_type`` values in YAML).

    Called once when the plugin host starts. ``factory`` names a :class:`dojo.api.Sampler`
    subclass; ``schema`` names the schema of its ``sampler_parameters`` except ``seed``, which
    the core reads for every sampler. When a run starts, the core builds each sampler of
    ``environment_parameters`` as ``factory(seed=..., **parameters)``, the parameters as the
    schema loaded them (a mapping) and the seed as written, or derived from the run's seed
    when it is -1.

    Args:
        registry: the host's sampler registry.

    Returns:
        Nothing.
    """


@hookspec
def dojo_register_curricula(registry: Registry) -> None:
    """Register lesson completion criteria (``completion_criteria.measure`` values).

    Called once when the plugin host starts. ``factory`` names a
    :class:`dojo.api.CompletionCriterion` subclass. When a run starts, the core builds one for
    every lesson but the last as ``factory(**completion_criteria)`` (``behavior``, ``measure``,
    ``threshold``, ``min_lesson_length``, ``signal_smoothing``, ``require_reset``).

    Args:
        registry: the host's completion-criterion registry.

    Returns:
        Nothing.
    """


@hookspec
def dojo_register_behavior_sections(registry: Registry) -> None:
    """Register sections of a behavior's settings (keys of ``behaviors.<name>`` in YAML).

    Called once when the plugin host starts. A section is a key beside the core's
    (``trainer_type``, ``hyperparameters``, ...) that a plugin owns, such as
    ``behavioral_cloning`` or ``self_play``. ``registry.register(name, factory=...,
    schema=..., description=...)``:

    - ``schema``: ``"module:attr"`` of the marshmallow schema of the section's keys; its
      ``@post_load`` returns the settings object the factory receives. Errors carry the dotted
      path (``behaviors.Walker.behavioral_cloning.strength``).
    - ``factory``: ``"module:attr"`` of a :class:`dojo.api.TrainerAddOn` subclass (its update
      runs on the behavior's trainer after each of the trainer's updates) or of a
      :class:`dojo.api.TrainerWrapper` subclass (it wraps the behavior's trainer). The core
      constructs it for each behavior whose section is given and not ``null``.

    Args:
        registry: the host's behavior-section registry. A name the core's own keys use cannot
            be registered.

    Returns:
        Nothing.
    """


@hookspec
def dojo_register_stats_writers(registry: Registry) -> None:
    """Register statistics writers (TensorBoard, console, gauges, ...).

    Called once when the plugin host starts. ``factory`` names a :class:`dojo.api.StatsWriter`
    subclass constructed as ``factory(run=RunInfo)``. Every registered writer is active in every
    run unless its entry carries ``enabled_by_default=False``.

    Args:
        registry: the host's stats-writer registry.

    Returns:
        Nothing.
    """


@hookspec
def dojo_register_environments(registry: Registry) -> None:
    """Register environment providers, keyed by URI scheme.

    Called once when the plugin host starts. The name is the scheme users write before the
    colon in ``--env`` (``gymnasium`` for ``--env gymnasium:CartPole-v1``); a plain path and no
    ``--env`` at all go to the ``unity`` provider (the dojo-unity plugin). ``factory`` names a
    callable ``factory(context: EnvironmentContext) -> Environment``, called when a run builds
    its environment (before the run folder exists) or ``python -m dojo_unity.serve`` builds one.
    The :class:`dojo.envs.context.EnvironmentContext` carries ``target`` (the text after
    ``scheme:``; ``""`` for the Unity Editor), ``num_envs``, ``seed`` (already drawn when the
    configuration said -1), ``settings`` (the run's ``env_settings``), ``engine_settings`` and
    ``log_dir`` (the run's ``run_logs`` folder for environment logs, or ``None``). The factory
    returns a :class:`dojo.envs.base.Environment`; it raises :class:`dojo.errors.EnvError`
    with a message for the user when the target is wrong (any other exception is wrapped into
    one).

    Args:
        registry: the host's environment registry.

    Returns:
        Nothing.
    """


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


@hookspec
def dojo_add_cli_options(parser: argparse.ArgumentParser) -> None:
    """Add options to the ``mlagents-learn`` argument parser.

    Called when the parser is built, after the core's options. Options a plugin adds appear in
    ``--help``; their values reach the plugin through :attr:`dojo.api.RunInfo.cli_options`.
    Use long option names prefixed with the plugin's name to avoid clashes.

    Args:
        parser: the :class:`argparse.ArgumentParser` of ``mlagents-learn``.

    Returns:
        Nothing.
    """


@hookspec
def dojo_add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add subcommands to the ``dojo`` command.

    Called when the ``dojo`` parser is built, after the core's commands (``plugins``,
    ``config``); the commands a plugin adds appear in ``dojo --help``. For each command, call
    ``subparsers.add_parser(name, help=...)``, add its arguments, and set its handler with
    ``parser.set_defaults(handler=handler)``. ``dojo`` calls ``handler(args)`` with the parsed
    :class:`argparse.Namespace` and exits with the ``int`` it returns (0 for success). A handler
    reports a user's mistake (a missing file, a bad value) by raising a
    :class:`~dojo.api.DojoError`: ``dojo`` prints its message as one ``error:`` line, without a
    traceback unless ``--debug``, and exits with 1. Name commands after what they work on
    (``demo``), not after the plugin; a name already taken is a load error of the plugin.

    Args:
        subparsers: the ``dojo`` parser's subcommands (what
            :meth:`argparse.ArgumentParser.add_subparsers` returned).

    Returns:
        Nothing.
    """


# --------------------------------------------------------------------------------------------
# Run lifecycle notifications (return values ignored; must not raise)
# --------------------------------------------------------------------------------------------


@hookspec
def dojo_run_started(run: RunInfo) -> None:
    """Notify that a run has started: config resolved, environment built, trainers created.

    Args:
        run: facts about the run (id, results folder, resolved options, behaviors).

    Returns:
        Nothing.
    """


@hookspec
def dojo_checkpoint_saved(run: RunInfo, checkpoint: CheckpointInfo) -> None:
    """Notify that a checkpoint of one behavior was written (periodic or final).

    Args:
        run: facts about the run.
        checkpoint: behavior name, step, and the paths of the ``.pt`` and ``.onnx`` files.

    Returns:
        Nothing.
    """


@hookspec
def dojo_run_finished(run: RunInfo, reason: str) -> None:
    """Notify that a run has ended and its artifacts are written.

    Args:
        run: facts about the run.
        reason: ``"completed"`` (every behavior reached max_steps), ``"interrupted"`` (Ctrl+C or
            SIGTERM) or ``"failed"`` (an error ended it).

    Returns:
        Nothing.
    """
