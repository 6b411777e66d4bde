"""The ``dojo`` command: inspect plugins and configuration files without training.

- ``dojo plugins``: every plugin, its distribution and version, what it registers, its hooks,
  and the plugins that failed to load.
- ``dojo plugins --check``: import every registered factory and schema (torch included) and
  name each broken one with its plugin and distribution; exit status 1 when any is broken or a
  plugin failed to load.
- ``dojo plugins --hooks-reference``: the hook reference (``docs/hooks.md``) in Markdown.
- ``dojo config check FILE [mlagents-learn flags]``: validate FILE as ``mlagents-learn`` would
  (same flags, same overrides) and print the resolved configuration as YAML.
- ``dojo config explain NAME``: every key of a component (``ppo``, ``extrinsic``, ...).
- ``dojo config upgrade FILE [--curriculum F] [--sampler F]``: print an old-format file in the
  current format.
- ``dojo config reference``: the configuration reference in Markdown.
- commands that plugins add through the ``dojo_add_commands`` hook (``dojo demo`` of
  dojo-imitation); each sets a ``handler(args) -> int`` whose result is the exit status.

User errors print one message on stderr (no traceback unless ``--debug``) and exit with 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from dojo.cli.arguments import CommandLineParser
from dojo.cli.errors import report_error
from dojo.errors import ConfigError, DojoError
from dojo.plugin_host import LoadFailure, PluginHost, load_plugins

logger = logging.getLogger("dojo")


def _setup_logging(debug: bool) -> None:
    """Warnings and notes go to stderr so that stdout holds only the command's output."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    logger.propagate = False


def build_parser(host: PluginHost | None = None) -> argparse.ArgumentParser:
    """The ``dojo`` parser (``config check`` arguments are parsed by the learn parser).

    Args:
        host: when given, its plugins add their commands (``dojo_add_commands``).
    """
    parser = CommandLineParser(
        prog="dojo",
        description="Inspect dojo's plugins and configuration files; plugins add commands.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    plugins = commands.add_parser(
        "plugins", help="list plugins, what they register, and load failures"
    )
    plugins_action = plugins.add_mutually_exclusive_group()
    plugins_action.add_argument(
        "--check",
        action="store_true",
        help="import every registered factory and schema and report the broken ones "
        "(exit status 1 when any is broken or a plugin failed to load)",
    )
    plugins_action.add_argument(
        "--hooks-reference",
        action="store_true",
        help="print the reference of every hook (docs/hooks.md) in Markdown",
    )
    config = commands.add_parser("config", help="check, explain or upgrade configuration files")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = config_commands.add_parser(
        "check",
        help="validate a file (with any mlagents-learn flags) and print the resolved YAML",
        add_help=False,
    )
    check.add_argument("args", nargs=argparse.REMAINDER, help="FILE [mlagents-learn flags]")
    explain = config_commands.add_parser("explain", help="describe every key of a component")
    explain.add_argument("name", help="component name, e.g. ppo or extrinsic")
    upgrade = config_commands.add_parser(
        "upgrade", help="print an old-format (≤ 0.17) file in the current format"
    )
    upgrade.add_argument("file", help="old configuration file")
    upgrade.add_argument("--curriculum", help="separate curriculum file of ML-Agents ≤ 0.16")
    upgrade.add_argument("--sampler", help="separate sampler file of ML-Agents ≤ 0.16")
    config_commands.add_parser("reference", help="print the configuration reference (Markdown)")
    if host is not None:
        _add_plugin_commands(commands, host)
    return parser


def _add_plugin_commands(commands: argparse._SubParsersAction, host: PluginHost) -> None:
    """Call each plugin's ``dojo_add_commands`` on its own, so that a plugin whose hook raises
    (a command name already taken, a bug) is recorded as a load failure, shown by
    ``dojo plugins``, and the other commands still work."""
    for implementation in host.hook.dojo_add_commands.get_hookimpls():
        try:
            implementation.function(subparsers=commands)
        except Exception as err:  # a plugin's bug must not disable the dojo command
            message = f"dojo_add_commands failed: {type(err).__name__}: {err}"
            info = next((p for p in host.plugins if p.name == implementation.plugin_name), None)
            host.failures.append(
                LoadFailure(
                    name=implementation.plugin_name,
                    target=info.module if info else repr(implementation.plugin),
                    distribution=info.distribution if info else "",
                    error=message,
                )
            )
            logger.warning("plugin %s: %s", implementation.plugin_name, message)


def main(argv: Sequence[str] | None = None, host: PluginHost | None = None) -> int:
    """Entry point of ``dojo``; returns the exit code.

    Args:
        argv: the arguments; default: ``sys.argv[1:]``.
        host: the plugin host; default: the installed plugins (tests pass their own).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    _setup_logging(debug)
    try:
        if argv[:2] == ["config", "check"] or argv[1:3] == ["config", "check"]:
            start = argv.index("check") + 1
            return _config_check(argv[start:])
        if host is None:
            host = load_plugins()
        args = build_parser(host).parse_args(argv)
        if args.command == "plugins" and args.hooks_reference:
            from dojo.hooks_reference import hooks_reference

            print(hooks_reference(), end="")
            return 0
        handler = getattr(args, "handler", None)
        if handler is not None:
            status = handler(args)
            return 0 if status is None else int(status)
        if args.command == "plugins":
            return _plugins(args, host)
        return _config(args, host)
    except DojoError as err:
        return report_error(err, debug)


def _plugins(args: argparse.Namespace, host: PluginHost) -> int:
    if not args.check:
        print(describe_plugins(host))
        return 0
    from dojo.plugin_check import describe_check

    report, sound = describe_check(host)
    print(report)
    return 0 if sound else 1


def _config(args: argparse.Namespace, host: PluginHost) -> int:
    from dojo.config import explain as explain_module
    from dojo.config import formats, loader

    if args.config_command == "explain":
        print(explain_module.explain(host, args.name))
    elif args.config_command == "reference":
        print(explain_module.configuration_reference(host), end="")
    elif args.config_command == "upgrade":
        curriculum = loader.read_yaml(args.curriculum) if args.curriculum else None
        sampler = loader.read_yaml(args.sampler) if args.sampler else None
        conversion = formats.convert_to_current(
            loader.read_yaml(args.file),
            host,
            args.file,
            curriculum=curriculum,
            parameter_randomization=sampler,
        )
        for notice in conversion.notices:
            logger.warning("%s: %s", args.file, notice)
        print(loader.dump_yaml(conversion.data), end="")
    return 0


def _config_check(argv: list[str]) -> int:
    from dojo.cli.arguments import parse_learn_args
    from dojo.config.loader import dump_run_options, dump_yaml, load_run_options

    if argv and argv[0] in ("-h", "--help"):
        print(
            "usage: dojo config check FILE [mlagents-learn flags]\n\n"
            "Validate FILE as 'mlagents-learn FILE [flags]' would, without training, and print "
            "the resolved configuration as YAML.\nExit status: 0 if valid, 1 if not."
        )
        return 0
    host = load_plugins()
    args = parse_learn_args(argv, host, prog="dojo config check")
    if args.config_path is None:
        raise ConfigError(
            "dojo config check needs a configuration FILE (see 'dojo config check --help')."
        )
    options = load_run_options(args.config_path, args.overrides, host)
    print(dump_yaml(dump_run_options(options)), end="")
    return 0


def describe_plugins(host: PluginHost) -> str:
    """The text of ``dojo plugins``."""
    lines = ["Plugins:"]
    for info in host.plugins:
        origin = info.distribution or "(in-process)"
        version = f" {info.version}" if info.version else ""
        kind = ", built-in" if info.builtin else ""
        lines.append(f"  {info.name}  ({origin}{version}{kind})  module {info.module}")
        for registry in host.registries.values():
            names = [entry.name for entry in registry.entries() if entry.plugin == info.name]
            if names:
                lines.append(f"    {registry.kind}: {', '.join(names)}")
        lines.append(f"    hooks: {', '.join(info.hooks) or 'none'}")
    lines.append("Load failures:")
    if not host.failures:
        lines.append("  none")
    for failure in host.failures:
        origin = failure.distribution or failure.target
        lines.append(f"  {failure.name}  ({origin}): {failure.error}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
