"""The in-memory adapter: the reference implementation, and the test double downstream projects use.

Records live in plain lists of dicts, one list per table, held by the instance (never at class
level). Selections are evaluated with their own three-valued semantics, which the SQL adapters
are tested to agree with.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from .._errors import Problem
from ..model._datamap import DataMap, RecordType
from ..model._order import ForeignKey
from ._base import (
    BaseAdapter,
    Capability,
    Record,
    RecordKey,
    check_batch_size,
    missing_problems,
)
from ._selection import Related, Selection, bind_related, has_related

__all__ = ["InMemoryAdapter"]


class InMemoryAdapter(BaseAdapter):
    """Records held in memory: ``{table name: [record, ...]}``.

    Args:
        tables: initial records per table name (copied; the caller's dicts are never mutated).
        name: shown in errors.
        store: the data-map store this adapter serves (``None``: any).

    Example:
        >>> import privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter, where
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> users = dm.record_type("users")
        >>> mem = InMemoryAdapter({"users": [{"id": 1, "email": "a@example.com"}]})
        >>> mem.count(users, where.eq("id", 1))
        1
        >>> mem.update(users, where.eq("id", 1), {"email": None})
        1
        >>> mem.rows("users")
        [{'id': 1, 'email': None}]
    """

    capabilities = frozenset(
        {
            Capability.COUNT,
            Capability.BULK_UPDATE_BY_KEY,
            Capability.TRANSACTIONS,
            Capability.FOREIGN_KEYS,
            Capability.RELATED,
            Capability.ATOMIC,
        }
    )

    def __init__(
        self,
        tables: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
        *,
        name: str | None = None,
        store: str | None = None,
    ) -> None:
        super().__init__(name=name, store=store)
        self.tables: dict[str, list[Record]] = {
            table: [dict(row) for row in rows] for table, rows in (tables or {}).items()
        }

    def rows(self, table: str) -> list[Record]:
        """A deep copy of every record of ``table`` (for assertions)."""
        return copy.deepcopy(self.tables.get(table, []))

    def insert(
        self,
        record_type: RecordType | str,
        records: Iterable[Mapping[str, Any]],
        *,
        batch_size: int = 1000,
    ) -> int:
        """Append records to the record type's table (created if new); return how many.

        Args:
            record_type: the record type, or a bare table name.
            records: the records (copied).
            batch_size: accepted for symmetry with the SQL adapters (memory needs no batches).

        Example:
            >>> mem = InMemoryAdapter()
            >>> mem.insert("users", [{"id": 1}, {"id": 2}])
            2
        """
        check_batch_size(batch_size)
        table = record_type.table_name if isinstance(record_type, RecordType) else record_type
        target = self.tables.setdefault(table, [])
        before = len(target)
        target.extend(_copy(r) for r in records)
        return len(target) - before

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Run the writes of the block as one (``Capability.ATOMIC``): when it raises, every
        table is put back as it was when the block began.

        Example:
            >>> mem = InMemoryAdapter({"t": [{"id": 1}]})
            >>> try:
            ...     with mem.atomic():
            ...         mem.tables["t"].clear()
            ...         raise OSError("disk full")
            ... except OSError:
            ...     pass
            >>> mem.rows("t")
            [{'id': 1}]
        """
        saved = {table: [_copy(r) for r in rows] for table, rows in self.tables.items()}
        try:
            yield
        except BaseException:
            for table in set(self.tables) - set(saved):
                del self.tables[table]
            for table, rows in saved.items():  # in place: lists handed out stay the tables
                self.tables.setdefault(table, [])[:] = rows
            raise

    def _table(self, record_type: RecordType, operation: str) -> list[Record]:
        with self.wrap_errors(operation, record_type):
            try:
                return self.tables[record_type.table_name]
            except KeyError:
                raise LookupError(f"no table {record_type.table_name!r}") from None

    def _bound(self, record_type: RecordType, selection: Selection, operation: str) -> Selection:
        """``selection`` with each ``Related`` read from its table now (the statement's time)."""
        if not has_related(selection):
            return selection

        def keys(related: Related) -> list[Any]:
            inner = bind_related(related.selection, keys)
            try:
                rows = self.tables[related.record_type.table_name]
            except KeyError:
                raise LookupError(
                    f"no table {related.record_type.table_name!r} (read by a Related selection)"
                ) from None
            return [row.get(related.key) for row in rows if inner.matches(row)]

        with self.wrap_errors(operation, record_type):
            return bind_related(selection, keys)

    def iter_records(
        self,
        record_type: RecordType,
        selection: Selection,
        *,
        fields: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[list[Record]]:
        """Yield matching records (copies, restricted to ``fields`` if given) in batches."""
        check_batch_size(batch_size)
        table = self._table(record_type, "read")
        selection = self._bound(record_type, selection, "read")
        batch: list[Record] = []
        # A snapshot of the matches, so a caller may delete while iterating.
        for row in [r for r in table if selection.matches(r)]:
            batch.append(
                {f: copy.deepcopy(row.get(f)) for f in fields}
                if fields is not None
                else copy.deepcopy(row)
            )
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def count(self, record_type: RecordType, selection: Selection) -> int:
        """How many records match."""
        table = self._table(record_type, "count")
        selection = self._bound(record_type, selection, "count")
        return sum(1 for r in table if selection.matches(r))

    def delete(
        self, record_type: RecordType, selection: Selection, *, batch_size: int | None = None
    ) -> int:
        """Delete matching records; return the count (``batch_size`` is checked, not needed)."""
        check_batch_size(batch_size)
        table = self._table(record_type, "delete")
        selection = self._bound(record_type, selection, "delete")
        keep = [r for r in table if not selection.matches(r)]
        deleted = len(table) - len(keep)
        table[:] = keep
        return deleted

    def update(
        self,
        record_type: RecordType,
        selection: Selection,
        values: Mapping[str, Any],
        *,
        batch_size: int | None = None,
    ) -> int:
        """Set constant ``values`` on matching records; return the count."""
        check_batch_size(batch_size)
        table = self._table(record_type, "update")
        selection = self._bound(record_type, selection, "update")
        matched = [r for r in table if selection.matches(r)]
        for row in matched:
            row.update(copy.deepcopy(dict(values)))
        return len(matched)

    def update_by_key(
        self,
        record_type: RecordType,
        changes: Sequence[tuple[RecordKey, Mapping[str, Any]]],
        *,
        batch_size: int = 1000,
    ) -> int:
        """Write per-record values by primary key; return how many records were found."""
        check_batch_size(batch_size)
        table = self._table(record_type, "update_by_key")
        pk = record_type.primary_key
        index = {row.get(pk): row for row in table}
        updated = 0
        for key, values in changes:
            row = index.get(key)
            if row is not None:
                row.update(copy.deepcopy(dict(values)))
                updated += 1
        return updated

    def foreign_keys(self, record_types: Sequence[RecordType]) -> tuple[ForeignKey, ...]:
        """None: records in memory reference nothing the store enforces (so it can tell: none)."""
        return ()

    def verify(self, datamap: DataMap) -> list[Problem]:
        """Tables must exist; a table's columns are the union of its records' keys (if any)."""
        existing: dict[str, set[str] | None] = {}
        for rt in datamap.record_types:
            rows = self.tables.get(rt.table_name)
            if rows is None:
                existing[rt.table_name] = None
            elif rows:
                existing[rt.table_name] = set().union(*(r.keys() for r in rows))
            else:  # an empty table has no known columns: accept every declared field
                existing[rt.table_name] = set(rt.field_names)
        return missing_problems(datamap, self.store, existing)


def _copy(record: Mapping[str, Any]) -> Record:
    # Deep-copy only mutable values (JSON fields): a full deepcopy per record is slow at scale.
    return {
        k: copy.deepcopy(v) if isinstance(v, dict | list | set) else v for k, v in record.items()
    }
