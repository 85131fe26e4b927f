"""Whole partitions for the SQLAlchemy adapter on PostgreSQL: which a delete covers, and removing them.

A partition is removed whole only when every record it holds is selected: the table is
range-partitioned on one ``timestamp with time zone`` column (its default ordering), the
selection is bounds on that column (:func:`~._partition.time_range`), the partition's bounds,
read from ``pg_inherits`` and ``pg_get_expr(relpartbound)``, lie inside them, and, where the
selection also leaves records out (``NOT held``: a legal hold), no record of the partition is
left out: one ``SELECT EXISTS`` per candidate partition (``WHERE (NOT held) IS NOT TRUE``),
run again under the locks before it goes.
The comparison runs in the database, on the bounds as it states them, so the session's time zone
and date style never matter; a partition ``FROM (a) TO (b)`` holds values ``< b``, so
``end_at <= cutoff`` covers it when ``b - 1 microsecond <= cutoff`` (microseconds are the
resolution of the type). A ``DEFAULT`` partition (it holds the NULLs and whatever no range takes),
a sub-partitioned or foreign partition, and any table or partition where removing it would not
equal ``DELETE`` of its rows (a foreign key referencing it, DELETE or TRUNCATE triggers, rules on
DELETE, row-level security, a publication for logical replication) or where the role lacks the
right (ownership for ``DETACH``/``DROP``, the ``TRUNCATE`` privilege) are never removed: their
records go by the ordinary delete, and the survey says why.

Removing is one transaction per partition: lock the parent (``ACCESS EXCLUSIVE`` to drop, ``ACCESS
SHARE`` to truncate) then the partition (``ACCESS EXCLUSIVE``), in the order PostgreSQL's own
statements take them, within the adapter's ``partition_lock_timeout`` (:data:`LOCK_TIMEOUT`
by default); survey that partition again under the locks
(so a concurrent detach, re-attach or new constraint cannot make it wrong); count its rows
(exact: no one can write to it); then ``ALTER TABLE ... DETACH PARTITION`` and ``DROP TABLE``, or
``TRUNCATE``. A partition that fails any of this is left in place, and named with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import attrs
import sqlalchemy as sa

from .._errors import ConfigurationError
from ..model._datamap import RecordType
from ._partition import (
    Partition,
    PartitionDrops,
    PartitionMode,
    PartitionSurvey,
    TimeRange,
    time_range,
)
from ._selection import Before, Selection
from ._sql import quote_identifier
from ._sqlalchemy_conn import ConnectionSeam

__all__ = ["LOCK_TIMEOUT", "PartitionAware", "lock_timeout", "partition_mode"]

LOCK_TIMEOUT = 5.0
"""Seconds removing a partition waits for its locks by default (``SET LOCAL lock_timeout``;
``SQLAlchemyAdapter(partition_lock_timeout=...)`` sets another). Waiting for ``ACCESS
EXCLUSIVE`` queues the application's statements on the table behind it, so the wait is short; on
timeout the partition's records go by the ordinary delete instead."""


def lock_timeout(value: float | None) -> float:
    """The adapter's ``partition_lock_timeout`` in seconds (``None``: :data:`LOCK_TIMEOUT`).

    Raises:
        ConfigurationError: not a positive number of seconds (at least a millisecond).

    Example:
        >>> lock_timeout(None), lock_timeout(0.25)
        (5.0, 0.25)
    """
    if value is None:
        return LOCK_TIMEOUT
    given: object = value  # a host's configuration may pass anything
    if isinstance(given, bool) or not isinstance(given, int | float) or not given >= 0.001:
        raise ConfigurationError(
            f"SQLAlchemyAdapter(partition_lock_timeout={value!r}): expected seconds, at least "
            "0.001 (PostgreSQL counts lock_timeout in milliseconds)"
        )
    return float(value)


_MODES = ("drop", "truncate", "off")
_LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE lock_not_available: lock_timeout expired


def partition_mode(value: PartitionMode | None, dialect: str) -> PartitionMode:
    """The adapter's partition mode: ``None`` is ``drop`` on PostgreSQL and ``off`` elsewhere.

    Raises:
        ConfigurationError: an unknown mode, or ``drop``/``truncate`` on another database.

    Example:
        >>> partition_mode(None, "postgresql"), partition_mode(None, "sqlite")
        ('drop', 'off')
        >>> partition_mode("truncate", "sqlite")
        Traceback (most recent call last):
        ...
        privacy_kit._errors.ConfigurationError: SQLAlchemyAdapter(partitions='truncate') needs PostgreSQL, not sqlite (pass partitions='off' or leave it out)
    """
    if value is None:
        return "drop" if dialect == "postgresql" else "off"
    if value not in _MODES:
        raise ConfigurationError(
            f"SQLAlchemyAdapter(partitions={value!r}): expected one of {', '.join(_MODES)}"
        )
    if value != "off" and dialect != "postgresql":
        raise ConfigurationError(
            f"SQLAlchemyAdapter(partitions={value!r}) needs PostgreSQL, not {dialect} "
            "(pass partitions='off' or leave it out)"
        )
    return value


def _blockers(rel: str, nsp: str) -> str:
    """Columns saying why removing ``rel`` would not equal deleting its rows (or is not allowed)."""
    return (
        f"{rel}.relrowsecurity AS row_security, "
        f"EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' "
        f"AND f.confrelid = {rel}.oid) AS referenced, "
        f"EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = {rel}.oid "
        f"AND NOT g.tgisinternal AND (g.tgtype & 40) <> 0) AS triggers, "  # 8 DELETE, 32 TRUNCATE
        f"EXISTS (SELECT 1 FROM pg_rewrite w WHERE w.ev_class = {rel}.oid "
        f"AND w.ev_type = '4') AS rules, "
        f"EXISTS (SELECT 1 FROM pg_publication_tables b WHERE b.schemaname = {nsp}.nspname "
        f"AND b.tablename = {rel}.relname) AS published, "
        f"pg_has_role({rel}.relowner, 'USAGE') AS owned, "
        f"has_table_privilege({rel}.oid, 'TRUNCATE') AS truncatable"
    )


_PARENT = sa.text(
    "SELECT p.oid, p.relkind, n.nspname, pt.partstrat, pt.partnatts, a.attname, "
    "a.atttypid = 'timestamptz'::regtype AS timestamptz, "
    "COALESCE(oc.opcdefault AND oc.opcintype = 'timestamptz'::regtype, false) AS default_order, "
    + _blockers("p", "n")
    + " FROM pg_class p JOIN pg_namespace n ON n.oid = p.relnamespace "
    "LEFT JOIN pg_partitioned_table pt ON pt.partrelid = p.oid "
    "LEFT JOIN pg_attribute a ON a.attrelid = p.oid AND a.attnum = pt.partattrs[0] "
    "LEFT JOIN pg_opclass oc ON oc.oid = pt.partclass[0] "
    "WHERE p.oid = CAST(:table AS regclass)"
)

_CHILDREN = (
    "SELECT c.oid, n.nspname, c.relname, c.relkind, pg_get_expr(c.relpartbound, c.oid) AS bound, "
    # PostgreSQL 14+: a partition whose DETACH ... CONCURRENTLY has begun is no longer the
    # table's to the DELETE (read through JSON, so older servers, which lack it, read false)
    "COALESCE((to_jsonb(i) ->> 'inhdetachpending')::boolean, false) AS detaching, "
    + _blockers("c", "n")
    + " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE i.inhparent = :parent"
)

_LITERAL = r"MINVALUE|MAXVALUE|'(?:[^']|'')*'"
_RANGE = re.compile(rf"FOR VALUES FROM \(({_LITERAL})\) TO \(({_LITERAL})\)", re.DOTALL)


def _bound(text: str, unbounded: str) -> str | None:
    """A bound's literal text (``None``: ``unbounded``, i.e. MINVALUE below, MAXVALUE above)."""
    return None if text == unbounded else text[1:-1].replace("''", "'")


class _Candidate(NamedTuple):
    name: str  # shown
    sql: str  # quoted, schema-qualified
    bounds: str
    lower: str | None
    upper: str | None


class _Found(NamedTuple):
    survey: PartitionSurvey
    candidates: tuple[_Candidate, ...]


def _why_not(row: Any, name: str, mode: PartitionMode) -> str | None:
    """Why removing ``name`` (a catalog row with :func:`_blockers`' columns) is ruled out."""
    if row.row_security:
        return f"row-level security is enabled on {name} (a DELETE removes only what it may see)"
    if row.referenced:
        return f"a foreign key references {name}"
    if row.triggers:
        return f"{name} has DELETE or TRUNCATE triggers, which removing a partition would bypass"
    if row.rules:
        return f"{name} has rules on DELETE"
    if row.published:
        return f"{name} is published for logical replication (subscribers would keep the rows)"
    if mode == "drop" and not row.owned:
        return f"the database role does not own {name} (DETACH and DROP need its owner)"
    if mode == "truncate" and not row.truncatable:
        return f"the database role may not TRUNCATE {name}"
    return None


Keeps = Callable[[sa.Connection, Any, tuple[Selection, ...]], bool]
"""Whether a partition (its catalog row: ``nspname``, ``relname``) holds a record one of the
excluded terms leaves out (one statement)."""


def _survey(
    conn: sa.Connection,
    table: tuple[str, str],
    selection: Selection,
    mode: PartitionMode,
    *,
    only: str | None = None,
    keeps: Keeps | None = None,
) -> _Found | None:
    """The survey of ``table`` (its quoted name, and the name shown) for ``selection``;
    ``None``: the table is not partitioned. ``only``: survey that one partition. ``keeps``:
    checks a partition for records the selection's ``NOT`` terms leave out (``None``: such a
    selection removes no partition)."""
    table_sql, shown = table
    parent = conn.execute(_PARENT, {"table": table_sql}).one()
    if parent.relkind != "p":
        return None
    key = parent.attname if parent.partnatts == 1 else None

    def ruled_out(reason: str) -> _Found:
        return _Found(PartitionSurvey(shown, key, reason=reason), ())

    if mode == "off":
        return ruled_out("the adapter was made with partitions='off'")
    if parent.partstrat != "r":
        kind = {"l": "list", "h": "hash"}.get(parent.partstrat, parent.partstrat)
        return ruled_out(f"it is partitioned by {kind}, not by range")
    if key is None:
        return ruled_out("its partition key is not a single column")
    if not parent.timestamptz or not parent.default_order:
        return ruled_out(f"its partition key {key} is not a timestamp with time zone in its order")
    wanted = time_range(selection, exclusions=keeps is not None)
    if isinstance(wanted, str):
        return ruled_out(wanted)
    if wanted.field != key:
        return ruled_out(f"the selection is a range on {wanted.field}, not on {key}")
    blocked = _why_not(parent, shown, mode)
    if blocked is not None:
        return ruled_out(blocked)
    query = _CHILDREN + (" AND c.oid = CAST(:only AS regclass)" if only else "")
    params: dict[str, Any] = {"parent": parent.oid} | ({"only": only} if only else {})
    kept: list[tuple[str, str]] = []
    ranged: list[tuple[_Candidate, Any]] = []
    for row in conn.execute(sa.text(query), params):
        name = row.relname if row.nspname == parent.nspname else f"{row.nspname}.{row.relname}"
        if row.bound == "DEFAULT":
            continue
        found = _RANGE.fullmatch(row.bound or "")
        if found is None or found[1] == "MAXVALUE" or found[2] == "MINVALUE":
            kept.append((name, f"its bounds could not be read ({row.bound})"))
            continue
        lower, upper = _bound(found[1], "MINVALUE"), _bound(found[2], "MAXVALUE")
        qualified = quote_identifier(row.nspname) + "." + quote_identifier(row.relname)
        bounds = row.bound.removeprefix("FOR VALUES ")
        ranged.append((_Candidate(name, qualified, bounds, lower, upper), row))
    whole: list[_Candidate] = []
    for index in _inside(conn, [c for c, _ in ranged], wanted):
        candidate, row = ranged[index]
        blocked = None
        if row.detaching:
            blocked = "it is being detached"
        elif row.relkind != "r":
            blocked = "it is partitioned itself" if row.relkind == "p" else "it is not a table"
        blocked = blocked or _why_not(row, candidate.name, mode)
        if (
            blocked is None
            and wanted.excluded
            and keeps is not None
            and keeps(conn, row, wanted.excluded)
        ):
            blocked = "it holds records the step leaves out (under a legal hold)"
        if blocked is None:
            whole.append(candidate)
        else:
            kept.append((candidate.name, blocked))
    partitions = tuple(Partition(c.name, c.bounds, 0, mode) for c in whole)
    survey = PartitionSurvey(shown, key, partitions, None, tuple(kept))
    return _Found(survey, tuple(whole))


def _inside(conn: sa.Connection, candidates: Sequence[_Candidate], wanted: TimeRange) -> list[int]:
    """The indexes of the candidates whose bounds lie inside ``wanted``, in bound order.

    ``FROM (lo) TO (hi)`` holds ``lo <= v < hi``; an unbounded side is NULL, so a bound it
    would need is unknown and the candidate is left out.
    """
    if not candidates:
        return []
    params: dict[str, Any] = {}
    values = []
    for i, c in enumerate(candidates):
        values.append(f"({i}, CAST(:lo{i} AS timestamptz), CAST(:hi{i} AS timestamptz))")
        params[f"lo{i}"], params[f"hi{i}"] = c.lower, c.upper
    tests = []
    for k, bound in enumerate(wanted.bounds):
        params[f"at{k}"] = bound.instant
        if isinstance(bound, Before):
            tests.append(
                f"v.hi - interval '1 microsecond' <= :at{k}"
                if bound.inclusive
                else f"v.hi <= :at{k}"
            )
        else:
            tests.append(f"v.lo >= :at{k}" if bound.inclusive else f"v.lo > :at{k}")
    query = (
        f"SELECT v.i FROM (VALUES {', '.join(values)}) AS v(i, lo, hi) "
        f"WHERE {' AND '.join(tests)} ORDER BY v.lo NULLS FIRST, v.i"
    )
    return [int(i) for i in conn.execute(sa.text(query), params).scalars()]


def _count(conn: sa.Connection, candidate: _Candidate) -> int:
    return int(conn.execute(sa.text(f"SELECT count(*) FROM ONLY {candidate.sql}")).scalar_one())


class PartitionAware(ConnectionSeam):
    """The partition methods of :class:`~privacy_kit.adapters.SQLAlchemyAdapter` (see the module).

    A base class of its own keeps the adapter's module short; ``partitions`` is the adapter's
    mode (:func:`partition_mode`).
    """

    engine: sa.Engine
    partitions: PartitionMode
    partition_lock_timeout: float = LOCK_TIMEOUT

    def table(self, record_type: RecordType) -> sa.Table:
        """The table of ``record_type`` (the adapter's)."""
        raise NotImplementedError

    def _where(self, table: sa.Table, selection: Selection) -> sa.ColumnElement[bool]:
        raise NotImplementedError  # the adapter's compiler

    def _keeps(self, record_type: RecordType) -> Keeps:
        """A :data:`Keeps` for ``record_type``'s partitions: ``SELECT EXISTS (SELECT 1 FROM
        partition WHERE (excluded AND ...) IS NOT TRUE)``, compiled on a copy of the table's
        description under the partition's name (a leaf partition has no children)."""
        parent = self.table(record_type)

        def keeps(conn: sa.Connection, row: Any, excluded: tuple[Selection, ...]) -> bool:
            part = parent.to_metadata(sa.MetaData(), schema=row.nspname, name=row.relname)
            left_out = sa.and_(*(self._where(part, term) for term in excluded)).is_not(sa.true())
            query = sa.select(sa.exists(sa.select(sa.literal(1)).select_from(part).where(left_out)))
            return bool(conn.execute(query).scalar_one())

        return keeps

    def _table_sql(self, record_type: RecordType) -> tuple[str, str]:
        """The table's quoted (schema-qualified) name, and its name as shown."""
        table = self.table(record_type)
        return str(self.engine.dialect.identifier_preparer.format_table(table)), table.name

    def partitioned(self, record_types: Sequence[RecordType]) -> frozenset[str]:
        """The names of those of ``record_types`` whose table is partitioned: one catalog read
        (a plan asks once, and surveys only those).

        Example:
            >>> import privacy_kit as pk
            >>> from privacy_kit.adapters import SQLAlchemyAdapter
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> with SQLAlchemyAdapter("sqlite://") as db:
            ...     db.partitioned(dm.record_types)
            frozenset()
        """
        if self.engine.dialect.name != "postgresql" or not record_types:
            return frozenset()
        tables = {self._table_sql(rt)[0]: rt.name for rt in record_types}
        query = sa.text(
            "SELECT n FROM unnest(CAST(:names AS text[])) AS n WHERE EXISTS "
            "(SELECT 1 FROM pg_partitioned_table p WHERE p.partrelid = to_regclass(n))"
        )
        with self.wrap_errors("partitioned"), self._connect() as conn:
            found = conn.execute(query, {"names": list(tables)}).scalars().all()
        return frozenset(tables[t] for t in found)

    def partition_survey(
        self, record_type: RecordType, selection: Selection, *, count: bool = True
    ) -> PartitionSurvey | None:
        """Which partitions of ``record_type``'s table a delete of ``selection`` covers whole.

        Reads the catalogs (and, with ``count``, each such partition's rows); changes nothing.

        Returns:
            ``None`` when the table is not partitioned (or the database is not PostgreSQL);
            otherwise the survey: the partitions that would go whole, or why none can, and the
            partitions inside the range that would still go row by row, with the reasons.

        Example:
            >>> import privacy_kit as pk
            >>> from privacy_kit.adapters import SQLAlchemyAdapter, where
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> with SQLAlchemyAdapter("sqlite://") as db:
            ...     db.partition_survey(dm.record_type("bookings"), where.all()) is None
            True
        """
        if self.engine.dialect.name != "postgresql":
            return None
        with self.wrap_errors("partition_survey", record_type), self._connect() as conn:
            table = self._table_sql(record_type)
            keeps = self._keeps(record_type)
            found = _survey(conn, table, selection, self.partitions, keeps=keeps)
            if found is None:
                return None
            if not count:
                return found.survey
            return attrs.evolve(
                found.survey,
                whole=tuple(
                    attrs.evolve(p, rows=_count(conn, c))
                    for p, c in zip(found.survey.whole, found.candidates, strict=True)
                ),
            )

    def drop_partitions(self, record_type: RecordType, selection: Selection) -> PartitionDrops:
        """Remove whole the partitions a delete of ``selection`` covers (the adapter's mode).

        Each partition is locked, surveyed again and counted inside the transaction that
        detaches and drops (or truncates) it; the records of the partitions left in place, and
        of the partly covered ones, are for the ordinary :meth:`delete` that follows.

        Returns:
            What was removed (each partition with its exact row count) and what was left, why.
        """
        if self.partitions == "off" or self.engine.dialect.name != "postgresql":
            return PartitionDrops()
        if self.in_block():
            # Each removal locks the table and commits on its own: it cannot join a block.
            raise ConfigurationError(
                f"{self.name}: drop_partitions on {record_type.name} is refused inside an "
                "atomic() or reading() block (each partition is removed in its own transaction)"
            )
        with self.wrap_errors("drop_partitions", record_type):
            table = self._table_sql(record_type)
            keeps = self._keeps(record_type)
            with self._connect() as conn:
                found = _survey(conn, table, selection, self.partitions, keeps=keeps)
            if found is None:
                return PartitionDrops()
            dropped: list[Partition] = []
            kept = list(found.survey.kept)
            for index, candidate in enumerate(found.candidates):
                try:
                    outcome = self._remove(table, candidate, selection, keeps)
                except _TableBusy as busy:  # every other partition would wait for it too
                    kept.extend((c.name, str(busy)) for c in found.candidates[index:])
                    break
                if isinstance(outcome, str):
                    kept.append((candidate.name, outcome))
                else:
                    dropped.append(outcome)
            return PartitionDrops(tuple(dropped), tuple(kept))

    def _remove(
        self, table: tuple[str, str], candidate: _Candidate, selection: Selection, keeps: Keeps
    ) -> Partition | str:
        """Remove one partition in one transaction; what was removed, or why it was not (its
        survey, the check for excluded records included, made again under the locks)."""
        how = self.partitions
        if how == "off":
            return "the adapter was made with partitions='off'"
        try:
            with self._begin() as conn:
                _lock(conn, table, candidate.sql, how, self.partition_lock_timeout)
                again = _survey(conn, table, selection, how, only=candidate.sql, keeps=keeps)
                if again is None or candidate.sql not in {c.sql for c in again.candidates}:
                    reason = "it changed before it could be locked"
                    why = None if again is None else again.survey.reason
                    if again is not None and why is None:
                        why = next((w for n, w in again.survey.kept if n == candidate.name), None)
                    return reason + (f" ({why})" if why else "")
                rows = _count(conn, candidate)
                if how == "drop":
                    detach = f"ALTER TABLE {table[0]} DETACH PARTITION {candidate.sql}"
                    conn.execute(sa.text(detach))
                    conn.execute(sa.text(f"DROP TABLE {candidate.sql}"))
                else:
                    conn.execute(sa.text(f"TRUNCATE ONLY {candidate.sql}"))
        except sa.exc.DBAPIError as exc:
            if exc.connection_invalidated:
                raise
            detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            return f"could not {how} it: {type(exc.orig).__name__}: {detail}"
        return Partition(candidate.name, candidate.bounds, rows, how)


class _TableBusy(Exception):  # noqa: N818 - a signal between two methods, never raised further
    """The partitioned table stayed locked by another session for the whole lock timeout."""


def _lock(
    conn: sa.Connection, table: tuple[str, str], partition: str, how: str, timeout: float
) -> None:
    """Take the locks, the partitioned table first, then the partition, each within
    ``timeout`` seconds; :class:`_TableBusy` when the table's lock is not granted in time."""
    # a checked float (lock_timeout) written as whole milliseconds: SET takes no parameter
    conn.execute(sa.text(f"SET LOCAL lock_timeout = '{max(1, round(timeout * 1000))}ms'"))
    mode = "ACCESS EXCLUSIVE" if how == "drop" else "ACCESS SHARE"
    try:
        conn.execute(sa.text(f"LOCK TABLE ONLY {table[0]} IN {mode} MODE"))
    except sa.exc.OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        raise _TableBusy(
            f"{table[1]} stayed locked by another session for the lock timeout ({timeout:g} s)"
        ) from exc
    conn.execute(sa.text(f"LOCK TABLE ONLY {partition} IN ACCESS EXCLUSIVE MODE"))
