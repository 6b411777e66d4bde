"""Builds the environment named by ``--env`` / ``env_settings.env_path`` through the plugins."""

from __future__ import annotations

import re
from pathlib import Path

from dojo.config.settings import EngineSettings, EnvSettings
from dojo.envs.base import Environment
from dojo.envs.context import EnvironmentContext
from dojo.errors import DojoError, EnvError, shorten
from dojo.plugin_host import KNOWN_DISTRIBUTIONS, PluginHost, install_command

#: The provider of plain paths (Unity builds) and of no --env at all (the Unity Editor).
UNITY_SCHEME = "unity"
#: The schemes of the Unity protocol, provided by the dojo-unity plugin.
UNITY_SCHEMES = ("unity", "remote")

# "scheme:target", where scheme is a plain identifier (so "C:\\path" or "./Build" are paths).
_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9_.+-]+):(?P<target>.*)$", re.DOTALL)

#: What follows the colon of the schemes dojo ships, for the message of an empty target.
_TARGET_EXAMPLES = {
    "gymnasium": "an environment id, e.g. gymnasium:CartPole-v1",
    "remote": "HOST, HOST:PORT or :PORT, e.g. remote:127.0.0.1:5005",
    "unity": "the path of a build, e.g. unity:./3DBall.x86_64",
}


def split_env_uri(env_path: str) -> tuple[str | None, str]:
    """Split ``"gymnasium:CartPole-v1"`` into ``("gymnasium", "CartPole-v1")``.

    A plain path gives ``(None, path)``; ``"gymnasium:"`` gives ``("gymnasium", "")``.
    """
    match = _URI.match(env_path)
    if match is None:
        return None, env_path
    return match["scheme"], match["target"]


def build_environment(
    settings: EnvSettings,
    seed: int,
    host: PluginHost,
    *,
    engine_settings: EngineSettings | None = None,
    log_dir: Path | None = None,
) -> Environment:
    """Create the environment of ``settings.env_path`` with its provider plugin.

    ``scheme:target`` goes to the provider registered for ``scheme``; a plain path goes to the
    ``unity`` provider (a Unity build), and no path at all to the ``unity`` provider with an
    empty target (listen for the Unity Editor). The provider's factory is called with one
    :class:`~dojo.envs.context.EnvironmentContext`: the target, ``settings.num_envs``, ``seed``,
    ``settings``, ``engine_settings`` and ``log_dir`` (the run's ``run_logs`` folder, for the
    players' log files).

    Raises:
        EnvError: nothing after ``scheme:``, no provider for the scheme (for the Unity schemes:
            the dojo-unity plugin is not installed), or the provider failed.
    """
    where = (
        f"--env {shorten(repr(settings.env_path))}"
        if settings.env_path
        else "no --env (Unity Editor)"
    )
    if settings.env_path is None:
        scheme, target = UNITY_SCHEME, ""
    else:
        given, target = split_env_uri(settings.env_path)
        if given is not None and not target.strip():
            example = _TARGET_EXAMPLES.get(given, f"what the {given!r} provider expects")
            raise EnvError(f"{where}: nothing follows '{given}:'. Give {example}.")
        scheme = given or UNITY_SCHEME
    if scheme not in host.registry("environments"):
        if scheme in UNITY_SCHEMES:
            raise EnvError(_unity_missing_message(where, scheme, host))
        host.lookup("environments", scheme, where=where)
    factory = host.lookup("environments", scheme).load_factory()
    context = EnvironmentContext(
        target=target,
        num_envs=settings.num_envs,
        seed=seed,
        settings=settings,
        engine_settings=engine_settings or EngineSettings(),
        log_dir=log_dir,
    )
    try:
        return factory(context)
    except DojoError:
        raise
    except Exception as err:
        raise EnvError(f"{where}: could not create the environment: {err}") from err


def _unity_missing_message(where: str, scheme: str, host: PluginHost) -> str:
    """One line for a Unity build, the Editor, ``unity:`` or ``remote:`` without dojo-unity:
    the install command, and why the plugin did not load if it is installed but broken."""
    distribution = KNOWN_DISTRIBUTIONS["environments"][scheme]
    lines = [
        f"{where}: Unity environments need the {distribution} plugin: "
        f"{install_command(distribution)}."
    ]
    for failure in host.failures:
        if failure.distribution == distribution:
            lines.append(f"Note: {distribution} is installed but failed to load: {failure.error}")
    return " ".join(lines)
