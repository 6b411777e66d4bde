"""``mlagents-learn``: train behaviors of an environment as the YAML file says.

Importing this module, building the parser and printing ``--help`` never import torch.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dojo.cli.errors import report_error, setup_logging
from dojo.errors import ConfigError, DojoError

if TYPE_CHECKING:
    from dojo.cli.arguments import LearnArgs
    from dojo.config.settings import RunOptions, TrainerSettings
    from dojo.plugin_host import PluginHost

logger = logging.getLogger("dojo")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``mlagents-learn``; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    setup_logging(debug)
    try:
        from dojo.cli.arguments import parse_learn_args
        from dojo.plugin_host import load_plugins

        host = load_plugins()
        args = parse_learn_args(argv, host)
        return _train(args, host, argv)
    except DojoError as err:
        return report_error(err, debug)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def _train(args: LearnArgs, host: PluginHost, argv: list[str]) -> int:
    from dojo.config.loader import (
        dump_run_options,
        dump_trainer_settings,
        read_yaml,
        resolve_run_options,
    )
    from dojo.training.run import RunRequest, run_training

    source = args.config_path or "<command line>"
    raw = read_yaml(args.config_path) if args.config_path else None
    options = resolve_run_options(raw, args.overrides, host, source)

    def defaults_for(behavior: str) -> TrainerSettings:
        resolved = resolve_run_options({"behaviors": {behavior: {}}}, args.overrides, host, source)
        return resolved.behaviors[behavior]

    if options.checkpoint_settings.resume:
        refuse_changed_trainer_types(options, defaults_for)
    request = RunRequest(
        options=options,
        config_given=args.config_path is not None,
        default_settings_for=defaults_for,
        dump_options=dump_run_options,
        dump_behavior=dump_trainer_settings,
        command_line=["mlagents-learn", *argv],
        cli_options=dict(args.plugin_options),
    )
    reason = run_training(request, host)
    logger.info("Training %s.", "finished" if reason == "completed" else "stopped: " + reason)
    return 0


def refuse_changed_trainer_types(
    options: RunOptions, defaults_for: Callable[[str], TrainerSettings]
) -> None:
    """On ``--resume``, refuse a behavior whose ``trainer_type`` differs from the one its
    checkpoint was trained with (read from the run's ``configuration.yaml``).

    A changed network is only a warning when the checkpoint loads (what fits is kept, as in
    ML-Agents), but another trainer shares nothing with the checkpoint except the policy: a PPO
    run "resumed" as SAC would keep the step count and start everything else fresh.

    Raises:
        ConfigError: naming the behavior, its checkpoint and both trainer types.
    """
    import yaml

    checkpoint = options.checkpoint_settings
    run_dir = Path(checkpoint.results_dir) / checkpoint.run_id
    try:
        saved = yaml.safe_load((run_dir / "configuration.yaml").read_text(encoding="utf-8"))
        behaviors = saved["behaviors"]
        trained = {str(name): str(config["trainer_type"]) for name, config in behaviors.items()}
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return  # no readable record of the last run: the checkpoint loader warns on misfits
    for name, before in trained.items():
        settings = options.settings_for(name) or defaults_for(name)
        path = run_dir / name / "checkpoint.pt"
        if settings.trainer_type != before and path.is_file():
            raise ConfigError(
                f"--resume: behavior {name} was trained with trainer_type {before} (see "
                f"{run_dir / 'configuration.yaml'}), but the configuration now says "
                f"{settings.trainer_type}: its checkpoint {path} holds {before}'s networks, "
                f"which {settings.trainer_type} cannot continue. Set trainer_type: {before} to "
                f"resume it, or start a new --run-id (--initialize-from={checkpoint.run_id} "
                "starts from its policy's weights)."
            )


if __name__ == "__main__":
    sys.exit(main())
