"""Compiling selections to parameterised SQL text for DB-API drivers with ``?`` placeholders.

Identifiers (table and column names from the data map) are always double-quoted, with embedded
double quotes doubled, so a name cannot end the quoted identifier early; values are never put into
the SQL text, only bound as parameters. The meaning is the selection language's: SQL's own
three-valued logic, which the in-memory reference adapter reproduces.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..model._datamap import RecordType

if TYPE_CHECKING:  # pragma: no cover - for type checkers only (made on use: see __init__)
    from ._selection import In, Related, Selection

__all__ = [
    "COUNTS_PER_STATEMENT",
    "comparable_values",
    "compile_selection",
    "factor_common",
    "json_table_type",
    "quote_identifier",
]

COUNTS_PER_STATEMENT = 64
"""At most this many counts share one ``SELECT COUNT(CASE ...), ...`` (``counts``)."""

Convert = Callable[[str, Any], Any]
"""``convert(field, value)``: a Python value to the value bound for ``field``."""

Kinds = Callable[[str], str | None]
"""``kinds(field)``: the field's data-map type (``"integer"``, ``"text"``, ...), ``None`` if unknown."""

# Above this many values, ``IN`` binds one JSON array instead of one parameter per value, so a
# large key list never hits SQLite's limit on the number of host parameters (32,766 by default).
JSON_IN_THRESHOLD = 200
_INT64 = range(-(2**63), 2**63)


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
    kinds: Kinds | None = None,
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
        kinds: each field's data-map type; an ``IN`` on a number field then keeps only the values
            that can equal a number (:func:`comparable_values`), so ``"2abc"`` never matches 2.

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
    from ._selection import After, All, And, Before, Eq, In, IsNull, Not, Or, Related  # noqa: PLC0415

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
            kind = kinds(sel.field) if kinds is not None else None
            return _compile_in(sel, column(sel.field), kind, convert, params, json_in=json_in)
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


def factor_common(selections: Sequence[Selection]) -> tuple[Selection, list[Selection]]:
    """Split ``selections`` into what they all require and what each adds.

    Returns ``(common, rests)`` such that each ``selections[i]`` selects exactly the records
    ``And((common, rests[i]))`` selects: the terms of an ``And`` present in every selection are
    taken out (an ``All()`` rest when nothing is left), and when there is no such term ``common``
    is the ``Or`` of the selections (a record counted by a rest is then selected by ``common``
    too). ``counts`` reads ``common`` as its ``WHERE`` (so an index on it serves) and each rest as
    one ``COUNT(CASE WHEN rest THEN 1 END)``.

    Example:
        >>> from privacy_kit.adapters import where
        >>> common, rests = factor_common([where.eq("a", 1) & where.eq("b", 2),
        ...                                where.eq("a", 1) & ~where.eq("b", 2)])
        >>> common, rests
        (Eq(field='a', value=1), [Eq(field='b', value=2), Not(item=Eq(field='b', value=2))])
    """
    from ._selection import All, And, Or  # noqa: PLC0415 - the selections are made on use

    terms = [s.items if isinstance(s, And) else (s,) for s in selections]
    shared: list[Selection] = []
    for term in terms[0]:
        if term not in shared and all(term in other for other in terms[1:]):
            shared.append(term)
    if not shared:
        if len(selections) == 1:
            return selections[0], [All()]
        return Or(tuple(selections)), list(selections)
    rests: list[Selection] = []
    for items in terms:
        left = tuple(t for t in items if t not in shared)
        rests.append(All() if not left else left[0] if len(left) == 1 else And(left))
    common = shared[0] if len(shared) == 1 else And(tuple(shared))
    return common, rests


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
    rt = sel.record_type
    where, inner = compile_selection(
        sel.selection,
        inner_convert,
        table=other,
        json_in=json_in,
        related=related,
        kinds=lambda f: rt.field(f).type if rt.has_field(f) else None,
    )
    params.extend(inner)
    name = quote_identifier(other)
    return f"SELECT {name}.{quote_identifier(sel.key)} FROM {name} WHERE {where}"


def _compile_in(
    sel: In, name: str, kind: str | None, convert: Convert, params: list[Any], *, json_in: bool
) -> str:
    """``name IN (...)`` for ``sel``, appending its parameters to ``params``."""
    if not sel.values:
        return "0"
    values = comparable_values(kind, sel.values) if kind is not None else list(sel.values)
    if not values:
        # No value can equal one the field holds: false, but unknown for a NULL, as ``IN`` is.
        return f"CASE WHEN {name} IS NULL THEN NULL ELSE 0 END"
    stored = [None if v is None else convert(sel.field, v) for v in values]
    if not json_in or len(stored) <= JSON_IN_THRESHOLD:
        params.extend(stored)
        return f"{name} IN ({', '.join('?' * len(stored))})"
    import orjson  # noqa: PLC0415 - only long IN lists need it

    # One JSON parameter whatever the length; the rare value JSON cannot carry exactly (bytes, a
    # non-finite float, an integer beyond 64 bits) is bound on its own, in the same statement:
    # ``x IN (A) OR x IN (B)`` is ``x IN (A + B)`` in three-valued logic too.
    carried = [v for v in stored if _json_safe(v)]
    rest = [v for v in stored if not _json_safe(v)]
    parts = []
    if carried:
        params.append(orjson.dumps(carried).decode())
        parts.append(f"{name} IN (SELECT value FROM json_each(?))")
    if rest:
        params.extend(rest)
        parts.append(f"{name} IN ({', '.join('?' * len(rest))})")
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def comparable_values(
    kind: str | None, values: Iterable[Any], *, strict_text: bool = False
) -> list[Any]:
    """The values of an ``In`` on a field of type ``kind`` that can equal a value the field holds.

    A database compares a string with a number by converting one into the other, and some do it
    leniently (MariaDB reads ``'2abc'`` as 2, PostgreSQL ``'1.5'`` cannot be a ``bigint``), which
    would select records the list never named. So, as in the in-memory adapter (Python equality),
    a number field keeps only numbers that its type holds exactly (``1.0`` becomes ``1``; a string,
    ``1.5`` or an integer beyond 64 bits is dropped: it cannot equal any record); with
    ``strict_text`` a text field keeps only strings. ``None`` (SQL's unknown) is kept; other kinds
    are returned as they are.

    Args:
        kind: the field's data-map type (``"integer"``, ``"real"``, ``"text"``, ...).
        values: the ``In``'s values.
        strict_text: also drop non-strings for a ``"text"`` field (server databases, whose text
            columns hold only text; SQLite's text affinity converts a number exactly).

    Returns:
        The values to compare with, in the field's Python type.

    Example:
        >>> comparable_values("integer", [1, "2abc", "1.5", 3.0, 1.5, None, True])
        [1, 3, None, 1]
        >>> comparable_values("text", ["a", 1], strict_text=True)
        ['a']
    """
    kept: list[Any] = []
    for value in values:
        if value is None:
            kept.append(None)
        elif kind == "integer":
            number = _as_integer(value)
            if number is not None:
                kept.append(number)
        elif kind == "real":
            real = _as_real(value)
            if real is not None:
                kept.append(real)
        elif kind == "text" and strict_text:
            if isinstance(value, str):
                kept.append(value)
        else:
            kept.append(value)
    return kept


def json_table_type(kind: str, values: Sequence[Any], collation: str | None) -> str | None:
    """The MariaDB/MySQL ``JSON_TABLE`` column type that reads ``values`` (from
    :func:`comparable_values`) exactly as a field of type ``kind``; ``None`` when none does.

    Text gets a ``VARCHAR`` as long as the longest value (a shorter one would truncate a value
    into another) in the column's own collation (comparisons stay exact).

    Example:
        >>> json_table_type("text", ["ab", "abc", None], "utf8mb4_nopad_bin")
        'VARCHAR(3) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin'
    """
    if kind == "integer":
        return "BIGINT"
    if kind == "real":
        return "DOUBLE"
    longest = max((len(v) for v in values if v is not None), default=1)
    if kind != "text" or collation is None or not collation.isidentifier() or longest > 16_000:
        return None
    return f"VARCHAR({max(longest, 1)}) CHARACTER SET utf8mb4 COLLATE {collation}"


def _as_integer(value: Any) -> int | None:
    if isinstance(value, int) or (
        isinstance(value, float | decimal.Decimal) and math.isfinite(value) and value == int(value)
    ):  # bool too: True == 1, as in Python
        number = int(value)
    else:
        return None
    return number if number in _INT64 else None


def _as_real(value: Any) -> float | None:
    if not isinstance(value, int | float | decimal.Decimal):
        return None
    try:
        real = float(value)
    except OverflowError:
        return None
    # NaN equals nothing; a value a double cannot hold exactly equals no stored double.
    return real if not math.isnan(real) and real == value else None


def _json_safe(value: Any) -> bool:
    # bool is excluded: JSON true would compare unequal to SQLite's integer 1; so are the values
    # JSON would change (NaN and infinities become null) or cannot carry (integers over 64 bits).
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value in _INT64
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str)
