"""``mlagents-learn``: train behaviors of an environment as the YAML file says.

Importing this module, building the parser and printing ``--help`` never import torch.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from dojo.cli.errors import report_error, setup_logging
from dojo.errors import DojoError

if TYPE_CHECKING:
    from dojo.cli.arguments import LearnArgs
    from dojo.config.settings import TrainerSettings
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


if __name__ == "__main__":
    sys.exit(main())
