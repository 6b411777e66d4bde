"""Builds the environment named by ``--env`` / ``env_settings.env_path`` through the plugins."""

from __future__ import annotations

import re

from dojo.config.settings import EnvSettings
from dojo.envs.base import Environment
from dojo.errors import DojoError, EnvError
from dojo.plugin_host import PluginHost

# "scheme:target", where scheme is a plain identifier (so "C:\\path" or "./Build" are paths).
_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9_.+-]+):(?P<target>.+)$")


def split_env_uri(env_path: str) -> tuple[str | None, str]:
    """Split ``"gymnasium:CartPole-v1"`` into ``("gymnasium", "CartPole-v1")``.

    A plain path gives ``(None, path)``.
    """
    match = _URI.match(env_path)
    if match is None:
        return None, env_path
    return match["scheme"], match["target"]


def build_environment(settings: EnvSettings, seed: int, host: PluginHost) -> Environment:
    """Create the environment of ``settings.env_path`` with its provider plugin.

    Raises:
        EnvError: no provider for the scheme, the provider failed, or a Unity environment was
            asked for (not supported by this version).
    """
    if settings.env_path is None:
        raise EnvError(
            "no environment given. Pass --env gymnasium:<EnvId> (for example "
            "--env gymnasium:CartPole-v1) or set env_settings.env_path. Connecting to the Unity "
            "Editor is not supported by this version of dojo yet."
        )
    scheme, target = split_env_uri(settings.env_path)
    if scheme is None or scheme not in host.registry("environments"):
        if scheme is None:
            raise EnvError(
                f"--env {settings.env_path!r}: Unity executables are not supported by this version "
                "of dojo yet. Use a registered environment scheme: "
                + ", ".join(f"{name}:<target>" for name in host.registry("environments").names())
            )
        host.lookup("environments", scheme, where=f"--env {settings.env_path!r}")
    entry = host.lookup("environments", scheme)
    factory = entry.load_factory()
    try:
        return factory(target, num_envs=settings.num_envs, seed=seed, settings=settings)
    except DojoError:
        raise
    except Exception as err:
        raise EnvError(
            f"--env {settings.env_path!r}: could not create the environment: {err}"
        ) from err
