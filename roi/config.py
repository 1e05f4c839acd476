"""The service config: TOML read with tomllib into strict pydantic models.

Every problem is reported as ``<file>: <key.path>: <what is wrong>``, and a
config with problems is refused before anything runs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from .config_problems import read_toml, validation_problems
from .domain import ASSUMPTIONS, DIMENSIONS
from .errors import ConfigError
from .estimates import Distribution, Estimate, is_range, point

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# Every model of the files: unknown keys refused; strict types, so a quoted number, a quoted date or
# "yes" for true is an error rather than a guess; inf and nan refused wherever a number is read.
STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Strict(BaseModel):
    model_config = STRICT


def _relative_path(value: str, info: ValidationInfo) -> str:
    base = (info.context or {}).get("base_dir")
    if base is None or not value or os.path.isabs(value):
        return value
    return str(Path(base) / value)


RelPath = Annotated[str, AfterValidator(_relative_path)]


Cron = str | None  # checked (valid, fires) by roi.services.validation, with apscheduler
Dimension = Literal[DIMENSIONS]  # type: ignore[valid-type]  # one of domain.DIMENSIONS
Match = dict[Dimension, str | list[str]]


class ServiceSection(Strict):
    model_config = ConfigDict(**STRICT, validate_default=True)

    database_url: str = "sqlite:///roi.db"
    currency: str = "USD"
    timezone: str = "UTC"
    models_dir: RelPath = "models"
    reports_dir: RelPath = "reports"
    # valued months kept between processes (services.valued); "" keeps them in memory only
    cache_dir: RelPath = ".roi-cache"

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError(f"{value!r} is not an ISO 4217 currency code such as USD")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        if value in ("Factory", "posixrules", "localtime") or value.startswith(("posix/", "right/")):
            # files of the zone database that are not zones of their own (Factory: no offset at all;
            # posix/ and right/: copies, right/ counting leap seconds; localtime: whatever the machine
            # is set to), refused before any is looked up, whether this machine's database has it or not
            raise ValueError(f"{value!r} is not a timezone of a place; give one such as UTC or Europe/Paris")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA timezone such as UTC or Europe/Paris") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str, info: ValidationInfo) -> str:
        prefix = "sqlite:///"
        base = (info.context or {}).get("base_dir")
        if value.startswith(prefix) and base is not None:
            path = value[len(prefix) :]
            if path and path != ":memory:" and not os.path.isabs(path):
                return prefix + str(Path(base) / path)
        return value


class StoreSection(Strict):
    dimensions: list[Dimension] = Field(default_factory=lambda: list(DIMENSIONS))

    @field_validator("dimensions")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a dimension is listed twice")
        # keep the canonical order whatever order the file uses
        return [name for name in DIMENSIONS if name in value]


class ReportSection(Strict):
    group_by: list[Dimension] = Field(default_factory=lambda: ["tenant", "channel"])
    schedule: Cron = "0 6 2 * *"
    close_after_days: int | None = Field(default=None, ge=0)


class SchedulerSection(Strict):
    """How scheduled jobs run (`roi serve`, `roi scheduler`)."""

    enabled: bool = True
    # a job whose firing was missed (service down) still runs when the service is back within this
    misfire_grace_seconds: int = Field(default=86_400, ge=1)
    retry_attempts: int = Field(default=3, ge=1, le=20)
    retry_wait_seconds: float = Field(default=2.0, ge=0)
    retry_max_wait_seconds: float = Field(default=60.0, ge=0)


class SourceConfig(Strict):
    """Options common to every source; the connector's own options are checked by its Config."""

    model_config = ConfigDict(**{**STRICT, "extra": "allow"})

    name: str
    type: str
    schedule: Cron = None
    enabled: bool = True
    reprice: bool = False
    # pulled sources: how far back the first pull starts, and the overlap re-pulled each run for late data
    initial_lookback_days: int = Field(default=7, ge=0)
    lookback_days: int = Field(default=2, ge=0)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} is not a source name (letters, digits, '_', '-', '.')")
        return value

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class FixedCost(Strict):
    name: str
    amount: float = Field(ge=0)
    allocate_by: Literal["requests", "cases", "resolved", "token_cost"] = "requests"
    match: Match = Field(default_factory=dict)
    description: str = ""


class Assignment(Strict):
    match: Match = Field(default_factory=dict)
    model: str


class PriceOverride(Strict):
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)


class PricingSection(Strict):
    overrides: dict[str, PriceOverride] = Field(default_factory=dict)
    # Token costs arrive in USD (cost_usd, genai-prices, every upstream API); with another
    # service currency they are converted at this rate (units of the currency per USD).
    usd_exchange_rate: float | None = Field(default=None, gt=0)

    @field_validator("overrides")
    @classmethod
    def _keys(cls, value: dict[str, PriceOverride]) -> dict[str, PriceOverride]:
        for key in value:
            provider, _, model = key.partition("/")
            if not provider or not model:
                raise ValueError(f'{key!r} is not "provider/model", e.g. "openai/gpt-4o-mini"')
        return {key.lower(): override for key, override in value.items()}


class ApiToken(Strict):
    name: str
    token: SecretStr
    role: Literal["reader", "admin"] = "reader"

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("a token must be at least 16 characters")
        return value


class ApiSection(Strict):
    tokens: list[ApiToken] = Field(default_factory=list)
    metrics_open: bool = False


class ModelVersion(Strict):
    """A version's assumptions: each a number or a range (roi.estimates); reports use point values."""

    effective_from: date
    value_per_resolution: Estimate
    escalation_cost: Estimate = 0.0
    reopen_cost: Estimate = 0.0
    abandonment_cost: Estimate = 0.0
    review_cost_per_hour: Estimate = 0.0
    notes: str = ""

    def point(self, name: str) -> float:
        """The assumption's point value: the number, or its range's mode or mean."""
        return point(getattr(self, name))

    def ranges(self) -> dict[str, Distribution]:
        """The uncertain assumptions of this version, by name."""
        return {name: value for name in ASSUMPTIONS if is_range(value := getattr(self, name))}


class ValueModel(Strict):
    name: str
    description: str = ""
    currency: str = "USD"
    versions: list[ModelVersion] = Field(min_length=1)

    @field_validator("versions")
    @classmethod
    def _ordered(cls, value: list[ModelVersion]) -> list[ModelVersion]:
        days = [version.effective_from for version in value]
        if len(set(days)) != len(days):
            raise ValueError("two versions share an effective_from date")
        return sorted(value, key=lambda version: version.effective_from)

    def version_on(self, day: date) -> ModelVersion | None:
        chosen = None
        for version in self.versions:
            if version.effective_from <= day:
                chosen = version
        return chosen


class UncertaintySection(Strict):
    """Monte Carlo over the value models' ranges (docs/metrics.md, "Uncertainty")."""

    draws: int = Field(default=10_000, ge=100, le=100_000)  # the draws of one cohort are held at once
    seed: int = Field(default=0, ge=0)
    # also draw each cohort's resolution rate from a Beta posterior on its counts
    outcome_rates: bool = False


class Settings(Strict):
    service: ServiceSection = Field(default_factory=ServiceSection)
    store: StoreSection = Field(default_factory=StoreSection)
    report: ReportSection = Field(default_factory=ReportSection)
    sources: list[SourceConfig] = Field(default_factory=list)
    fixed_costs: list[FixedCost] = Field(default_factory=list)
    assignments: list[Assignment] = Field(default_factory=list)
    pricing: PricingSection = Field(default_factory=PricingSection)
    api: ApiSection = Field(default_factory=ApiSection)
    scheduler: SchedulerSection = Field(default_factory=SchedulerSection)
    uncertainty: UncertaintySection = Field(default_factory=UncertaintySection)

    # Filled by load_config, not by the file.
    path: str = Field(default="", exclude=True)
    root: str = Field(default="", exclude=True)  # the config's folder, absolute
    value_models: dict[str, ValueModel] = Field(default_factory=dict, exclude=True)

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(self.store.dimensions)

    @property
    def base_dir(self) -> Path:
        # absolute, so that relative paths keep following the config whatever the working directory
        if self.root:
            return Path(self.root)
        return Path(self.path).resolve().parent if self.path else Path.cwd()

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(source.name for source in self.sources) or "none"
        raise ConfigError(f"{self.path}: no source named {name!r} (sources: {known})")

    @functools.cached_property
    def config_hash(self) -> str:
        """Hash of everything that changes a figure (not schedules, tokens or paths); made once."""
        payload = {
            "currency": self.service.currency,
            "timezone": self.service.timezone,
            "dimensions": list(self.store.dimensions),
            "fixed_costs": [cost.model_dump(mode="json") for cost in self.fixed_costs],
            "assignments": [rule.model_dump(mode="json") for rule in self.assignments],
            "pricing": self.pricing.model_dump(mode="json"),
            "models": {name: model.model_dump(mode="json") for name, model in sorted(self.value_models.items())},
        }
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        return digest[:16]


# ---------------------------------------------------------------- loading


def _interpolate(value: Any, loc: str, problems: list[str], label: str) -> Any:
    if isinstance(value, str):

        def lookup(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name not in os.environ and default is not None:
                return default
            if name not in os.environ:
                problems.append(f"{label}: {loc}: environment variable {name} is not set")
                return ""
            return os.environ[name]

        return _ENV_REF.sub(lookup, value)
    if isinstance(value, dict):
        return {key: _interpolate(item, _join(loc, key), problems, label) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, f"{loc}[{index}]", problems, label) for index, item in enumerate(value)]
    return value


def _join(loc: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{loc}[{key}]"
    return f"{loc}.{key}" if loc else str(key)


def load_value_models(models_dir: Path, currency: str) -> dict[str, ValueModel]:
    if not models_dir.is_dir():
        raise ConfigError(f"{models_dir}: models_dir is not a folder")
    models: dict[str, ValueModel] = {}
    files: dict[str, Path] = {}
    problems: list[str] = []
    for file in sorted(models_dir.glob("*.toml")):
        label = str(file)
        try:
            data = read_toml(file, label)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        try:
            model = ValueModel.model_validate(data)
        except ValidationError as exc:
            problems.extend(validation_problems(label, exc, model=ValueModel))
            continue
        if model.currency != currency:
            problems.append(f"{label}: currency: {model.currency!r} differs from the service currency {currency!r}")
        if model.name in models:
            problems.append(f"{label}: name: {model.name!r} is already defined by {files[model.name]}")
            continue
        models[model.name] = model
        files[model.name] = file
    if problems:
        raise ConfigError(problems)
    return models


def _check_matches(settings: Settings, label: str) -> list[str]:
    problems = []
    stored = set(settings.dimensions)
    groups = [("assignments", settings.assignments), ("fixed_costs", settings.fixed_costs)]
    for section, items in groups:
        for index, item in enumerate(items):
            for key in item.match:
                if key not in stored:
                    problems.append(
                        f"{label}: {section}[{index}].match.{key}: {key!r} is not a stored dimension "
                        f"(store.dimensions: {', '.join(settings.dimensions)})"
                    )
    for index, key in enumerate(settings.report.group_by):
        if key not in stored:
            problems.append(f"{label}: report.group_by[{index}]: {key!r} is not a stored dimension")
    return problems


def _check_references(settings: Settings, label: str) -> list[str]:
    problems = []
    currency = settings.service.currency
    if currency != "USD" and settings.pricing.usd_exchange_rate is None:
        problems.append(
            f"{label}: pricing.usd_exchange_rate: required when service.currency is {currency!r} "
            f"(token costs arrive in USD); give {currency} per USD, e.g. 0.92"
        )
    for index, rule in enumerate(settings.assignments):
        if rule.model not in settings.value_models:
            known = ", ".join(sorted(settings.value_models)) or "none"
            problems.append(f"{label}: assignments[{index}].model: no value model named {rule.model!r} (models: {known})")
    if not any(not rule.match for rule in settings.assignments):
        problems.append(
            f"{label}: assignments: no rule has match = {{}}, so a cell that fits no rule would have no value "
            "model; end the list with a catch-all rule"
        )
    seen: set[str] = set()
    for index, source in enumerate(settings.sources):
        if source.name in seen:
            problems.append(f"{label}: sources[{index}].name: {source.name!r} is used by another source")
        seen.add(source.name)
    names = [cost.name for cost in settings.fixed_costs]
    for index, name in enumerate(names):
        if names.index(name) != index:
            problems.append(f"{label}: fixed_costs[{index}].name: {name!r} is used by another fixed cost")
    return problems


def resolve_config_path(path: str | os.PathLike[str] | None) -> Path:
    if path:
        return Path(path)
    return Path(os.environ.get("ROI_CONFIG") or "roi.toml")


def load_config(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read, interpolate and validate a config and its value models.

    What needs the connectors or apscheduler (a source's options, schedules, the database URL) is
    checked by roi.services.validation.load_checked_config, which every command and server loads through."""
    config_path = resolve_config_path(path)
    label = str(config_path)
    raw = read_toml(config_path, label)
    problems: list[str] = []
    data = _interpolate(raw, "", problems, label)
    # fields load_config fills are not keys of the file
    problems += [f"{label}: {key}: unknown key" for key in ("path", "root", "value_models") if key in data]
    if problems:
        raise ConfigError(problems)
    base_dir = config_path.resolve().parent
    # validated, not defaulted: the default models_dir and database path follow the config's folder too
    data.setdefault("service", {})
    try:
        settings = Settings.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(validation_problems(label, exc, model=Settings)) from None
    models_dir = Path(settings.service.models_dir)
    if not models_dir.is_dir():
        raise ConfigError(f"{label}: service.models_dir: {models_dir} is not a folder")
    models = load_value_models(models_dir, settings.service.currency)
    settings = settings.model_copy(update={"path": str(config_path), "root": str(base_dir), "value_models": models})
    problems = _check_matches(settings, label) + _check_references(settings, label)
    if problems:
        raise ConfigError(problems)
    return settings
