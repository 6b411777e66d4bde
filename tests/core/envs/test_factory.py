"""``--env`` reaches its provider with one EnvironmentContext; Unity without dojo-unity says what
to install."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dojo.config.settings import EngineSettings, EnvSettings
from dojo.envs.context import EnvironmentContext
from dojo.envs.factory import build_environment
from dojo.errors import EnvError
from dojo.hookspecs import hookimpl
from dojo.plugin_host import LoadFailure, load_plugins
from dojo.registry import Registry


class RecordingProvider:
    """Registers ``rec:``, whose factory records the context it is called with."""

    def __init__(self) -> None:
        self.calls: list[EnvironmentContext] = []

    def make(self, context: EnvironmentContext) -> Any:
        self.calls.append(context)
        return "an environment"

    @hookimpl
    def dojo_register_environments(self, registry: Registry) -> None:
        registry.register("rec", factory=self.make)


def test_a_provider_gets_one_context_with_the_run_settings(tmp_path: Path) -> None:
    provider = RecordingProvider()
    host = load_plugins(discover=False, extra_plugins=(("rec", provider),))
    settings = EnvSettings(env_path="rec:some target", num_envs=3, env_args=["a=1"])
    engine = EngineSettings(time_scale=1.0)

    env = build_environment(settings, 42, host, engine_settings=engine, log_dir=tmp_path)

    assert env == "an environment"
    (context,) = provider.calls
    assert context == EnvironmentContext(
        target="some target",
        num_envs=3,
        seed=42,
        settings=settings,
        engine_settings=engine,
        log_dir=tmp_path,
    )
    with pytest.raises(AttributeError):  # frozen: a provider cannot change the run's settings
        context.seed = 0  # type: ignore[misc]


UNITY_HINT = (
    ": Unity environments need the dojo-unity plugin: install it with 'pip install dojo-unity' "
    "(or 'pip install ./plugins/unity' from a dojo checkout)."
)


@pytest.mark.parametrize(
    ("env_path", "where"),
    [
        ("path/to/Build.x86_64", "--env 'path/to/Build.x86_64'"),
        (None, "no --env (Unity Editor)"),
        ("unity:./3DBall", "--env 'unity:./3DBall'"),
        ("remote:0.0.0.0:6000", "--env 'remote:0.0.0.0:6000'"),
    ],
)
def test_unity_without_dojo_unity_names_the_package(env_path: str | None, where: str) -> None:
    host = load_plugins(discover=False)  # dojo-core alone

    with pytest.raises(EnvError) as raised:
        build_environment(EnvSettings(env_path=env_path), 0, host)

    assert str(raised.value) == where + UNITY_HINT


def test_a_broken_dojo_unity_says_why_it_did_not_load() -> None:
    failure = LoadFailure("unity", "dojo_unity.plugin", "dojo-unity", "ImportError: no grpc")
    other = LoadFailure("sac", "dojo_sac.plugin", "dojo-sac", "ImportError: no torch_scatter")
    host = replace(load_plugins(discover=False), failures=[other, failure])

    with pytest.raises(EnvError) as raised:
        build_environment(EnvSettings(env_path="Build.x86_64"), 0, host)

    message = str(raised.value)
    assert message.endswith(
        UNITY_HINT + " Note: dojo-unity is installed but failed to load: ImportError: no grpc"
    )
    assert "dojo-sac" not in message
