"""The ``mlagents-learn`` command line: every flag of ML-Agents 1.1.0, with its defaults.

As in ML-Agents, a flag overrides the YAML only when it is given explicitly: each core option
uses an action that records its destination in the namespace, so ``--run-id ppo`` overrides a
YAML ``run_id`` even though ``ppo`` is the default. :func:`parse_learn_args` turns the explicit
flags into per-section overrides for :func:`dojo.config.loader.resolve_run_options`.

This module must stay importable without torch (``mlagents-learn --help`` is instant).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import dojo
from dojo.errors import ConfigError, shorten

if TYPE_CHECKING:
    from dojo.plugin_host import PluginHost

logger = logging.getLogger("dojo")

#: Namespace attribute holding the destinations of explicitly given flags.
EXPLICIT_ATTR = "_dojo_explicit_flags"

#: YAML section of each core option's destination (ML-Agents' ``RunOptions.from_argparse``).
SECTION_OF: dict[str, str] = {
    **dict.fromkeys(
        (
            "run_id",
            "initialize_from",
            "load_model",
            "resume",
            "force",
            "train_model",
            "inference",
            "results_dir",
        ),
        "checkpoint_settings",
    ),
    **dict.fromkeys(
        (
            "env_path",
            "env_args",
            "base_port",
            "num_envs",
            "num_areas",
            "timeout_wait",
            "seed",
            "max_lifetime_restarts",
            "restarts_rate_limit_n",
            "restarts_rate_limit_period_s",
        ),
        "env_settings",
    ),
    **dict.fromkeys(
        (
            "width",
            "height",
            "quality_level",
            "time_scale",
            "target_frame_rate",
            "capture_frame_rate",
            "no_graphics",
            "no_graphics_monitor",
        ),
        "engine_settings",
    ),
    "device": "torch_settings",
    "num_threads": "torch_settings",
    "deterministic": "behaviors.*.network_settings",
    "debug": "",
}

_DEPRECATED_MESSAGES = {
    "load_model": "The --load option has been deprecated. Please use the --resume option instead.",
    "train_model": "The --train option has been deprecated. Train mode is now the default. Use "
    "--inference to run in inference mode.",
}
_REMOVED_FLAGS = {
    "--curriculum": "the curriculum now lives in the YAML file under 'environment_parameters' "
    "(run 'dojo config upgrade CONFIG --curriculum FILE' to convert an old one)",
    "--sampler": "samplers now live in the YAML file under 'environment_parameters' "
    "(run 'dojo config upgrade CONFIG --sampler FILE' to convert an old one)",
    "--lesson": "the lesson of each parameter is restored from training_status.json on --resume",
    "--keep-checkpoints": "set keep_checkpoints under each behavior in the YAML file",
    "--save-freq": "set checkpoint_interval under each behavior in the YAML file",
    "--cpu": "use --torch-device cpu",
}


def _mark(namespace: argparse.Namespace, dest: str) -> None:
    explicit = getattr(namespace, EXPLICIT_ATTR, None)
    if explicit is None:
        explicit = set()
        setattr(namespace, EXPLICIT_ATTR, explicit)
    explicit.add(dest)


class _Store(argparse.Action):
    """``store`` that records the flag as explicitly given."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        setattr(namespace, self.dest, values)
        _mark(namespace, self.dest)


class _StoreTrue(argparse.Action):
    """``store_true`` that records the flag as explicitly given."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("default", False)
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        setattr(namespace, self.dest, True)
        _mark(namespace, self.dest)


class _Removed(argparse.Action):
    """A flag that was removed: accept it, warn, ignore it (``--torch``, ``--tensorflow``)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        logger.warning("The %s option has been removed and is ignored.", option)


class _Gone(argparse.Action):
    """A flag of ML-Agents ≤ 0.16 with no equivalent flag: stop with what to do instead."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs="?", default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        parser.error(f"{option} was removed in ML-Agents 0.17+: {_REMOVED_FLAGS[str(option)]}.")


class CommandLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose mistakes are user errors like any other.

    argparse prints its usage and exits with status 2; dojo's commands promise one
    ``error: ...`` line and status 1 (``docs/cli.md``), so :meth:`error` raises a
    :class:`~dojo.errors.ConfigError` for the command's error handler to print. ``--help`` and
    ``--version`` still print and exit with 0.
    """

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        raise ConfigError(f"{shorten(message, 300)} (see '{self.prog} --help')")


def build_parser(
    host: PluginHost | None = None, prog: str = "mlagents-learn"
) -> argparse.ArgumentParser:
    """The ``mlagents-learn`` parser; plugins add options through ``dojo_add_cli_options``."""
    parser = CommandLineParser(
        prog=prog,
        description="Train reinforcement-learning agents (Unity ML-Agents compatible).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add(
        "trainer_config_path",
        nargs="?",
        default=None,
        help="YAML configuration file (ML-Agents format); optional: without it every behavior "
        "uses the default settings",
    )
    add(
        "--env",
        dest="env_path",
        default=None,
        action=_Store,
        help="environment: a Unity executable, 'scheme:target' (gymnasium:CartPole-v1), or "
        "nothing to connect to the Unity Editor",
    )
    add(
        "--resume",
        default=False,
        action=_StoreTrue,
        help="continue the run --run-id from its last checkpoint",
    )
    add(
        "--deterministic",
        default=False,
        action=_StoreTrue,
        help="act with the mean (continuous) or argmax (discrete) action in every behavior",
    )
    add(
        "--force",
        default=False,
        action=_StoreTrue,
        help="reuse an existing run id, overwriting its results",
    )
    add(
        "--run-id",
        dest="run_id",
        default="ppo",
        action=_Store,
        help="name of the run: results go to <results-dir>/<run-id>/",
    )
    add(
        "--initialize-from",
        dest="initialize_from",
        metavar="RUN_ID",
        default=None,
        action=_Store,
        help="initialise the networks from the checkpoints of another run "
        "(its step count starts at 0)",
    )
    add("--seed", default=-1, type=int, action=_Store, help="random seed; -1 picks one at random")
    add("--train", dest="train_model", default=False, action=_StoreTrue, help=argparse.SUPPRESS)
    add("--load", dest="load_model", default=False, action=_StoreTrue, help=argparse.SUPPRESS)
    add(
        "--inference",
        default=False,
        action=_StoreTrue,
        help="run the policies without training them",
    )
    add(
        "--base-port",
        dest="base_port",
        default=5005,
        type=int,
        action=_Store,
        help="first port for Unity environments; worker i uses base-port + i",
    )
    add(
        "--num-envs",
        dest="num_envs",
        default=1,
        type=int,
        action=_Store,
        help="number of environments to run in parallel (more than 1 requires --env)",
    )
    add(
        "--num-areas",
        dest="num_areas",
        default=1,
        type=int,
        action=_Store,
        help="training areas to instantiate in each Unity environment",
    )
    add(
        "--debug",
        default=False,
        action=_StoreTrue,
        help="verbose logging, and tracebacks for errors",
    )
    add(
        "--env-args",
        dest="env_args",
        default=None,
        nargs=argparse.REMAINDER,
        action=_Store,
        help="everything after this flag is passed to the environment executable",
    )
    add(
        "--max-lifetime-restarts",
        dest="max_lifetime_restarts",
        default=10,
        type=int,
        action=_Store,
        help="restarts of a crashed environment allowed over the run; -1 = unlimited",
    )
    add(
        "--restarts-rate-limit-n",
        dest="restarts_rate_limit_n",
        default=1,
        type=int,
        action=_Store,
        help="restarts allowed within --restarts-rate-limit-period-s; -1 = no limit",
    )
    add(
        "--restarts-rate-limit-period-s",
        dest="restarts_rate_limit_period_s",
        default=60,
        type=int,
        action=_Store,
        help="window of the restart rate limit, in seconds",
    )
    add("--torch", action=_Removed, help="(removed) PyTorch is always used")
    add("--tensorflow", action=_Removed, help="(removed) TensorFlow is not supported")
    add(
        "--results-dir",
        dest="results_dir",
        default="results",
        action=_Store,
        help="folder that holds the run folders",
    )
    add(
        "--timeout-wait",
        dest="timeout_wait",
        default=60,
        type=int,
        action=_Store,
        help="seconds to wait for an environment to connect or answer",
    )
    add("--version", action="version", version=f"%(prog)s (dojo {dojo.__version__})")
    for flag in _REMOVED_FLAGS:
        add(flag, action=_Gone, help=argparse.SUPPRESS)

    engine = parser.add_argument_group(title="Engine Configuration")
    engine.add_argument(
        "--width", default=84, type=int, action=_Store, help="window width of the Unity executable"
    )
    engine.add_argument(
        "--height",
        default=84,
        type=int,
        action=_Store,
        help="window height of the Unity executable",
    )
    engine.add_argument(
        "--quality-level",
        dest="quality_level",
        default=5,
        type=int,
        action=_Store,
        help="Unity quality level",
    )
    engine.add_argument(
        "--time-scale",
        dest="time_scale",
        default=20.0,
        type=float,
        action=_Store,
        help="Unity time scale",
    )
    engine.add_argument(
        "--target-frame-rate",
        dest="target_frame_rate",
        default=-1,
        type=int,
        action=_Store,
        help="Unity target frame rate; -1 = platform default",
    )
    engine.add_argument(
        "--capture-frame-rate",
        dest="capture_frame_rate",
        default=60,
        type=int,
        action=_Store,
        help="Unity capture frame rate",
    )
    engine.add_argument(
        "--no-graphics",
        dest="no_graphics",
        default=False,
        action=_StoreTrue,
        help="run Unity executables without graphics",
    )
    engine.add_argument(
        "--no-graphics-monitor",
        dest="no_graphics_monitor",
        default=False,
        action=_StoreTrue,
        help="render worker 0 only; other workers run without graphics",
    )

    torch = parser.add_argument_group(title="Torch Configuration")
    torch.add_argument(
        "--torch-device",
        dest="device",
        default=None,
        action=_Store,
        help="torch device: cpu, cuda, cuda:N, mps; default: cuda if available",
    )
    torch.add_argument(
        "--num-threads",
        dest="num_threads",
        default=None,
        type=int,
        action=_Store,
        help="CPU threads torch may use (dojo addition)",
    )

    if host is not None:
        host.hook.dojo_add_cli_options(parser=parser)
    return parser


@dataclass(frozen=True)
class LearnArgs:
    """The parsed ``mlagents-learn`` command line.

    Attributes:
        config_path: the YAML file, or ``None``.
        overrides: section -> {key: value} of the flags given explicitly; section ``""`` holds
            top-level keys (``debug``), ``"behaviors.*.network_settings"`` applies to every
            behavior (``deterministic``).
        debug: ``--debug`` was given.
        explicit: destinations of the core flags given explicitly.
        plugin_options: values of options added by plugins (``dojo_add_cli_options``).
        namespace: the raw argparse namespace.
    """

    config_path: str | None
    overrides: dict[str, dict[str, Any]]
    debug: bool
    explicit: frozenset[str] = frozenset()
    plugin_options: dict[str, Any] = field(default_factory=dict)
    namespace: argparse.Namespace = field(default_factory=argparse.Namespace)


def parse_learn_args(
    argv: Sequence[str] | None, host: PluginHost | None = None, prog: str = "mlagents-learn"
) -> LearnArgs:
    """Parse an ``mlagents-learn`` command line (``argv`` without the program name).

    Deprecated flags warn: ``--load`` acts as ``--resume``; ``--train`` does nothing.

    Raises:
        ConfigError: an unknown flag, a flag without its value, or a value of the wrong type.
    """
    parser = build_parser(host, prog=prog)
    namespace = parser.parse_args(list(argv) if argv is not None else None)
    explicit = set(getattr(namespace, EXPLICIT_ATTR, set()))
    for dest, message in _DEPRECATED_MESSAGES.items():
        if dest in explicit:
            logger.warning(message)
    if "load_model" in explicit and "resume" not in explicit:
        namespace.resume = True
        explicit.add("resume")
    overrides: dict[str, dict[str, Any]] = {}
    for dest in sorted(explicit):
        section = SECTION_OF.get(dest)
        if section is not None:
            overrides.setdefault(section, {})[dest] = getattr(namespace, dest)
    core = set(SECTION_OF) | {"trainer_config_path", EXPLICIT_ATTR}
    plugin_options = {k: v for k, v in vars(namespace).items() if k not in core}
    return LearnArgs(
        config_path=namespace.trainer_config_path,
        overrides=overrides,
        debug=bool(namespace.debug),
        explicit=frozenset(explicit),
        plugin_options=plugin_options,
        namespace=namespace,
    )
