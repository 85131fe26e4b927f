"""Small rendering helpers shared by the notebook views, notices and reports: escaping and tables.

Jupyter shows an object's ``_repr_html_``; every privacy_kit object that has one builds it from
:func:`html_table`, so the views look alike and every value is escaped in one place.
:func:`text_table` is the plain-text twin used by ``__str__`` of tabular objects.
"""

from __future__ import annotations

import datetime as dt
import enum
import html
import importlib
import textwrap
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._errors import ConfigurationError

__all__ = [
    "data_frame",
    "display_width",
    "escape",
    "flat_value",
    "html_table",
    "join_html",
    "records",
    "text_table",
]

Cell = object
"""Anything: ``None`` renders empty, tuples and lists as comma-separated items, the rest with ``str``."""

# One small inline style block so the tables read well in Jupyter, VS Code and plain browsers alike.
_STYLE = (
    "<style>"
    ".pk-view{font-family:system-ui,sans-serif;margin:0.4em 0 1em}"
    ".pk-view table{border-collapse:collapse;font-size:0.9em}"
    ".pk-view caption{caption-side:bottom;text-align:start;color:#555;padding-top:0.3em}"
    ".pk-view th,.pk-view td{border:1px solid #ccc;padding:0.25em 0.5em;text-align:start;"
    "vertical-align:top}"
    ".pk-view th{background:#f3f3f3}"
    ".pk-view .pk-title{font-weight:600;margin-bottom:0.3em}"
    "</style>"
)


def escape(value: object) -> str:
    """Escape ``value`` (any object, via :func:`_cell_text`) for HTML text and attributes.

    Example:
        >>> escape('<b>"Tom" & Jerry</b>')
        '&lt;b&gt;&quot;Tom&quot; &amp; Jerry&lt;/b&gt;'
        >>> escape(None)
        ''
    """
    return html.escape(_cell_text(value), quote=True)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple | list | frozenset | set):
        items = sorted(value, key=str) if isinstance(value, frozenset | set) else value
        return ", ".join(_cell_text(v) for v in items)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def html_table(
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    caption: str | None = None,
) -> str:
    """An HTML table (a self-contained, styled fragment) with a title and an optional caption.

    Every header and cell is escaped; ``None`` renders empty, sequences as comma-separated lists.

    Args:
        title: shown above the table.
        columns: the column headings.
        rows: one sequence of cells per row, in column order.
        caption: a note shown under the table.

    Returns:
        The HTML fragment, as a string.

    Raises:
        ValueError: if a row does not have one cell per column.

    Example:
        >>> out = html_table("Findings", ["code", "where"], [("x<y", None)], caption="1 finding")
        >>> "<td>x&lt;y</td><td></td>" in out, "<caption>1 finding</caption>" in out
        (True, True)
    """
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body: list[str] = []
    for i, row in enumerate(rows):
        cells = list(row)
        if len(cells) != len(columns):
            raise ValueError(
                f"row {i} of table {title!r} has {len(cells)} cells, expected {len(columns)}"
            )
        body.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (
        f'<div class="pk-view">{_STYLE}<div class="pk-title">{escape(title)}</div>'
        f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def flat_value(value: object) -> object:
    """``value`` as one cell of a data frame: ``None``, ``bool``, ``int``, ``float`` or ``str``.

    Enums give their value, datetimes and dates ISO 8601 text, sequences their items joined with
    ``"; "`` (as the ROPA's records do), anything else (durations: ``P30D``) its ``str``.

    Example:
        >>> import datetime as dt
        >>> flat_value(dt.datetime(2025, 1, 2, tzinfo=dt.UTC)), flat_value(("a", "b")), flat_value(None)
        ('2025-01-02T00:00:00+00:00', 'a; b', None)
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, enum.Enum):
        return flat_value(value.value)
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list | frozenset | set):
        items = sorted(value, key=str) if isinstance(value, frozenset | set) else value
        return "; ".join(str(flat_value(v)) for v in items)
    return str(value)


def records(
    columns: Sequence[str], rows: Iterable[Mapping[str, object]]
) -> list[dict[str, object]]:
    """Rows with exactly ``columns`` as keys, in order, each value made flat by :func:`flat_value`.

    Every ``to_records()`` goes through here, so every row of a result has the same keys (a key a
    row does not have is ``None``, never missing, so a data frame gets no ``NaN`` from it).

    Raises:
        ValueError: if a row has a key that is not a column (a programming error, said early).

    Example:
        >>> records(["a", "b"], [{"a": 1}, {"a": 2, "b": ("x",)}])
        [{'a': 1, 'b': None}, {'a': 2, 'b': 'x'}]
    """
    out: list[dict[str, object]] = []
    for i, row in enumerate(rows):
        extra = set(row) - set(columns)
        if extra:
            raise ValueError(
                f"row {i} has keys {sorted(extra)} that are not columns {list(columns)}"
            )
        out.append({c: flat_value(row.get(c)) for c in columns})
    return out


def data_frame(columns: Sequence[str], rows: Iterable[Mapping[str, object]], *, of: str) -> Any:
    """``rows`` (the output of a ``to_records()``) as a ``pandas.DataFrame`` with ``columns``.

    pandas is imported here, on the first call, never when privacy_kit is imported; the columns
    are given explicitly, so a result with no rows still gives a frame with its columns.

    Args:
        columns: the columns, in order (those of the ``to_records()`` rows).
        rows: the rows.
        of: what the rows are of (named in the error when pandas is missing).

    Raises:
        ConfigurationError: if pandas is not installed (says ``pip install pandas``).

    Example:
        >>> frame = data_frame(["a", "b"], [{"a": 1, "b": "x"}], of="example")  # doctest: +SKIP
        >>> list(frame.columns), len(frame)  # doctest: +SKIP
        (['a', 'b'], 1)
    """
    try:
        pandas = importlib.import_module("pandas")
    except ImportError as exc:
        raise ConfigurationError(
            f"{of}.to_pandas() needs pandas, which is not installed: run `pip install pandas` "
            "(or use to_records(), which gives the same rows as plain dicts)"
        ) from exc
    return pandas.DataFrame(list(rows), columns=list(columns))


def join_html(*fragments: str) -> str:
    """Several fragments (e.g. tables) as one ``_repr_html_`` value.

    Example:
        >>> join_html("<p>a</p>", "<p>b</p>")
        '<div class="pk-views"><p>a</p><p>b</p></div>'
    """
    return '<div class="pk-views">' + "".join(fragments) + "</div>"


def display_width(text: str) -> int:
    """The columns ``text`` takes on a terminal: combining marks (Arabic vowel signs, accents
    typed apart) and invisible format characters take none, wide East Asian characters two.

    Example:
        >>> len("تُحذف"), display_width("تُحذف"), display_width("日本")
        (5, 4, 4)
    """
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) == "Cf":
            continue
        width += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return width


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def text_table(
    columns: Sequence[str], rows: Iterable[Sequence[Cell]], *, max_width: int = 40
) -> str:
    """A plain-text grid table; long cells wrap at ``max_width`` characters.

    Cells are padded by the columns they take on a terminal (:func:`display_width`), so a
    column of Arabic with vowel signs lines up. Wrapping counts characters, so it stays within
    the column for such text; a cell of wide East Asian characters can overrun its column.

    Args:
        columns: the column headings.
        rows: one sequence of cells per row.
        max_width: the widest a column may get before its cells wrap.

    Returns:
        The table, lines joined with ``\\n`` (no trailing newline).

    Raises:
        ValueError: if a row does not have one cell per column, or ``max_width`` < 4.

    Example:
        >>> print(text_table(["key", "value"], [("a", 1), ("b", None)]))
        +-----+-------+
        | key | value |
        +=====+=======+
        | a   | 1     |
        +-----+-------+
        | b   |       |
        +-----+-------+
    """
    if max_width < 4:
        raise ValueError(f"max_width must be at least 4, got {max_width}")
    table = [list(map(_cell_text, columns))]
    for i, row in enumerate(rows):
        cells = [_cell_text(c) for c in row]
        if len(cells) != len(columns):
            raise ValueError(f"row {i} has {len(cells)} cells, expected {len(columns)}")
        table.append(cells)
    width = display_width
    widths = [
        min(max_width, max(max((width(w) for w in cell.split()), default=0), width(cell)))
        for cell in table[0]
    ]
    for cells in table:
        for j, cell in enumerate(cells):
            widths[j] = max(widths[j], min(max_width, width(cell)))
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [rule]
    for n, cells in enumerate(table):
        wrapped = [
            textwrap.wrap(cell, widths[j], break_long_words=True) or [""]
            for j, cell in enumerate(cells)
        ]
        for k in range(max(len(w) for w in wrapped)):
            parts = [
                _pad(wrapped[j][k] if k < len(wrapped[j]) else "", widths[j])
                for j in range(len(cells))
            ]
            out.append("| " + " | ".join(parts) + " |")
        out.append(rule.replace("-", "=") if n == 0 else rule)
    return "\n".join(out)
