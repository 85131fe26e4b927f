"""Compiling selections to parameterised SQL text for DB-API drivers with ``?`` placeholders.

Identifiers (table and column names from the data map) are always double-quoted, with embedded
double quotes doubled, so a name cannot end the quoted identifier early; values are never put into
the SQL text, only bound as parameters. The meaning is the selection language's: SQL's own
three-valued logic, which the in-memory reference adapter reproduces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..model._datamap import RecordType
from ._selection import After, All, And, Before, Eq, In, IsNull, Not, Or, Related, Selection

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
    selection: Selection,
    convert: Convert,
    *,
    table: str | None = None,
    json_in: bool = False,
    related: Callable[[RecordType], Convert] | None = None,
) -> tuple[str, list[Any]]:
    """Compile ``selection`` to a ``WHERE`` expression with ``?`` placeholders and its parameters.

    Args:
        selection: the selection to compile.
        convert: turns each bound value into what the store keeps for that field.
        table: qualify every column with this table name. SQLite reads an unknown double-quoted
            name as a string literal; a qualified one is an error, as it should be.
        json_in: bind long ``IN`` lists as one JSON array read through ``json_each`` (SQLite).
        related: ``related(record_type)`` is the ``convert`` of the values a
            :class:`~privacy_kit.adapters.Related` binds on its other record type (``None``:
            ``convert``). A ``Related`` compiles to ``column IN (SELECT "t"."key" FROM "t" WHERE
            ...)``, its selection compiled inside with columns qualified by its own table.

    Returns:
        ``(sql, params)``; ``sql`` contains no value, only quoted identifiers and placeholders.

    Raises:
        TypeError: the selection is of an unknown kind.

    Example:
        >>> from privacy_kit.adapters import where
        >>> compile_selection(where.eq("host_id", 7) & ~where.is_null("email"), lambda f, v: v)
        ('("host_id" = ? AND NOT ("email" IS NULL))', [7])
        >>> import privacy_kit as pk
        >>> users = pk.load_datamap(pk.example_path("datamap.yaml")).record_type("users")
        >>> compile_selection(where.related("host_id", users, where.in_("id", [1, 2])),
        ...                   lambda f, v: v, table="bookings")
        ('"bookings"."host_id" IN (SELECT "users"."id" FROM "users" WHERE "users"."id" IN (?, ?))', [1, 2])
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
        if isinstance(sel, Related):
            return f"{column(sel.field)} IN ({_sub_select(sel, convert, json_in, related, params)})"
        raise TypeError(f"cannot compile selection {sel!r} to SQL")

    return walk(selection), params


def _sub_select(
    sel: Related,
    convert: Convert,
    json_in: bool,
    related: Callable[[RecordType], Convert] | None,
    params: list[Any],
) -> str:
    """``SELECT "t"."key" FROM "t" WHERE ...`` for a ``Related``; its values go to ``params``.

    Columns inside are qualified by the other table: the innermost ``FROM`` of that name wins in
    SQL, so the sub-select reads its own table even when it is the outer statement's table too.
    """
    other = sel.record_type.table_name
    inner_convert = related(sel.record_type) if related is not None else convert
    where, inner = compile_selection(
        sel.selection, inner_convert, table=other, json_in=json_in, related=related
    )
    params.extend(inner)
    name = quote_identifier(other)
    return f"SELECT {name}.{quote_identifier(sel.key)} FROM {name} WHERE {where}"


def _json_safe(values: Sequence[Any]) -> bool:
    # bool is excluded: JSON true would compare unequal to SQLite's integer 1.
    return all(
        v is None or (isinstance(v, int | float | str) and not isinstance(v, bool)) for v in values
    )
