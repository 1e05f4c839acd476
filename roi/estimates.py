"""An assumption of a value model as finance knows it: a number, or a range of belief about it.

`{ low, mode, high }` is a triangular distribution and `{ mean, sd }` a normal one truncated
at 0 (no assumption is negative). The point estimate of a range is its mode or its mean, so a
report computed with point values is the same whether or not a figure carries a range. This
module holds the TOML models and the distributions' quantile functions (the inverse normal CDF
is the standard library's algorithm over numpy arrays: scipy took 0.14 s to import, in each
process that drew a normal).
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


# Wichura's algorithm AS241 (PPND16), as the standard library's NormalDist.inv_cdf computes it: the
# inverse normal CDF to about 1e-16, by rational functions (numerator, denominator; highest power first)
_CENTRAL = ((2.50908_09287_30122_6727e+3, 3.34305_75583_58812_8105e+4, 6.72657_70927_00870_0853e+4,
             4.59219_53931_54987_1457e+4, 1.37316_93765_50946_1125e+4, 1.97159_09503_06551_4427e+3,
             1.33141_66789_17843_7745e+2, 3.38713_28727_96366_6080e+0),
            (5.22649_52788_52854_5610e+3, 2.87290_85735_72194_2674e+4, 3.93078_95800_09271_0610e+4,
             2.12137_94301_58659_5867e+4, 5.39419_60214_24751_1077e+3, 6.87187_00749_20579_0830e+2,
             4.23133_30701_60091_1252e+1, 1.0))  # |p - 0.5| <= 0.425, in r = 0.180625 - (p - 0.5)^2
_NEAR = ((7.74545_01427_83414_07640e-4, 2.27238_44989_26918_45833e-2, 2.41780_72517_74506_11770e-1,
          1.27045_82524_52368_38258e+0, 3.64784_83247_63204_60504e+0, 5.76949_72214_60691_40550e+0,
          4.63033_78461_56545_29590e+0, 1.42343_71107_49683_57734e+0),
         (1.05075_00716_44416_84324e-9, 5.47593_80849_95344_94600e-4, 1.51986_66563_61645_71966e-2,
          1.48103_97642_74800_74590e-1, 6.89767_33498_51000_04550e-1, 1.67638_48301_83803_84940e+0,
          2.05319_16266_37758_82187e+0, 1.0))  # r = sqrt(-log(min(p, 1 - p))) <= 5, in r - 1.6
_FAR = ((2.01033_43992_92288_13265e-7, 2.71155_55687_43487_57815e-5, 1.24266_09473_88078_43860e-3,
         2.65321_89526_57612_30930e-2, 2.96560_57182_85048_91230e-1, 1.78482_65399_17291_33580e+0,
         5.46378_49111_64114_36990e+0, 6.65790_46435_01103_77720e+0),
        (2.04426_31033_89939_78564e-15, 1.42151_17583_16445_88870e-7, 1.84631_83175_10054_68180e-5,
         7.86869_13114_56132_59100e-4, 1.48753_61290_85061_48525e-2, 1.36929_88092_27358_05310e-1,
         5.99832_20655_58879_37690e-1, 1.0))  # r > 5, in r - 5


def ndtri(p: np.ndarray) -> np.ndarray:
    """The standard normal's quantiles at probabilities `p` (-inf at 0, inf at 1, NaN outside)."""
    p = np.asarray(p, dtype=float)
    q = p - 0.5
    with np.errstate(all="ignore"):  # each branch is computed everywhere, then the right one kept
        r = 0.180625 - q * q
        central = q * np.polyval(_CENTRAL[0], r) / np.polyval(_CENTRAL[1], r)
        t = np.sqrt(-np.log(np.where(q <= 0.0, p, 1.0 - p)))
        near = np.polyval(_NEAR[0], t - 1.6) / np.polyval(_NEAR[1], t - 1.6)
        far = np.polyval(_FAR[0], t - 5.0) / np.polyval(_FAR[1], t - 5.0)
    tail = np.where(t <= 5.0, near, far)
    x = np.where(np.abs(q) <= 0.425, central, np.where(q < 0.0, -tail, tail))
    x = np.where(p <= 0.0, -np.inf, np.where(p >= 1.0, np.inf, x))
    return np.where((p < 0.0) | (p > 1.0) | np.isnan(p), np.nan, x)


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
