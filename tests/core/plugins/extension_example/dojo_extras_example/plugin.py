"""Registers each component (entry point ``dojo.plugins: extras``)."""

from dojo.api import Registry, hookimpl


@hookimpl
def dojo_register_behavior_sections(registry: Registry) -> None:
    registry.register(
        "l2_anchor",
        factory="dojo_extras_example.anchor:L2Anchor",
        schema="dojo_extras_example.anchor:L2AnchorSchema",
        description="Decays the policy's weights after each update of any trainer.",
    )
    registry.register(
        "random_opponent",
        factory="dojo_extras_example.opponent:RandomOpponent",
        schema="dojo_extras_example.opponent:RandomOpponentSchema",
        description="Some agents act at random and are not learned from.",
    )


@hookimpl
def dojo_register_samplers(registry: Registry) -> None:
    registry.register(
        "triangular",
        factory="dojo_extras_example.triangular:TriangularSampler",
        schema="dojo_extras_example.triangular:TriangularSchema",
        description="Triangular distribution between low and high, peaking at mode.",
    )


@hookimpl
def dojo_register_curricula(registry: Registry) -> None:
    registry.register(
        "steps_done",
        factory="dojo_extras_example.steps:StepsDone",
        description="The behavior's trainer steps.",
    )
