"""The adapter protocol: the few operations privacy_kit needs from a host application's store.

An adapter reads, counts, deletes and updates the records of a record type that match a
:class:`~privacy_kit.adapters.Selection`. Everything else (which records, which fields, which
anonymisation, what is kept and why) is decided by privacy_kit. Subclass :class:`BaseAdapter`
and implement four methods; capabilities you do not implement are declared, and callers fall
back (for example to one update per key) and say so.

Records are plain ``dict`` objects keyed by field name. Timestamps are timezone-aware
``datetime`` objects on the way in and on the way out, whatever the store keeps.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, cast, runtime_checkable

from .._errors import AdapterError, Problem, SchemaMismatchError
from ..model._datamap import DataMap, RecordType
from . import _statement_log

if TYPE_CHECKING:  # pragma: no cover - for type checkers only (made on use: see __init__)
    from ._selection import Selection

__all__ = [
    "WRITE_BATCH",
    "Adapter",
    "BaseAdapter",
    "Capability",
    "Record",
    "RecordKey",
    "batch_option",
    "check_batch_size",
    "count_each",
]


WRITE_BATCH = 10_000
"""Default records per read batch and accounts per ``IN`` list of sweeps and erasures.

Writes are not cut by it: a sweep or erasure calls ``delete`` and ``update`` without a
``batch_size`` unless the caller chose one, and each adapter then runs its own statement plan
(see :class:`Adapter`). Large enough that per-statement costs stay small next to the work,
small enough that an ``IN`` list of keys stays well under the 65,535 bound parameters
PostgreSQL and MariaDB allow.
"""


def check_batch_size(batch_size: int | None) -> None:
    """Refuse a batch size below 1 (shared by every built-in adapter; ``None``: no batches)."""
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")


Record = dict[str, Any]
RecordKey = Any


class Capability(enum.StrEnum):
    """Optional abilities an adapter may have; callers fall back where one is missing."""

    COUNT = "count"
    """Counts a selection in the store (without loading records)."""
    BULK_UPDATE_BY_KEY = "bulk_update_by_key"
    """Writes per-record computed values for many keys in one round trip per batch."""
    TRANSACTIONS = "transactions"
    """Each batch of a delete or update is atomic."""
    FOREIGN_KEYS = "foreign_keys"
    """Reports the store's foreign keys between record types (``foreign_keys(record_types)``),
    so erasures and sweeps delete children before the records they reference."""
    RELATED = "related"
    """Runs :class:`~privacy_kit.adapters.Related` selections (a sub-select on another record type
    of the same store) when the statement runs, so a sweep re-checks an account's state in the
    statement that deletes. Without it, sweeps fall back to the keys read before and say so."""
    TIME_BOUNDS = "time_bounds"
    """Cuts a time field's range over a selection into pieces of about equal size in one
    statement (``time_bounds(record_type, selection, field, pieces)``, see
    :func:`~privacy_kit.adapters.time_bounds`), which is how a sweep's shards are chosen. Without
    it, privacy_kit reads that one field itself and says so."""
    PARTITIONS = "partitions"
    """Removes whole the partitions a delete's selection covers entirely
    (``partition_survey(record_type, selection)`` and ``drop_partitions(record_type, selection)``,
    see :class:`~privacy_kit.adapters.PartitionSurvey`): sweeps ask it to before deleting the
    rest row by row. The SQLAlchemy adapter declares it on PostgreSQL only."""
    BLOCK_RANGES = "block_ranges"
    """Cuts a table into ranges of its storage blocks (``block_bounds(record_type, pieces)``)
    and runs :class:`~privacy_kit.adapters.BlockRange` selections reading only those blocks, so
    each shard of a sweep reads only its part of the table (see
    :func:`~privacy_kit.adapters.block_bounds`). The SQLAlchemy adapter declares it on PostgreSQL
    only."""
    ATOMIC = "atomic"
    """Runs several writes in ONE transaction: ``with adapter.atomic(): ...`` commits every
    ``delete``/``update``/``update_by_key`` called without ``batch_size`` inside the block together
    when it ends, and rolls all of them back when it raises (nothing is left open either way).
    Reads inside the block see its writes. Erasures group the steps of one store this way (see
    :func:`atomic_of`); without it, each write commits on its own, as before."""


@runtime_checkable
class Adapter(Protocol):
    """What privacy_kit calls on a store. See :class:`BaseAdapter` for the easy way to write one."""

    name: str
    capabilities: frozenset[Capability]

    def iter_records(
        self,
        record_type: RecordType,
        selection: Selection,
        *,
        fields: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[list[Record]]:
        """Yield the matching records in batches of at most ``batch_size``."""
        ...

    def count(self, record_type: RecordType, selection: Selection) -> int:
        """How many records match."""
        ...

    def delete(
        self, record_type: RecordType, selection: Selection, *, batch_size: int = ...
    ) -> int:
        """Delete the matching records; return how many were deleted.

        Called without ``batch_size`` (what sweeps and erasures do unless their plan was given
        one), the adapter runs its own best statement plan for the whole selection; with one,
        at most ``batch_size`` records per statement, each batch committed on its own. Either
        way deleting again what is already deleted changes and counts nothing, so a caller
        interrupted part-way runs the same call again.
        """
        ...

    def update(
        self,
        record_type: RecordType,
        selection: Selection,
        values: Mapping[str, Any],
        *,
        batch_size: int = ...,
    ) -> int:
        """Set constant ``values`` on the matching records; return how many were updated.

        ``batch_size`` as for :meth:`delete` (omitted: the adapter's own plan).
        """
        ...

    def update_by_key(
        self, record_type: RecordType, changes: Sequence[tuple[RecordKey, Mapping[str, Any]]]
    ) -> int:
        """Write per-record values: each ``(primary key, {field: value})``; return the count."""
        ...

    def verify(self, datamap: DataMap) -> list[Problem]:
        """Every record type or field of ``datamap`` (for this adapter's store) that is missing."""
        ...

    def close(self) -> None:
        """Release the store's resources."""
        ...

    def __enter__(self) -> Self:
        """Return the adapter itself."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the adapter."""
        ...


class BaseAdapter:
    """A convenient base: implement ``iter_records``, ``delete``, ``update`` and ``verify``.

    It provides ``count`` (by streaming, unless overridden), ``update_by_key`` (one ``update`` per
    key, unless overridden), ``close`` and context-manager support, and :meth:`wrap_errors` to
    turn store exceptions into :class:`~privacy_kit.AdapterError`.

    Attributes:
        name: shown in errors and reports (defaults to the class name).
        store: which data-map store this adapter serves (``None``: any).
        capabilities: the optional abilities this adapter has.
    """

    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, *, name: str | None = None, store: str | None = None) -> None:
        self.name = name or type(self).__name__
        self.store = store

    # -- to implement -------------------------------------------------------------------------
    def iter_records(
        self,
        record_type: RecordType,
        selection: Selection,
        *,
        fields: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[list[Record]]:
        """Yield the matching records in batches of at most ``batch_size``."""
        raise NotImplementedError

    def delete(
        self, record_type: RecordType, selection: Selection, *, batch_size: int = 1000
    ) -> int:
        """Delete the matching records; return how many were deleted."""
        raise NotImplementedError

    def update(
        self,
        record_type: RecordType,
        selection: Selection,
        values: Mapping[str, Any],
        *,
        batch_size: int = 1000,
    ) -> int:
        """Set constant ``values`` on the matching records; return how many were updated."""
        raise NotImplementedError

    def verify(self, datamap: DataMap) -> list[Problem]:
        """Every record type or field of ``datamap`` that the store lacks (empty when all exist)."""
        raise NotImplementedError

    # -- provided -----------------------------------------------------------------------------
    def count(self, record_type: RecordType, selection: Selection) -> int:
        """How many records match (streams primary keys unless the adapter overrides this)."""
        return sum(
            len(batch)
            for batch in self.iter_records(record_type, selection, fields=[record_type.primary_key])
        )

    def counts(self, record_type: RecordType, selections: Sequence[Selection]) -> list[int]:
        """How many records match each of ``selections`` (one ``count`` each unless overridden).

        The SQL adapters count them all in one statement (one scan of the table), which is
        what plans use: a plan's counts for one record type cost one statement.
        """
        return [self.count(record_type, s) for s in selections]

    def update_by_key(
        self, record_type: RecordType, changes: Sequence[tuple[RecordKey, Mapping[str, Any]]]
    ) -> int:
        """Write per-record values (one ``update`` per key unless the adapter overrides this)."""
        from ._selection import Eq  # noqa: PLC0415 - the selections are made on use

        return sum(
            self.update(record_type, Eq(record_type.primary_key, key), values)
            for key, values in changes
        )

    def check_schema(self, datamap: DataMap) -> None:
        """Raise :class:`~privacy_kit.SchemaMismatchError` listing everything ``verify`` found."""
        problems = self.verify(datamap)
        if problems:
            raise SchemaMismatchError(
                "the store does not match the data map:\n  " + "\n  ".join(map(str, problems)),
                adapter=self.name,
                operation="verify",
            )

    def serves(self, record_type: RecordType) -> bool:
        """Whether this adapter holds ``record_type`` (by its data-map store)."""
        return self.store is None or record_type.store == self.store

    def wrap_errors(
        self, operation: str, record_type: RecordType | str | None = None
    ) -> _ErrorWrapper:
        """Context manager turning any store exception into an :class:`~privacy_kit.AdapterError`.

        Example:
            >>> from privacy_kit.adapters import BaseAdapter
            >>> a = BaseAdapter(name="demo")
            >>> with a.wrap_errors("delete", "bookings"):
            ...     raise OSError("disk full")
            Traceback (most recent call last):
            ...
            privacy_kit._errors.AdapterError: demo: delete on bookings failed: OSError: disk full
        """
        name = record_type.name if isinstance(record_type, RecordType) else record_type
        return _ErrorWrapper(self.name, name, operation)

    def close(self) -> None:
        """Release resources (a no-op by default)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class _ErrorWrapper:
    def __init__(self, adapter: str, record_type: str | None, operation: str) -> None:
        self.adapter, self.record_type, self.operation = adapter, record_type, operation

    def __enter__(self) -> None:
        # The statements run inside are this adapter's (see _statement_log: DEBUG lines).
        self._token = _statement_log.operation(self.adapter)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _statement_log.end_operation(self._token)
        if exc is None or isinstance(exc, AdapterError) or not isinstance(exc, Exception):
            return
        raise AdapterError(
            f"{type(exc).__name__}: {exc}",
            adapter=self.adapter,
            record_type=self.record_type,
            operation=self.operation,
        ) from exc


def batch_option(batch_size: int | None) -> dict[str, int]:
    """The keyword arguments of a ``delete`` or ``update`` call for a plan's ``batch_size``.

    ``None`` (the default of sweeps and erasures) passes nothing, so the adapter runs its own
    statement plan (and an adapter written before batch sizes were optional still works).

    Example:
        >>> batch_option(None), batch_option(500)
        ({}, {'batch_size': 500})
    """
    return {} if batch_size is None else {"batch_size": batch_size}


def atomic_of(adapter: Adapter) -> Callable[[], AbstractContextManager[object]] | None:
    """The adapter's ``atomic`` (a context manager factory) if it declares ``Capability.ATOMIC``.

    ``None`` when it does not: callers then let each write commit on its own.

    Raises:
        AdapterError: the adapter declares the capability but has no ``atomic`` method.

    Example:
        >>> from privacy_kit.adapters import BaseAdapter, InMemoryAdapter
        >>> atomic_of(BaseAdapter()) is None, atomic_of(InMemoryAdapter()) is not None
        (True, True)
    """
    if Capability.ATOMIC not in adapter.capabilities:
        return None
    atomic = getattr(adapter, "atomic", None)
    if not callable(atomic):
        raise AdapterError(
            "declares Capability.ATOMIC but has no atomic() method",
            adapter=adapter.name,
            operation="atomic",
        )
    return cast("Callable[[], AbstractContextManager[object]]", atomic)


def count_each(
    adapter: Adapter, record_type: RecordType, selections: Sequence[Selection]
) -> list[int]:
    """How many records of ``record_type`` match each of ``selections``, in as few statements
    as ``adapter`` allows (its ``counts`` when it has one, else one ``count`` each).

    Example:
        >>> from privacy_kit.adapters import InMemoryAdapter, where
        >>> from privacy_kit.model import RecordType
        >>> rt = RecordType(name="t", store="main", fields=[{"name": "id"}, {"name": "n"}])
        >>> mem = InMemoryAdapter({"t": [{"id": 1, "n": 1}, {"id": 2, "n": 5}]})
        >>> count_each(mem, rt, [where.eq("n", 1), where.all(), where.in_("n", [])])
        [1, 2, 0]
    """
    if not selections:
        return []
    many = getattr(adapter, "counts", None)
    if many is not None:
        found = list(many(record_type, selections))
        if len(found) != len(selections):
            raise AdapterError(
                f"counts returned {len(found)} number(s) for {len(selections)} selection(s)",
                adapter=adapter.name,
                record_type=record_type.name,
                operation="count",
            )
        return [int(n) for n in found]
    return [adapter.count(record_type, s) for s in selections]


def missing_problems(
    datamap: DataMap, store: str | None, existing: Mapping[str, set[str] | None]
) -> list[Problem]:
    """Shared ``verify`` logic: ``existing`` maps table name to its columns (``None``: no table)."""
    problems: list[Problem] = []
    for i, rt in enumerate(datamap.record_types):
        if store is not None and rt.store != store:
            continue
        columns = existing.get(rt.table_name)
        if columns is None:
            problems.append(
                Problem(f"record_types[{i}]", f"table {rt.table_name!r} does not exist")
            )
            continue
        for j, f in enumerate(rt.fields):
            if f.name not in columns:
                problems.append(
                    Problem(
                        f"record_types[{i}].fields[{j}]",
                        f"column {f.name!r} does not exist in table {rt.table_name!r}",
                    )
                )
    return problems


@contextlib.contextmanager
def reading_together(adapters: Iterable[Adapter]) -> Iterator[None]:
    """Run the reads of the block in one read-only transaction per adapter that offers one
    (a ``reading()`` method, as :class:`~privacy_kit.adapters.SQLAlchemyAdapter`'s); other
    adapters read as usual. Plans are made inside it: one snapshot, fewer round trips.

    Example:
        >>> with reading_together([BaseAdapter()]):
        ...     pass
    """
    with contextlib.ExitStack() as stack:
        seen: set[int] = set()
        for adapter in adapters:
            reading = getattr(adapter, "reading", None)
            if id(adapter) not in seen and callable(reading):
                seen.add(id(adapter))
                stack.enter_context(cast("Callable[[], AbstractContextManager[object]]", reading)())
        yield
