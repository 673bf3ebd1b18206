"""JSON a person reads: a purchase's `applied` lines, an event's or a posting's data, as HTML tables
(for the admin's read-only fields and the event log). Everything is escaped by `format_html`.

- a list of objects: one row per object, one column per key (in first-seen order);
- an object: two columns, key and value;
- anything else (and nested values): as text, nested objects as compact JSON.
"""

from __future__ import annotations

import json
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext

EMPTY = "—"


def _cell(value: Any) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    return str(value)


def _label(key: str) -> str:
    return str(key).replace("_", " ")


def data_table(value: Any, *, css_class: str = "data-table"):
    """`value` as a safe HTML table (see the module docstring); an em dash when empty."""
    if value in (None, "", [], {}):
        return EMPTY
    if isinstance(value, list) and all(isinstance(row, dict) for row in value):
        columns: list[str] = []
        for row in value:
            columns.extend(key for key in row if key not in columns)
        head = format_html_join("", "<th>{}</th>", ((_label(c),) for c in columns))
        cells = (
            format_html_join("", "<td>{}</td>", ((_cell(row.get(c)),) for c in columns)) for row in value
        )
        body = format_html_join("", "<tr>{}</tr>", ((row,) for row in cells))
        return format_html(
            '<table class="{}"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', css_class, head, body
        )
    if isinstance(value, dict):
        pairs = ((_label(key), _cell(item)) for key, item in value.items())
        rows = format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', pairs)
        return format_html('<table class="{}"><tbody>{}</tbody></table>', css_class, rows)
    if isinstance(value, list):
        return format_html_join(", ", "{}", ((_cell(item),) for item in value))
    return _cell(value)
