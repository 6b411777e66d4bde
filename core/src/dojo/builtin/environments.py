"""Built-in environment provider: ``gymnasium`` (``--env gymnasium:CartPole-v1``).

Unity builds, the Unity Editor and ``remote:`` environments come from the dojo-unity plugin
(``pip install dojo-unity``); without it, ``mlagents-learn`` says so and names the command.

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
