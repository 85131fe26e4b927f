"""Foreign keys read from PostgreSQL's catalog in one small query (the SQLAlchemy adapter's).

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

__all__ = ["postgres_foreign_keys"]

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
) -> list[tuple[str, str, list[str], list[str]]]:
    """``(table, referenced table, columns, referenced columns)`` for each foreign key of
    ``tables`` in ``schema`` (``None``: the current schema) that references a table of the same
    schema."""
    rows = conn.execute(_QUERY, {"schema": schema, "names": list(tables)})
    return [(child, parent, list(cols), list(refs)) for child, parent, cols, refs in rows]
