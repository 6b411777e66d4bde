"""Built-in environment providers: ``gymnasium`` (``--env gymnasium:CartPole-v1``), ``unity``
(a Unity build: ``--env path/to/Build``, or no ``--env`` for the Editor) and ``remote``
(``--env remote:0.0.0.0:5005``: environments that connect by themselves over the Unity protocol).

Factories are lazy ``"module:attr"`` strings, so importing this module (at every start-up, for
``--help`` too) never imports gymnasium or torch.
"""

from __future__ import annotations

from dojo.hookspecs import hookimpl
from dojo.registry import Registry


@hookimpl
def dojo_register_environments(registry: Registry) -> None:
    registry.register(
        "gymnasium",
        factory="dojo.envs.gymnasium_env:make_gymnasium_environment",
        schema=None,
        description=(
            "Gymnasium environments, vectorised in-process over --num-envs copies "
            "(gymnasium:CartPole-v1; env_args key=value are passed to gymnasium.make)."
        ),
    )
    registry.register(
        "unity",
        factory="dojo.envs.unity.providers:make_unity_environment",
        schema=None,
        description=(
            "Unity builds over the ML-Agents protocol (--env path/to/Build, or no --env to "
            "connect to the Editor); one player process per --num-envs."
        ),
        run_context=True,
    )
    registry.register(
        "remote",
        factory="dojo.envs.unity.providers:make_remote_environment",
        schema=None,
        description=(
            "Environments started elsewhere that connect over the ML-Agents protocol "
            "(remote:HOST[:PORT] or remote::PORT; e.g. python -m dojo.envs.serve on another "
            "machine)."
        ),
        run_context=True,
    )
