"""Serve a dojo environment to a trainer over the Unity ML-Agents protocol.

    python -m dojo_unity.serve gymnasium:CartPole-v1 --port 5005

connects to ``mlagents-learn`` waiting on port 5005 (``--env remote:...``, or any ``--env`` that
launched this program) exactly as a Unity player would, and serves the environment until the
trainer closes the connection. The arguments a trainer passes to a Unity player are understood
too (``--mlagents-port``, ``-logFile``, ``-nographics``, ``-batchmode``), so a one-line executable
script wrapping this command works as ``mlagents-learn --env path/to/script``::

    #!/bin/sh
    exec python -m dojo_unity.serve gymnasium:CartPole-v1 "$@"

Behaviors are sent as a Unity build names them, ``<BehaviorName>?team=<TeamId>``: team 0 unless
the URI ends with ``?team=N`` (``gymnasium:CartPole-v1?team=1``). ``--with URI`` adds another
environment to the same player, as a build with several behaviors (``--with
gymnasium:Pendulum-v1``) or several teams of one behavior (``--with
'gymnasium:CartPole-v1?team=1'``).

Extra ``key=value`` arguments (``--env-args`` of the trainer) are the first environment's
arguments, as for ``mlagents-learn --env gymnasium:...``. Exit code 0 when the trainer closed the
connection, 1 with one ``error:`` line otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from dojo.errors import DojoError

if TYPE_CHECKING:
    from dojo.envs.base import Environment
    from dojo.plugin_host import PluginHost
    from dojo_unity.client import ServedEnvironment


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dojo_unity.serve",
        description="Serve a dojo environment to a waiting trainer over the Unity protocol.",
    )
    parser.add_argument(
        "env", help="environment URI, e.g. gymnasium:CartPole-v1 (add ?team=N for team N)"
    )
    parser.add_argument("env_args", nargs="*", help="key=value arguments of the environment")
    parser.add_argument("--host", default="127.0.0.1", help="the trainer's address")
    parser.add_argument(
        "--port", "--mlagents-port", dest="port", type=int, default=5005,
        help="the trainer's port for this worker (a Unity player's --mlagents-port)",
    )  # fmt: skip
    parser.add_argument(
        "--copies", type=int, default=1,
        help="copies of the environment stepped together (agents of one behavior)",
    )  # fmt: skip
    parser.add_argument(
        "--connect-timeout", type=float, default=60.0,
        help="seconds to keep trying to reach the trainer",
    )  # fmt: skip
    parser.add_argument(
        "--with", dest="also", action="append", default=[], metavar="URI",
        help="another environment served by the same player (add ?team=N for team N)",
    )  # fmt: skip
    parser.add_argument("-logFile", dest="log_file", help="write the log here (as Unity does)")
    parser.add_argument("-nographics", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("-batchmode", action="store_true", help=argparse.SUPPRESS)
    return parser


def served_environment(
    uri: str, env_args: list[str], copies: int, host: PluginHost
) -> ServedEnvironment:
    """``URI[?team=N]`` -> the environment to serve and its team.

    Raises:
        EnvError: a malformed ``?team=`` suffix.
    """
    from dojo.config.settings import EnvSettings
    from dojo.envs.behavior_ids import parse_behavior_id
    from dojo.envs.factory import build_environment
    from dojo_unity.client import ServedEnvironment

    target = parse_behavior_id(uri)
    settings = EnvSettings(env_path=target.name, env_args=env_args or None, num_envs=copies)

    def make_env(seed: int) -> Environment:
        return build_environment(settings, seed, host)

    return ServedEnvironment(make_env, target.team_id)


def main(argv: list[str] | None = None) -> int:
    """Run the client; returns the exit code."""
    args = build_parser().parse_intermixed_args(argv)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if args.log_file:
        handlers.append(logging.FileHandler(args.log_file))
    logging.basicConfig(
        level=logging.INFO, format="[dojo.serve %(process)d] %(message)s", handlers=handlers
    )
    logger = logging.getLogger("dojo.serve")
    try:
        from dojo.plugin_host import load_plugins
        from dojo_unity.client import EnvironmentClient

        host = load_plugins()
        served = [served_environment(args.env, args.env_args, args.copies, host)]
        served += [served_environment(uri, [], args.copies, host) for uri in args.also]
        client = EnvironmentClient(served, args.host, args.port, args.connect_timeout)
        logger.info("Serving %s to the trainer at %s:%d.", args.env, args.host, args.port)
        client.run()
        logger.info("The trainer ended the session after %d steps.", client.steps_served)
        return 0
    except DojoError as err:
        logger.error("error: %s", err)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
