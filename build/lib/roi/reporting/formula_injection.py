"""Text from the data must never become a formula in a spreadsheet."""

from __future__ import annotations

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_TRIGGERS)


def neutralize(text: str) -> str:
    """Prefix formula-like text with an apostrophe (OWASP's advice for CSV)."""
    return "'" + text if is_formula_like(text) else text
