"""Selections as SQLAlchemy conditions, and statements built once per shape of selection.

:func:`where_clause` turns a :class:`~privacy_kit.adapters.Selection` into a condition on a
table, each value bound by a :class:`~._sqlalchemy_in.Binder`.

A selection's *shape* (:func:`shape_of`) is the selection with its values taken out: the kinds of
its nodes, their fields, the form each ``IN`` list takes, its block ranges, the tables a
``Related`` reads. Two selections of one shape compile to the same SQL; only the bound values
differ. Building the SQLAlchemy statement and its cache key for a plan's counts and an apply's
statements took more CPU than running them on a table of 10,000 rows, so :func:`cached` keeps one
statement per shape for the process, its values bound by name (``pk_0``, ``pk_1``, ... in the
order the statement is built), and each call passes its own values under those names.

The order is what matters: a value bound under another name would select other records. The
values are listed by one walk (:func:`shape_of`) and bound by another (:func:`where_clause`);
when a shape's statement is first built, the values its build bound are compared with those the
shape walk listed, and a difference is refused (:class:`RuntimeError`, a defect) before anything
runs. ``tests/test_sqlalchemy_shapes.py`` checks, for generated selections, that a statement
reused for another selection of its shape selects exactly what one built for it selects.

Needs the ``privacy-kit[sqlalchemy]`` extra (imported by :mod:`._sqlalchemy` only).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Protocol

import sqlalchemy as sa

from ..model._datamap import RecordType
from ._blocks import BlockRange
from ._selection import After, All, And, Before, Eq, In, IsNull, Not, Or, Related, Selection
from ._sqlalchemy_blocks import block_condition
from ._sqlalchemy_cache import _Bounded
from ._sqlalchemy_in import _NOTHING, Binder, in_clause, in_form

__all__ = ["MAX_SHAPES", "cached", "shape_of", "where_clause"]

MAX_SHAPES = 2_000
"""Statements kept per process, one per shape (a data map's sweeps and erasures use tens)."""

_STATEMENTS = _Bounded(MAX_SHAPES)


class Tables(Protocol):
    """What these functions use of the adapter."""

    engine: sa.Engine

    def table(self, record_type: RecordType) -> sa.Table: ...

    def _column(self, table: sa.Table, field: str) -> sa.Column[Any]: ...


def where_clause(
    adapter: Tables, table: sa.Table, selection: Selection, binder: Binder
) -> sa.ColumnElement[bool]:
    """``selection`` as a condition on ``table``, its values bound by ``binder`` in the order
    :func:`shape_of` lists them."""
    dialect = adapter.engine.dialect.name

    def walk(sel: Selection, table: sa.Table) -> sa.ColumnElement[bool]:
        if isinstance(sel, All):
            return sa.true()
        if isinstance(sel, Eq):
            column = adapter._column(table, sel.field)
            # A bound parameter even for None: ``= NULL`` is unknown in SQL, which is the
            # selection's meaning (``column == None`` would turn into ``IS NULL``).
            return column == binder.bind(sel.value, column.type)
        if isinstance(sel, In):
            column = adapter._column(table, sel.field)
            form, value = in_form(column, sel.values, dialect=dialect)
            return in_clause(column, form, value, binder)
        if isinstance(sel, Before):
            column = adapter._column(table, sel.field)
            bound = binder.bind(sel.instant, column.type)
            return column <= bound if sel.inclusive else column < bound
        if isinstance(sel, After):
            column = adapter._column(table, sel.field)
            bound = binder.bind(sel.instant, column.type)
            return column >= bound if sel.inclusive else column > bound
        if isinstance(sel, IsNull):
            return adapter._column(table, sel.field).is_(None)
        if isinstance(sel, And):
            return sa.and_(sa.true(), *(walk(item, table) for item in sel.items))
        if isinstance(sel, Or):
            return sa.or_(sa.false(), *(walk(item, table) for item in sel.items))
        if isinstance(sel, Not):
            return sa.not_(walk(sel.item, table))
        if isinstance(sel, Related):
            # ``SELECT key FROM other WHERE ...``, never correlated: the sub-select keeps its own
            # ``FROM`` even when the other record type is the outer statement's table, so it
            # reads the rows as they are when the statement runs.
            other = adapter.table(sel.record_type)
            key = adapter._column(other, sel.key)
            inner = sa.select(key).where(walk(sel.selection, other)).correlate(None)
            return adapter._column(table, sel.field).in_(inner)
        if isinstance(sel, BlockRange):
            return block_condition(dialect, sel)
        raise TypeError(f"cannot compile selection {sel!r} to SQL")

    return walk(selection, table)


def shape_of(adapter: Tables, table: sa.Table, selection: Selection, values: list[Any]) -> Hashable:
    """The shape of ``selection`` on ``table`` (hashable); its values appended to ``values`` in
    the order :func:`where_clause` binds them.

    Example:
        >>> import sqlalchemy as sa
        >>> from privacy_kit.adapters import where
        >>> class Adapter:
        ...     engine = sa.create_engine("sqlite://")
        ...     def _column(self, table, field):
        ...         return table.c[field]
        >>> t = sa.Table("t", sa.MetaData(), sa.Column("a", sa.Integer), sa.Column("b", sa.Text))
        >>> values = []
        >>> one = shape_of(Adapter(), t, where.eq("a", 1) & where.eq("b", "x"), values)
        >>> values
        [1, 'x']
        >>> one == shape_of(Adapter(), t, where.eq("a", 2) & where.eq("b", "y"), [])
        True
    """
    dialect = adapter.engine.dialect.name

    def walk(sel: Selection, table: sa.Table) -> Hashable:
        if isinstance(sel, All):
            return ("all",)
        if isinstance(sel, Eq):
            values.append(sel.value)
            return ("eq", sel.field)
        if isinstance(sel, In):
            column = adapter._column(table, sel.field)
            form, value = in_form(column, sel.values, dialect=dialect)
            if value is not _NOTHING:
                values.append(value)
            return ("in", sel.field, form)
        if isinstance(sel, Before):
            values.append(sel.instant)
            return ("before", sel.field, sel.inclusive)
        if isinstance(sel, After):
            values.append(sel.instant)
            return ("after", sel.field, sel.inclusive)
        if isinstance(sel, IsNull):
            return ("null", sel.field)
        if isinstance(sel, And):
            return ("and", *(walk(item, table) for item in sel.items))
        if isinstance(sel, Or):
            return ("or", *(walk(item, table) for item in sel.items))
        if isinstance(sel, Not):
            return ("not", walk(sel.item, table))
        if isinstance(sel, Related):
            other = adapter.table(sel.record_type)
            return ("related", sel.field, other, sel.key, walk(sel.selection, other))
        if isinstance(sel, BlockRange):
            return ("blocks", sel.start, sel.end)
        raise TypeError(f"cannot compile selection {sel!r} to SQL")

    return ("shape", dialect, table, walk(selection, table))


def cached(
    key: Hashable, values: list[Any], build: Callable[[Binder], Any]
) -> tuple[Any, dict[str, Any]]:
    """The statement of ``key`` (a shape, with what else the statement depends on), built by
    ``build`` the first time, and the parameters that bind ``values`` to it.

    Raises:
        RuntimeError: the first build bound other values than ``values`` (a defect: the shape
            walk and the build disagree); nothing is cached or run.
    """
    statement = _STATEMENTS.get(key)
    if statement is None:
        binder = Binder(named=True)
        statement = build(binder)
        if len(binder.values) != len(values) or any(
            a is not b and a != b for a, b in zip(binder.values, values, strict=True)
        ):
            raise RuntimeError(
                f"privacy_kit defect: a statement bound {len(binder.values)} value(s) in "
                f"another order than its shape lists ({len(values)}); nothing was run"
            )
        _STATEMENTS[key] = statement
    return statement, {f"pk_{i}": value for i, value in enumerate(values)}
