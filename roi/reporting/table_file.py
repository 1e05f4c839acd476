"""A plain table (columns, rows, a totals row) as CSV or as a one-sheet workbook: the dashboard's downloads.

The CSV rounds as the report's CSV does (money to the cent, ratios to 4 places, counts whole);
the workbook keeps every figure unrounded and shows it with a number format. Text cells are
written as text: in the CSV, one that a spreadsheet would read as a formula is neutralized.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import xlsxwriter

from .formula_injection import neutralize

PLACES = {"money": 2, "percent": 4}
EXCEL_FORMATS = {"money": "#,##0.00", "percent": "0.0%", "count": "#,##0"}


@dataclass(frozen=True, slots=True)
class TableColumn:
    name: str
    title: str
    kind: str  # text, money, percent or count


def _csv_value(column: TableColumn, value: Any) -> str:
    if column.kind == "text":
        return neutralize(str(value) if value is not None else "")
    if value is None:
        return ""
    if column.kind == "count":
        return str(int(round(float(value))))
    return f"{float(value):.{PLACES[column.kind]}f}"


def table_csv(columns: Sequence[TableColumn], rows: Sequence[Sequence[Any]], totals: Sequence[Any] | None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([column.title for column in columns])
    for row in [*rows, *([totals] if totals is not None else [])]:
        writer.writerow([_csv_value(column, value) for column, value in zip(columns, row, strict=True)])
    return out.getvalue()


def table_xlsx(title: str, columns: Sequence[TableColumn], rows: Sequence[Sequence[Any]],
               totals: Sequence[Any] | None) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    book.set_properties({"title": title, "author": "roi"})
    sheet = book.add_worksheet("Cohorts")
    bold = book.add_format({"bold": True})
    formats = {kind: book.add_format({"num_format": pattern}) for kind, pattern in EXCEL_FORMATS.items()}
    total_formats = {kind: book.add_format({"num_format": pattern, "bold": True, "top": 1})
                     for kind, pattern in EXCEL_FORMATS.items()}
    sheet.write_string(0, 0, title, bold)
    for index, column in enumerate(columns):
        sheet.write_string(2, index, column.title, bold)
        sheet.set_column(index, index, 18 if column.kind == "text" else 14)
    body = [(row, formats) for row in rows] + ([(totals, total_formats)] if totals is not None else [])
    for offset, (row, shown) in enumerate(body):
        for index, (column, value) in enumerate(zip(columns, row, strict=True)):
            if column.kind == "text":
                sheet.write_string(3 + offset, index, str(value) if value is not None else "")
            elif value is not None:
                sheet.write_number(3 + offset, index, float(value), shown[column.kind])
    sheet.freeze_panes(3, 0)
    book.close()
    return out.getvalue()
