"""Built-in samplers and lesson completion measures (ML-Agents' own names)."""

from __future__ import annotations

from dojo.hookspecs import hookimpl
from dojo.registry import Registry

_SAMPLERS = "dojo.env_parameters.samplers"
_COMPLETION = "dojo.env_parameters.completion"


@hookimpl
def dojo_register_samplers(registry: Registry) -> None:
    registry.register(
        "uniform",
        factory=f"{_SAMPLERS}:UniformSampler",
        schema=f"{_SAMPLERS}:UniformSchema",
        description="Uniform between min_value and max_value.",
    )
    registry.register(
        "gaussian",
        factory=f"{_SAMPLERS}:GaussianSampler",
        schema=f"{_SAMPLERS}:GaussianSchema",
        description="Normal with mean and st_dev.",
    )
    registry.register(
        "multirangeuniform",
        factory=f"{_SAMPLERS}:MultiRangeUniformSampler",
        schema=f"{_SAMPLERS}:MultiRangeUniformSchema",
        description="Uniform over the union of [min, max] intervals.",
    )
    registry.register(
        "constant",
        factory=f"{_SAMPLERS}:ConstantSampler",
        schema=f"{_SAMPLERS}:ConstantSchema",
        description="Always the same value.",
    )


@hookimpl
def dojo_register_curricula(registry: Registry) -> None:
    registry.register(
        "reward",
        factory=f"{_COMPLETION}:RewardCriterion",
        description="Mean cumulative reward of the episodes finished in the lesson.",
    )
    registry.register(
        "progress",
        factory=f"{_COMPLETION}:ProgressCriterion",
        description="Fraction of max_steps trained (threshold in [0, 1]).",
    )
