"""``IN`` lists for the SQLAlchemy adapter: one bound parameter whatever their length.

PostgreSQL binds a typed array (``column = ANY(:array)``); past ``JSON_IN_THRESHOLD`` values,
SQLite and MariaDB/MySQL bind a JSON array read back as rows (``json_each``, ``JSON_TABLE``), so no
statement approaches a server's bind-parameter limit. Values the column cannot hold (a float for an
integer key, a number for a text field) are dropped first (:func:`~._sql.comparable_values`), never
left for the database to coerce into another record's value.

Also: the re-check a MariaDB/MySQL delete or update of locked keys needs when its selection reads
another table (:func:`recheck_condition`).

Needs the ``privacy-kit[sqlalchemy]`` extra (imported by :mod:`._sqlalchemy` only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from ._selection import And, Not, Or, Related, Selection
from ._sql import JSON_IN_THRESHOLD, comparable_values, json_table_type

__all__ = ["in_list", "recheck_condition"]


def in_list(
    column: sa.Column[Any],
    listed: Sequence[Any],
    *,
    dialect: str,
    next_name: Callable[[], str],
    plain: bool = False,
) -> sa.ColumnElement[bool]:
    """``column IN listed`` in one bound parameter, whatever the size (unless ``plain``).

    Args:
        column: a column of a table the adapter built (its ``info["kind"]`` is the field type).
        listed: the values.
        dialect: the engine's dialect name.
        next_name: a fresh name for a ``JSON_TABLE`` alias (unique within the adapter).
        plain: on MariaDB/MySQL, a plain ``IN (...)`` list (keys just read, a short batch).

    PostgreSQL binds a typed array (``= ANY``); past ``JSON_IN_THRESHOLD`` keys, SQLite and
    MariaDB/MySQL bind a JSON array (``json_each``, ``JSON_TABLE``).
    """
    if not listed:
        return sa.false()
    kind = column.info.get("kind")
    values = comparable_values(kind, listed, strict_text=dialect != "sqlite")
    if not values:
        # No value can equal one the column holds: false, but unknown for a NULL, as IN is.
        return sa.case((column.is_(None), sa.null()), else_=sa.false())
    if dialect == "postgresql" and not isinstance(column.type, sa.JSON):
        array = postgresql.ARRAY(column.type)
        return column == sa.any_(sa.cast(sa.bindparam(None, values, type_=array), array))
    mysql = dialect in {"mysql", "mariadb"}
    json = dialect == "sqlite" or (mysql and not plain)
    if json and kind in ("integer", "real", "text") and len(values) > JSON_IN_THRESHOLD:
        import orjson  # noqa: PLC0415 - only long IN lists need it

        payload = orjson.dumps(values).decode()
        if dialect == "sqlite":
            json_each = sa.func.json_each(sa.bindparam(None, payload, type_=sa.String()))
            return column.in_(sa.select(json_each.table_valued("value").c.value))
        spec = json_table_type(kind, values, column.table.kwargs.get("mysql_collate"))
        if spec is not None:
            name = next_name()
            rows = sa.text(f"JSON_TABLE(:{name}, '$[*]' COLUMNS (v {spec} PATH '$')) AS {name}")
            rows = rows.bindparams(**{name: payload})
            return column.in_(sa.select(sa.literal_column(f"{name}.v")).select_from(rows))
    return column.in_(values)


def recheck_condition(selection: Selection, condition: Any) -> tuple[Any, ...]:
    """The condition to test again when MariaDB deletes or updates locked keys.

    The locked rows cannot change, but a :class:`Related` reads another table whose rows a
    locking read does not hold: an account reopened after the keys were read must stop the
    statement, so such a condition is checked again in it (the statement is slower; sweeps of
    account-triggered rules are the only users).
    """
    return (condition,) if _has_related(selection) else ()


def _has_related(selection: Selection) -> bool:
    if isinstance(selection, Related):
        return True
    if isinstance(selection, And | Or):
        return any(_has_related(item) for item in selection.items)
    if isinstance(selection, Not):
        return _has_related(selection.item)
    return False
