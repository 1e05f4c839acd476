"""config.example.toml and docs/config.md show every key the config models accept, and the example loads."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Union, get_args, get_origin

import pytest
from pydantic import BaseModel

from roi.config import ModelVersion, Settings, SourceConfig, ValueModel
from roi.estimates import Normal, Triangular
from roi.services.validation import load_checked_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = (ROOT / "config.example.toml").read_text(encoding="utf-8")
DOCS = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")


def _models_in(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (list, dict, Union, types.UnionType):
        return [model for arg in get_args(annotation) for model in _models_in(arg)]
    return []


def documented_keys(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
    """(dotted table, key) for every key a file may write under `model`, nested tables included."""
    keys = []
    for name, field in model.model_fields.items():
        if field.exclude:  # filled by load_config, not by the file
            continue
        keys.append((prefix, name))
        for inner in _models_in(field.annotation):
            keys += documented_keys(inner, f"{prefix}.{name}" if prefix else name)
    return keys


CONFIG_KEYS = documented_keys(Settings)
MODEL_KEYS = documented_keys(ValueModel)


def test_the_walk_finds_the_keys_that_were_missing_from_the_example():
    assert ("pricing", "usd_exchange_rate") in CONFIG_KEYS and ("report", "close_after_days") in CONFIG_KEYS
    assert ("sources", "lookback_days") in CONFIG_KEYS and ("api.tokens", "role") in CONFIG_KEYS
    assert set(SourceConfig.model_fields) <= {key for table, key in CONFIG_KEYS if table == "sources"}
    assert ("versions", "review_cost_per_hour") in MODEL_KEYS and len(CONFIG_KEYS) > 40


@pytest.mark.parametrize(("table", "key"), CONFIG_KEYS, ids=[f"{t}.{k}" if t else k for t, k in CONFIG_KEYS])
def test_every_config_key_is_in_the_example_and_the_docs(table, key):
    # as a key (`key =`, in a table, an inline table, or commented out) or as a table header (`[key]`)
    as_key = re.compile(rf"(^|[\s{{,#]){re.escape(key)}\s*=", re.MULTILINE)
    as_table = re.compile(rf"^\s*#?\s*\[\[?{re.escape(f'{table}.{key}' if table else key)}[\]. ]", re.MULTILINE)
    in_example = bool(as_key.search(EXAMPLE) or as_table.search(EXAMPLE))
    assert in_example, f"config.example.toml lacks {table}.{key}"
    in_docs = f"`{key}`" in DOCS or f"{key} =" in DOCS or f"[{key}]" in DOCS
    assert in_docs, f"docs/config.md lacks {table}.{key}"


@pytest.mark.parametrize(("table", "key"), MODEL_KEYS, ids=[f"{t}.{k}" if t else k for t, k in MODEL_KEYS])
def test_every_value_model_key_is_in_the_docs_example(table, key):
    in_docs = re.search(rf"^{re.escape(key)}\s*=|\[\[{key}\]\]", DOCS, re.MULTILINE) is not None
    assert in_docs, f"docs/config.md lacks {key}"
    assert any(key in model.model_fields for model in (ModelVersion, ValueModel, Triangular, Normal))


def test_the_example_loads_and_its_commented_keys_load_too(tmp_path):
    settings = load_checked_config(ROOT / "config.example.toml")
    assert [source.name for source in settings.sources] == ["support-bot", "knowledge-assistant"]
    # uncommenting every optional `# key = value` line still gives a valid config
    uncommented = re.sub(r"^# ([a-z_]+ = )", r"\1", EXAMPLE, flags=re.MULTILINE)
    assert uncommented != EXAMPLE
    copy = tmp_path / "roi.toml"
    copy.write_text(uncommented.replace('models_dir = "models"', f'models_dir = "{ROOT / "models"}"'), encoding="utf-8")
    loaded = load_checked_config(copy)
    assert loaded.report.close_after_days == 5 and loaded.pricing.usd_exchange_rate == 0.92
    assert loaded.sources[0].lookback_days == 2
