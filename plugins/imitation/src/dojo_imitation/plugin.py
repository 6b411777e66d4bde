"""The ``imitation`` plugin module (entry point ``dojo.plugins: imitation``).

It registers the ``behavioral_cloning`` behavior section (:mod:`dojo_imitation.behavioral_cloning`):
an add-on that clones a demonstration into the policy of whatever trainer the behavior uses. The
.demo reader and writer are libraries (:mod:`dojo_imitation.demo_reader`,
:mod:`dojo_imitation.demo_writer`); ``dojo demo info`` and ``dojo demo export``
(:mod:`dojo_imitation.demo_command`) show and export .demo files. The ``offline_bc`` /
``online_bc`` trainers and the ``gail`` reward signal will be registered here.
"""

from __future__ import annotations

import argparse

from dojo.api import Registry, hookimpl


@hookimpl
def dojo_register_behavior_sections(registry: Registry) -> None:
    registry.register(
        "behavioral_cloning",
        factory="dojo_imitation.behavioral_cloning:BehavioralCloning",
        schema="dojo_imitation.bc_settings:BehavioralCloningSchema",
        description="Clone a .demo file's expert actions into the policy after each update.",
    )


@hookimpl
def dojo_add_commands(subparsers: argparse._SubParsersAction) -> None:
    from dojo_imitation.demo_command import add_demo_command  # numpy and protobuf: on demand

    add_demo_command(subparsers)
