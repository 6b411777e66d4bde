"""Registers the ``unity`` and ``remote`` environment providers with dojo (entry point
``dojo.plugins: unity``).

Factories are lazy ``"module:attr"`` strings, so importing this module (at every start-up, for
``--help`` too) never imports grpc or protobuf.
"""

from __future__ import annotations

from dojo.hookspecs import hookimpl
from dojo.registry import Registry


@hookimpl
def dojo_register_environments(registry: Registry) -> None:
    registry.register(
        "unity",
        factory="dojo_unity.providers:make_unity_environment",
        schema=None,
        description=(
            "Unity builds over the ML-Agents protocol (--env path/to/Build, or no --env to "
            "connect to the Editor); one player process per --num-envs."
        ),
    )
    registry.register(
        "remote",
        factory="dojo_unity.providers:make_remote_environment",
        schema=None,
        description=(
            "Environments started elsewhere that connect over the ML-Agents protocol "
            "(remote:HOST[:PORT] or remote::PORT; e.g. python -m dojo_unity.serve on another "
            "machine)."
        ),
    )
