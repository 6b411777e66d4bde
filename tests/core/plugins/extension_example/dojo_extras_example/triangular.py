"""``triangular``: a sampler of environment parameters."""

from marshmallow import ValidationError, validates_schema

from dojo.api import Number, Sampler, StrictSchema


class TriangularSchema(StrictSchema):
    low = Number(load_default=0.0, description="Smallest value.")
    mode = Number(load_default=0.5, description="Most likely value.")
    high = Number(load_default=1.0, description="Largest value.")

    @validates_schema(skip_on_field_errors=True)
    def _ordered(self, data, **_kwargs):
        if not data["low"] <= data["mode"] <= data["high"]:
            raise ValidationError("must lie between low and high.", field_name="mode")


class TriangularSampler(Sampler):
    def __init__(self, *, low, mode, high, seed=-1):
        super().__init__(seed=seed)
        self.low, self.mode, self.high = low, mode, high

    def sample(self) -> float:
        return float(self.rng.triangular(self.low, self.mode, self.high))
