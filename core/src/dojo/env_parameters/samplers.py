"""ML-Agents' samplers: ``uniform``, ``gaussian``, ``multirangeuniform`` and ``constant``.

In a Unity environment the sampling happens in the environment (the settings travel over the
EnvironmentParameters side channel); these classes sample in Python for environments that
cannot, and their schemas validate ``sampler_parameters`` in every case.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, validates_schema

from dojo.api import Sampler
from dojo.config.fields import AnyValue, AtLeast, Integer, Number, StrictSchema


class _SeededSchema(StrictSchema):
    # Read by the core for every sampler (SAMPLER_SEED); declared here for the reference.
    seed = Integer(load_default=-1, description="Sampler seed; -1 derives one from the run seed.")


class UniformSchema(_SeededSchema):
    min_value = Number(load_default=0.0, description="Lower bound (inclusive).")
    max_value = Number(load_default=1.0, description="Upper bound.")

    @validates_schema(skip_on_field_errors=True)
    def _ordered(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data["min_value"] > data["max_value"]:
            raise ValidationError(
                f"must be >= min_value ({data['min_value']}), got {data['max_value']}: "
                "swap the two bounds.",
                field_name="max_value",
            )


class GaussianSchema(_SeededSchema):
    mean = Number(load_default=1.0, description="Mean of the normal distribution.")
    st_dev = Number(
        load_default=1.0, validate=AtLeast(0.0), description="Standard deviation (>= 0)."
    )


class MultiRangeUniformSchema(_SeededSchema):
    intervals = AnyValue(
        load_default=lambda: [[0.0, 1.0]],
        description="List of [min, max] intervals; a value is drawn uniformly from their union.",
    )

    @validates_schema(skip_on_field_errors=True)
    def _pairs(self, data: dict[str, Any], **_kwargs: Any) -> None:
        intervals = data["intervals"]
        problems = [
            i
            for i, pair in enumerate(intervals)
            if not (
                isinstance(pair, (list, tuple))
                and len(pair) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair)
                and pair[0] <= pair[1]
            )
        ]
        if not intervals or problems:
            raise ValidationError(
                f"intervals {problems or ''} must be [min, max] pairs of numbers with min <= max, "
                f"got {intervals!r}. Example: [[0.0, 1.0], [2.0, 3.0]].",
                field_name="intervals",
            )


class ConstantSchema(_SeededSchema):
    value = Number(load_default=0.0, description="The value.")


class UniformSampler(Sampler):
    def __init__(self, *, min_value: float = 0.0, max_value: float = 1.0, seed: int = -1) -> None:
        super().__init__(seed=seed)
        self.low, self.high = float(min_value), float(max_value)

    def sample(self) -> float:
        return float(self.rng.uniform(self.low, self.high))


class GaussianSampler(Sampler):
    def __init__(self, *, mean: float = 1.0, st_dev: float = 1.0, seed: int = -1) -> None:
        super().__init__(seed=seed)
        self.mean, self.st_dev = float(mean), float(st_dev)

    def sample(self) -> float:
        return float(self.rng.normal(self.mean, self.st_dev))


class MultiRangeUniformSampler(Sampler):
    """Uniform over a union of intervals: an interval is chosen in proportion to its width."""

    def __init__(self, *, intervals: list[list[float]] | None = None, seed: int = -1) -> None:
        super().__init__(seed=seed)
        self.intervals = [(float(a), float(b)) for a, b in (intervals or [[0.0, 1.0]])]
        widths = [b - a for a, b in self.intervals]
        total = sum(widths)
        n = len(widths)
        self.weights = [w / total for w in widths] if total > 0 else [1.0 / n] * n

    def sample(self) -> float:
        low, high = self.intervals[int(self.rng.choice(len(self.intervals), p=self.weights))]
        return float(self.rng.uniform(low, high))


class ConstantSampler(Sampler):
    def __init__(self, *, value: float = 0.0, seed: int = -1) -> None:
        super().__init__(seed=seed)
        self.value = float(value)

    def sample(self) -> float:
        return self.value
