"""Reading a TOML file and wording what is wrong with it: ``<file>: <key.path>: <problem>``."""

from __future__ import annotations

import difflib
import re
import tomllib
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .errors import ConfigError

_AT = re.compile(r"\(at line (\d+), column (\d+)\)$")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
_STRICT_TYPES = {"int_type": "a whole number", "float_type": "a number", "bool_type": "true or false"}


def read_toml(path: Path, label: str) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{label}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_problem(path, label, str(exc))) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{label}: not valid TOML: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:  # a folder, no permission, ...: the user's mistake, said in one line
        raise ConfigError(f"{label}: cannot read the file: {exc.strerror or exc}") from None


def _toml_problem(path: Path, label: str, message: str) -> str:
    """tomllib's message, with the key named when a key or table is given twice."""
    at = _AT.search(message)
    if at is None:
        return f"{label}: not valid TOML: {message}"
    line = int(at.group(1))
    if message.startswith("Cannot overwrite a value") or message.startswith("Cannot declare"):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        key = _key_on_line(lines, line) if 0 < line <= len(lines) else None
        if key:
            return f"{label}: {key}: not valid TOML: defined twice ({at.group(0)[1:-1]})"
    return f"{label}: not valid TOML: {message}"


def _split_key(text: str) -> list[str]:
    """`a."b.c" . d` -> ['a', 'b.c', 'd']."""
    parts, current, quote = [], "", ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
            else:
                current += char
        elif char in "\"'":
            quote = char
        elif char == ".":
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [part for part in parts if part]


def _key_on_line(lines: list[str], number: int) -> str | None:
    """The dotted path (`fixed_costs[1].amount`) of the key or table declared on line `number`."""
    text = lines[number - 1]
    header = _HEADER.match(text)
    if header:
        return _path(lines, number, _split_key(header.group(2)), header.group(1) == "[[")
    key_text = text.split("=", 1)[0]
    if key_text.strip() == text.strip():
        return None
    table: list[str] = []
    array = False
    for before in range(number - 1, 0, -1):
        found = _HEADER.match(lines[before - 1])
        if found:
            table, array = _split_key(found.group(2)), found.group(1) == "[["
            return _path(lines, before, table, array) + "." + ".".join(_split_key(key_text))
    return ".".join(_split_key(key_text))


def _path(lines: list[str], number: int, table: list[str], array: bool) -> str:
    name = ".".join(table)
    if not array:
        return name
    index = sum(
        1
        for text in lines[:number]
        if (found := _HEADER.match(text)) and found.group(1) == "[[" and _split_key(found.group(2)) == table
    )
    return f"{name}[{index - 1}]"


# ------------------------------------------------------------------ pydantic errors


def _join(loc: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{loc}[{key}]"
    return f"{loc}.{key}" if loc else str(key)


def format_location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text = _join(text, part)
    return text or "(top level)"


def _model_in(annotation: Any) -> Any:
    """The model, list or dict inside `X | None`."""
    if get_origin(annotation) in (Union, types.UnionType):
        for arg in get_args(annotation):
            if arg is not type(None):
                return _model_in(arg)
    return annotation


def keys_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """The keys a file may write in the table at `loc` under `model` (for "did you mean")."""
    annotation: Any = model
    for part in loc:
        annotation = _model_in(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return []
            annotation = field.annotation
        elif get_origin(annotation) is list and isinstance(part, int):
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            return []
    annotation = _model_in(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [name for name, field in annotation.model_fields.items() if not field.exclude]
    return []


def unknown_key(key: Any, allowed: list[str]) -> str:
    close = difflib.get_close_matches(str(key), allowed, n=1) if allowed else []
    return f'unknown key; did you mean "{close[0]}"?' if close else "unknown key"


def _describe(error: dict[str, Any], allowed: list[str]) -> str:
    kind, given = error["type"], error.get("input")
    if kind == "extra_forbidden":
        return unknown_key(error["loc"][-1], allowed)
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{given!r} is not allowed; expected {expected}"
    if kind == "finite_number":
        return f"{given} is not allowed; give a finite number"
    if kind in _STRICT_TYPES and isinstance(given, str):
        return f"{given!r} is a string; write {_STRICT_TYPES[kind]} without quotes"
    if kind == "date_type" and isinstance(given, str):
        return f"{given!r} is a string; write a TOML date without quotes, e.g. 2026-01-01"
    if kind == "date_type":
        return f"{given} is not a date; write a TOML date such as 2026-01-01"
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return message


def validation_problems(
    label: str,
    exc: ValidationError,
    prefix: tuple[Any, ...] = (),
    model: type[BaseModel] | None = None,
    also: tuple[str, ...] = (),
) -> list[str]:
    """One line per pydantic error. `model` (validated at `prefix`) names the keys typos are matched
    against; `also` adds keys valid in its top table (a source's common keys beside its connector's)."""
    problems = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and "[" in part))
        allowed: list[str] = []
        if error["type"] == "extra_forbidden":
            allowed = keys_at(model, loc[:-1]) + (list(also) if len(loc) == 1 else [])
        problems.append(f"{label}: {format_location(prefix + loc)}: {_describe(error, allowed)}")
    return problems
