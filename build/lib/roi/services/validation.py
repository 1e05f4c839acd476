"""The config as every entry point loads it: the checks that need more than pydantic (connectors,
apscheduler, SQLAlchemy), which is why they live here and not in roi.config.

`roi.config.load_config` reads and types the files; `load_checked_config` adds
what is checked here (each source's connector options, that every schedule is
a cron expression that fires, that the database URL names a database type
roi can open), so `roi config check`, every command and the API server refuse
the same configs with the same lines.
"""

from __future__ import annotations

import os
from datetime import datetime

from pydantic import ValidationError

from ..config import Settings, SourceConfig, load_config, validation_problems
from ..connectors import registry
from ..connectors.base import FileConnector, matching_files
from ..cron import check_cron
from ..errors import ConfigError
from ..store import database_url_problem


def load_checked_config(path: str | os.PathLike[str] | None = None) -> Settings:
    """The config at `path` (default: $ROI_CONFIG, else ./roi.toml), loaded and fully checked."""
    settings = load_config(path)
    validate_settings(settings)
    return settings


def validate_settings(settings: Settings, now: datetime | None = None) -> None:
    """Raise ConfigError with every problem the config's connectors, schedules and database have."""
    label = settings.path
    problems = []
    problem = database_url_problem(settings.service.database_url)
    if problem:
        problems.append(f"{label}: service.database_url: {problem}")
    problems += _schedule_problems(settings, label, now)
    problems += _source_problems(settings, label)
    if problems:
        raise ConfigError(problems)


def _schedule_problems(settings: Settings, label: str, now: datetime | None) -> list[str]:
    timezone = settings.service.timezone
    schedules = [("report.schedule", settings.report.schedule)]
    schedules += [(f"sources[{index}].schedule", source.schedule) for index, source in enumerate(settings.sources)]
    problems = []
    for key, expression in schedules:
        if expression is None:
            continue
        try:
            check_cron(expression, timezone, now)
        except ValueError as exc:
            problems.append(f"{label}: {key}: {exc}")
    return problems


def _source_problems(settings: Settings, label: str) -> list[str]:
    common = tuple(SourceConfig.model_fields)
    problems = []
    for index, source in enumerate(settings.sources):
        try:
            options = registry.connector_class(source.type).Options
        except KeyError:
            problems.append(
                f"{label}: sources[{index}].type: {source.type!r} is not a connector; "
                f"available: {', '.join(registry.available())}"
            )
            continue
        try:
            registry.validate_options(source, settings.base_dir)
        except ValidationError as exc:
            problems += validation_problems(label, exc, ("sources", index), model=options, also=common)
    return problems


def source_warnings(settings: Settings) -> list[str]:
    """What will not stop a run but is likely a mistake: an enabled file source whose path matches no file."""
    warnings = []
    for index, source in enumerate(settings.sources):
        if not source.enabled or not issubclass(registry.connector_class(source.type), FileConnector):
            continue
        options = registry.validate_options(source, settings.base_dir)
        if not matching_files(options.path):  # type: ignore[attr-defined]
            warnings.append(f"{settings.path}: sources[{index}].path: {source.options['path']!r} matches no files yet")
    return warnings
