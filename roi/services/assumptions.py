"""The assumptions as finance reads them: each value model's versions with the comments their TOML
file gives each figure, the assignment rules and fixed costs, and the config hash of each closed month.

The figures come from the loaded config (what the valuation uses); the comments are read from the
model files with tomlkit, which keeps them (tomllib drops comments).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Comment, Whitespace

from ..config import Settings
from ..domain import ASSUMPTIONS
from ..estimates import is_range
from ..store import Store, revisions


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    value: float  # the point value (a range's mode or mean), what reports use
    comment: str  # the comment lines above it and after it in the model file, joined
    range: str = ""  # a range's description ("triangular 5 / 6.5 / 8"); "" for a plain number


@dataclass(frozen=True, slots=True)
class VersionView:
    effective_from: date
    until: date | None  # the day the next version takes over (exclusive), None: still in force
    figures: tuple[Figure, ...]
    notes: str


@dataclass(frozen=True, slots=True)
class ModelView:
    name: str
    description: str
    comment: str  # the file's comment before its first key
    file: str
    versions: tuple[VersionView, ...]


@dataclass(frozen=True, slots=True)
class ClosedMonth:
    period: str
    revision: int
    closed_at: datetime
    config_hash: str
    data_fingerprint: str


@dataclass(slots=True)
class _Comments:
    header: str = ""
    versions: dict[date, dict[str, str]] = field(default_factory=dict)


def _text(lines: list[str]) -> str:
    return " ".join(line.lstrip("#").strip() for line in lines if line.lstrip("#").strip())


def _keyed_comments(body) -> tuple[dict[str, str], list[str]]:
    """Each key's comment (the comment lines right above it, and one after it on its line); and
    the comment lines before the first key."""
    found: dict[str, str] = {}
    pending: list[str] = []
    leading: list[str] | None = None
    for key, item in body:
        if isinstance(item, Whitespace):
            continue
        if isinstance(item, Comment):
            pending.append(item.trivia.comment)
            continue
        if key is None:
            continue
        if leading is None:
            leading = list(pending)
            pending = [] if key.key == "name" else pending
        trailing = [item.trivia.comment] if getattr(item, "trivia", None) and item.trivia.comment else []
        found[key.key] = _text(pending + trailing)
        pending = []
    return found, leading or []


def _file_comments(path: Path) -> tuple[str, _Comments] | None:
    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, TOMLKitError):
        return None
    name = document.get("name")
    if not isinstance(name, str):
        return None
    _, leading = _keyed_comments(document.body)
    comments = _Comments(_text(leading))
    for table in document.get("versions", []):
        keyed, _ = _keyed_comments(table.value.body)
        effective = table.get("effective_from")
        if isinstance(effective, date):
            comments.versions[date(effective.year, effective.month, effective.day)] = keyed
    return str(name), comments


def value_models(settings: Settings) -> list[ModelView]:
    """Every value model with its versions (oldest first) and each figure's comment from its file."""
    folder = Path(settings.service.models_dir)
    if not folder.is_absolute():
        folder = settings.base_dir / folder
    comments: dict[str, tuple[str, _Comments]] = {}
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        found = _file_comments(path)
        if found is not None:
            comments.setdefault(found[0], (path.name, found[1]))
    models = []
    for name, model in settings.value_models.items():
        file, notes = comments.get(name, ("", _Comments()))
        versions = []
        for index, item in enumerate(model.versions):
            said = notes.versions.get(item.effective_from, {})
            later = model.versions[index + 1].effective_from if index + 1 < len(model.versions) else None
            figures = tuple(Figure(key, item.point(key), said.get(key, ""),
                                   given.text() if is_range(given := getattr(item, key)) else "")
                            for key in ASSUMPTIONS)
            versions.append(VersionView(item.effective_from, later, figures, item.notes))
        models.append(ModelView(name, model.description, notes.header, file, tuple(versions)))
    return models


def closed_months(store: Store) -> list[ClosedMonth]:
    """Every closed month's latest revision with the config hash it was computed with, newest first."""
    latest = revisions.latest_revisions(store.engine)
    return [ClosedMonth(item.period, item.revision, item.closed_at, item.config_hash, item.data_fingerprint)
            for _, item in sorted(latest.items(), reverse=True)]
