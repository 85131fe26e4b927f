"""Compiling selections to parameterised SQL text for DB-API drivers with ``?`` placeholders.

Identifiers (table and column names from the data map) are always double-quoted, with embedded
double quotes doubled, so a name cannot end the quoted identifier early; values are never put into
the SQL text, only bound as parameters. The meaning is the selection language's: SQL's own
three-valued logic, which the in-memory reference adapter reproduces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ._selection import After, All, And, Before, Eq, In, IsNull, Not, Or, Selection

__all__ = ["compile_selection", "quote_identifier"]

Convert = Callable[[str, Any], Any]
"""``convert(field, value)``: a Python value to the value bound for ``field``."""

# Above this many values, ``IN`` binds one JSON array instead of one parameter per value, so a
# large key list never hits SQLite's limit on the number of host parameters.
JSON_IN_THRESHOLD = 200


def quote_identifier(name: str) -> str:
    """Quote ``name`` as an SQL identifier (standard double quotes, embedded quotes doubled).

    Args:
        name: a table or column name, taken verbatim.

    Returns:
        The quoted identifier.

    Raises:
        ValueError: the name is empty or contains a NUL character (no SQL database accepts it).

    Example:
        >>> quote_identifier('bookings')
        '"bookings"'
        >>> quote_identifier('x"; DROP TABLE t; --')
        '"x""; DROP TABLE t; --"'
    """
    if not name or "\x00" in name:
        raise ValueError(f"invalid SQL identifier {name!r}")
    return '"' + name.replace('"', '""') + '"'


def compile_selection(
    selection: Selection, convert: Convert, *, table: str | None = None, json_in: bool = False
) -> tuple[str, list[Any]]:
    """Compile ``selection`` to a ``WHERE`` expression with ``?`` placeholders and its parameters.

    Args:
        selection: the selection to compile.
        convert: turns each bound value into what the store keeps for that field.
        table: qualify every column with this table name. SQLite reads an unknown double-quoted
            name as a string literal; a qualified one is an error, as it should be.
        json_in: bind long ``IN`` lists as one JSON array read through ``json_each`` (SQLite).

    Returns:
        ``(sql, params)``; ``sql`` contains no value, only quoted identifiers and placeholders.

    Raises:
        TypeError: the selection is of an unknown kind.

    Example:
        >>> from privacy_kit.adapters import where
        >>> compile_selection(where.eq("host_id", 7) & ~where.is_null("email"), lambda f, v: v)
        ('("host_id" = ? AND NOT ("email" IS NULL))', [7])
    """
    params: list[Any] = []
    prefix = quote_identifier(table) + "." if table is not None else ""

    def column(field: str) -> str:
        return prefix + quote_identifier(field)

    def walk(sel: Selection) -> str:
        if isinstance(sel, All):
            return "1"
        if isinstance(sel, Eq):
            params.append(None if sel.value is None else convert(sel.field, sel.value))
            return f"{column(sel.field)} = ?"
        if isinstance(sel, In):
            if not sel.values:
                return "0"
            values = [None if v is None else convert(sel.field, v) for v in sel.values]
            name = column(sel.field)
            if json_in and len(values) > JSON_IN_THRESHOLD and _json_safe(values):
                import orjson  # noqa: PLC0415 - only long IN lists need it

                params.append(orjson.dumps(values).decode())
                return f"{name} IN (SELECT value FROM json_each(?))"
            params.extend(values)
            return f"{name} IN ({', '.join('?' * len(values))})"
        if isinstance(sel, Before | After):
            params.append(convert(sel.field, sel.instant))
            op = ("<" if isinstance(sel, Before) else ">") + ("=" if sel.inclusive else "")
            return f"{column(sel.field)} {op} ?"
        if isinstance(sel, IsNull):
            return f"{column(sel.field)} IS NULL"
        if isinstance(sel, And):
            if not sel.items:
                return "1"
            return "(" + " AND ".join(walk(item) for item in sel.items) + ")"
        if isinstance(sel, Or):
            if not sel.items:
                return "0"
            return "(" + " OR ".join(walk(item) for item in sel.items) + ")"
        if isinstance(sel, Not):
            return f"NOT ({walk(sel.item)})"
        raise TypeError(f"cannot compile selection {sel!r} to SQL")

    return walk(selection), params


def _json_safe(values: Sequence[Any]) -> bool:
    # bool is excluded: JSON true would compare unequal to SQLite's integer 1.
    return all(
        v is None or (isinstance(v, int | float | str) and not isinstance(v, bool)) for v in values
    )
