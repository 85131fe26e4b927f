"""Foreign keys read in one small query per dialect (the SQLAlchemy adapter's): PostgreSQL's
catalog, MariaDB/MySQL's ``information_schema``, elsewhere SQLAlchemy's inspector.

SQLAlchemy's inspector (``get_multi_foreign_keys``) reflects every constraint of the schema and
parses its definition: about 10 ms on a fresh engine, paid by every plan (plans order their
deletes by the store's foreign keys). Reading ``pg_constraint`` directly for the tables a data
map names takes one round trip. Keys are read on every call, never cached: a foreign key added
while an adapter is open (say, one that cascades) must change the order of the next plan.

Needs the ``privacy-kit[sqlalchemy]`` extra (imported by :mod:`._sqlalchemy` only).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

__all__ = ["FkRow", "inspected_foreign_keys", "mysql_foreign_keys", "postgres_foreign_keys"]

#: ``(table, referenced table, columns, referenced columns)``.
FkRow = tuple[str, str, list[str], list[str]]

_QUERY = sa.text(
    "SELECT child.relname, parent.relname, "
    "ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(num, pos) "
    "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num ORDER BY k.pos), "
    "ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY AS k(num, pos) "
    "JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num ORDER BY k.pos) "
    "FROM pg_constraint c "
    "JOIN pg_class child ON child.oid = c.conrelid "
    "JOIN pg_class parent ON parent.oid = c.confrelid "
    "JOIN pg_namespace ns ON ns.oid = child.relnamespace "
    "WHERE c.contype = 'f' AND ns.nspname = COALESCE(:schema, current_schema()) "
    "AND parent.relnamespace = child.relnamespace AND child.relname = ANY(:names) "
    "ORDER BY child.relname, c.conname"
)


def postgres_foreign_keys(
    conn: sa.Connection, schema: str | None, tables: Sequence[str]
) -> list[FkRow]:
    """``(table, referenced table, columns, referenced columns)`` for each foreign key of
    ``tables`` in ``schema`` (``None``: the current schema) that references a table of the same
    schema."""
    rows = conn.execute(_QUERY, {"schema": schema, "names": list(tables)})
    return [(child, parent, list(cols), list(refs)) for child, parent, cols, refs in rows]


_MYSQL_QUERY = sa.text(
    "SELECT CONSTRAINT_NAME, TABLE_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, "
    "REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
    "WHERE TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME IN :names "
    "AND REFERENCED_TABLE_SCHEMA = TABLE_SCHEMA "
    "AND REFERENCED_TABLE_NAME IS NOT NULL "
    "ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION"
).bindparams(sa.bindparam("names", expanding=True))


def mysql_foreign_keys(
    conn: sa.Connection, schema: str | None, tables: Sequence[str]
) -> list[FkRow]:
    """The foreign keys of ``tables`` on MariaDB/MySQL (``information_schema``, one query), as
    :func:`postgres_foreign_keys` gives them (composite keys' columns in their order). Only
    ``tables``' rows are read: MariaDB then opens only their definitions."""
    wanted = set(tables)
    if not wanted:
        return []
    grouped: dict[tuple[str, str], tuple[str, list[str], list[str]]] = {}
    for constraint, table, column, parent, referenced in conn.execute(
        _MYSQL_QUERY, {"schema": schema, "names": sorted(wanted)}
    ):
        if table in wanted:
            entry = grouped.setdefault((table, constraint), (parent, [], []))
            entry[1].append(column)
            entry[2].append(referenced)
    return [(t, p, c, r) for (t, _), (p, c, r) in grouped.items()]


def inspected_foreign_keys(
    conn: sa.Connection, schema: str | None, tables: Sequence[str]
) -> list[FkRow]:
    """The foreign keys of ``tables`` through SQLAlchemy's inspector (any other dialect), keys
    to another schema left out."""
    found = sa.inspect(conn).get_multi_foreign_keys(schema=schema, filter_names=list(tables))
    return [
        (
            table,
            key["referred_table"],
            list(key["constrained_columns"]),
            list(key["referred_columns"]),
        )
        for (_, table), keys in found.items()
        for key in keys
        if key.get("referred_schema") in (None, schema)
    ]
