"""An assumption of a value model as finance knows it: a number, or a range of belief about it.

`{ low, mode, high }` is a triangular distribution and `{ mean, sd }` a normal one truncated
at 0 (no assumption is negative). The point estimate of a range is its mode or its mean, so a
report computed with point values is the same whether or not a figure carries a range. This
module holds the TOML models and the distributions' quantile functions (scipy's inverse normal
lives here only, imported when a normal is drawn: every command imports this module).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    model_validator,
)


def _ndtr(x: float) -> float:
    """The standard normal CDF (scipy.special.ndtr's formula, by the standard library's erfc)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
LOW_QUANTILE = 0.05  # a normal's "low" and "high" (sensitivity): its 5th and 95th percentiles
HIGH_QUANTILE = 0.95

# TOML integers are numbers too: strict mode would refuse `value_per_resolution = 6`
Number = Annotated[float, Field(strict=False)]


class Triangular(BaseModel):
    """`{ low, mode, high }`: the mode is the point estimate."""

    model_config = STRICT

    low: Number = Field(ge=0)
    mode: Number = Field(ge=0)
    high: Number = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not self.low <= self.mode <= self.high:
            raise ValueError(f"needs low <= mode <= high, got low {self.low:g}, mode {self.mode:g}, "
                             f"high {self.high:g}")
        return self

    @property
    def point(self) -> float:
        return float(self.mode)

    def quantile(self, u: np.ndarray) -> np.ndarray:
        """The inverse CDF at probabilities `u`."""
        low, mode, high = float(self.low), float(self.mode), float(self.high)
        width = high - low
        if width == 0:
            return np.full(np.shape(u), low)
        split = (mode - low) / width
        left = low + np.sqrt(u * width * (mode - low))
        right = high - np.sqrt((1.0 - u) * width * (high - mode))
        return np.where(u < split, left, right)

    def cdf(self, x: float) -> float:
        low, mode, high = float(self.low), float(self.mode), float(self.high)
        if x <= low:
            return 0.0 if x < low or high > low else 1.0
        if x >= high:
            return 1.0
        if x <= mode:
            return (x - low) ** 2 / ((high - low) * (mode - low))
        return 1.0 - (high - x) ** 2 / ((high - low) * (high - mode))

    @property
    def low_high(self) -> tuple[float, float]:
        return float(self.low), float(self.high)

    def text(self) -> str:
        return f"triangular {self.low:g} / {self.mode:g} / {self.high:g}"


class Normal(BaseModel):
    """`{ mean, sd }`: a normal distribution truncated at 0; the mean is the point estimate."""

    model_config = STRICT

    mean: Number = Field(ge=0)
    sd: Number = Field(ge=0)

    @property
    def point(self) -> float:
        return float(self.mean)

    def quantile(self, u: np.ndarray) -> np.ndarray:
        """The inverse CDF of the normal truncated at 0, at probabilities `u`."""
        from scipy.special import ndtri  # 0.14 s to import: only when a normal is drawn

        mean, sd = float(self.mean), float(self.sd)
        if sd == 0:
            return np.full(np.shape(u), mean)
        below = _ndtr(-mean / sd)  # the probability the untruncated normal puts below 0
        return np.maximum(mean + sd * ndtri(below + np.asarray(u) * (1.0 - below)), 0.0)

    def cdf(self, x: float) -> float:
        mean, sd = float(self.mean), float(self.sd)
        if x < 0:
            return 0.0
        if sd == 0:
            return float(x >= mean)
        below = _ndtr(-mean / sd)
        return (_ndtr((x - mean) / sd) - below) / (1.0 - below)

    @property
    def low_high(self) -> tuple[float, float]:
        low, high = self.quantile(np.array([LOW_QUANTILE, HIGH_QUANTILE]))
        return float(low), float(high)

    def text(self) -> str:
        return f"normal mean {self.mean:g}, sd {self.sd:g}, truncated at 0"


Distribution = Triangular | Normal
_KINDS = "a number, { low, mode, high } (triangular) or { mean, sd } (normal, truncated at 0)"


def parse_estimate(value: Any) -> float | Distribution:
    """A TOML assumption: a number >= 0, or a distribution table; a ValueError says what is wrong
    (pydantic puts the file and key in front of it)."""
    if isinstance(value, Triangular | Normal):
        return value
    if isinstance(value, str):
        raise ValueError(f"{value!r} is a string; write a number without quotes")
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not {_KINDS}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not allowed; give a finite number")
        if value < 0:
            raise ValueError("Input should be greater than or equal to 0")
        return float(value)
    if not isinstance(value, dict):
        raise ValueError(f"{value!r} is not {_KINDS}")
    kind: type[BaseModel] = Normal if {"mean", "sd"} & set(value) else Triangular
    if not {"mean", "sd", "low", "mode", "high"} & set(value):
        raise ValueError(f"a table here is {_KINDS.split(', ', 1)[1]}")
    try:
        return kind.model_validate(value)  # type: ignore[return-value]
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            what = f"unknown key in a {kind.__name__.lower()} range ({', '.join(kind.model_fields)})"
        elif error["type"] == "missing":
            what = f"required key of a {kind.__name__.lower()} range ({', '.join(kind.model_fields)}) is missing"
        elif error["type"] == "finite_number":
            what = f"{error.get('input')} is not allowed; give a finite number"
        else:
            what = error["msg"].removeprefix("Value error, ")
        raise ValueError(f"{where}: {what}" if where else what) from None


def _dump(value: float | Distribution) -> Any:
    return value if isinstance(value, int | float) else value.model_dump()


# An assumption in a value model's TOML: a plain number (>= 0) or a distribution table.
Estimate = Annotated[float | Triangular | Normal, PlainValidator(parse_estimate), PlainSerializer(_dump)]


def point(value: float | Distribution) -> float:
    """The point estimate: the number itself, or the distribution's mode or mean."""
    return float(value) if isinstance(value, int | float) else value.point


def is_range(value: float | Distribution) -> bool:
    """Whether the assumption is uncertain (a distribution that is not a single value)."""
    if isinstance(value, Triangular):
        return value.high > value.low
    if isinstance(value, Normal):
        return value.sd > 0
    return False


def describe(value: float | Distribution) -> str:
    return f"{value:g}" if isinstance(value, int | float) else f"{value.point:g} ({value.text()})"
