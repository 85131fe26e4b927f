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

__all__ = ["Binder", "in_clause", "in_form", "in_list", "recheck_condition"]

PARAMETER_PREFIX = "pk_"
"""The names a :class:`Binder` gives the values it binds: ``pk_0``, ``pk_1``, ..."""


class Binder:
    """Binds a statement's values as it is built: by name in build order (``pk_0``, ``pk_1``,
    ...) when ``named``, so one statement serves every selection of its shape
    (:mod:`._sqlalchemy_where`); otherwise as anonymous parameters carrying their values.

    ``next_name``: a fresh name where a text fragment must name its parameter (a ``JSON_TABLE``
    alias), for an anonymous binder.

    Example:
        >>> import sqlalchemy as sa
        >>> binder = Binder(named=True)
        >>> binder.bind(5, sa.Integer()).key, binder.bind("x", sa.String()).key, binder.values
        ('pk_0', 'pk_1', [5, 'x'])
    """

    __slots__ = ("_next_name", "named", "values")

    def __init__(self, *, named: bool, next_name: Callable[[], str] | None = None) -> None:
        self.named = named
        self.values: list[Any] = []
        self._next_name = next_name

    def _name(self) -> str:
        return f"{PARAMETER_PREFIX}{len(self.values)}"

    def bind(self, value: Any, type_: Any, *, expanding: bool = False) -> sa.BindParameter[Any]:
        """A parameter for ``value`` (of SQL type ``type_``; ``expanding``: a list for ``IN``)."""
        name = self._name() if self.named else None
        self.values.append(value)
        return sa.bindparam(name, value, type_=type_, expanding=expanding)

    def bind_text(self, value: Any, type_: Any) -> tuple[str, sa.BindParameter[Any]]:
        """A named parameter for a text fragment, with its name."""
        if self.named:
            name = self._name()
        elif self._next_name is not None:
            name = self._next_name()
        else:
            raise ValueError("an anonymous Binder needs next_name to name a text parameter")
        self.values.append(value)
        return name, sa.bindparam(name, value, type_=type_)


_NOTHING: Any = object()
"""The value of an ``IN`` form that binds none."""


def in_form(
    column: sa.Column[Any], listed: Sequence[Any], *, dialect: str, plain: bool = False
) -> tuple[tuple[Any, ...], Any]:
    """The form ``column IN listed`` takes, and the one value it binds (``_NOTHING``: none).

    The form is part of a statement's shape (:mod:`._sqlalchemy_where`): ``("false",)`` for an
    empty list, ``("none",)`` when no value can equal one the column holds, ``("array",)``
    (PostgreSQL), ``("json_each",)`` (SQLite), ``("json_table", spec)`` (MariaDB/MySQL) or
    ``("list",)``.
    """
    if not listed:
        return ("false",), _NOTHING
    kind = column.info.get("kind")
    values = comparable_values(kind, listed, strict_text=dialect != "sqlite")
    if not values:
        return ("none",), _NOTHING
    if dialect == "postgresql" and not isinstance(column.type, sa.JSON):
        return ("array",), values
    mysql = dialect in {"mysql", "mariadb"}
    json = dialect == "sqlite" or (mysql and not plain)
    if json and kind in ("integer", "real", "text") and len(values) > JSON_IN_THRESHOLD:
        import orjson  # noqa: PLC0415 - only long IN lists need it

        payload = orjson.dumps(values).decode()
        if dialect == "sqlite":
            return ("json_each",), payload
        spec = json_table_type(kind, values, column.table.kwargs.get("mysql_collate"))
        if spec is not None:
            return ("json_table", spec), payload
    return ("list",), values


def in_clause(
    column: sa.Column[Any], form: tuple[Any, ...], value: Any, binder: Binder
) -> sa.ColumnElement[bool]:
    """``column IN ...`` in the ``form`` :func:`in_form` chose, ``value`` bound by ``binder``."""
    tag = form[0]
    if tag == "false":
        return sa.false()
    if tag == "none":
        # No value can equal one the column holds: false, but unknown for a NULL, as IN is.
        return sa.case((column.is_(None), sa.null()), else_=sa.false())
    if tag == "array":
        array = postgresql.ARRAY(column.type)
        return column == sa.any_(sa.cast(binder.bind(value, array), array))
    if tag == "json_each":
        json_each = sa.func.json_each(binder.bind(value, sa.String()))
        return column.in_(sa.select(json_each.table_valued("value").c.value))
    if tag == "json_table":
        name, parameter = binder.bind_text(value, sa.String())
        rows = sa.text(f"JSON_TABLE(:{name}, '$[*]' COLUMNS (v {form[1]} PATH '$')) AS {name}")
        rows = rows.bindparams(parameter)
        return column.in_(sa.select(sa.literal_column(f"{name}.v")).select_from(rows))
    return column.in_(binder.bind(value, column.type, expanding=True))


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
    form, value = in_form(column, listed, dialect=dialect, plain=plain)
    return in_clause(column, form, value, Binder(named=False, next_name=next_name))


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
