"""Selections: the small typed query language adapters translate into their store's filter.

A selection is built from field predicates (equality, membership, timestamp before/after, null
checks) combined with ``&``, ``|`` and ``~``. Its meaning is SQL's three-valued logic, so that
the in-memory reference adapter and the SQL adapters agree exactly: a comparison with a missing
or NULL value is *unknown*, ``~unknown`` is still unknown, and a record is selected only when the
whole selection is *true*.

:class:`Related` reads another record type of the same store (``field IN (SELECT key FROM other
WHERE ...)``); adapters that can run it declare ``Capability.RELATED`` and evaluate it when the
statement runs, never from a copy read earlier.

Example:
    >>> import datetime as dt
    >>> from privacy_kit.adapters import where
    >>> s = where.eq("host_id", 7) & where.before("end_at", dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    >>> s.matches({"host_id": 7, "end_at": dt.datetime(2023, 6, 1, tzinfo=dt.UTC)})
    True
    >>> (~where.eq("host_id", 7)).matches({"host_id": None})
    False
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from .._errors import PrivacyKitError
from ..model._datamap import RecordType

__all__ = [
    "After",
    "All",
    "And",
    "Before",
    "Eq",
    "In",
    "IsNull",
    "Not",
    "Or",
    "Related",
    "Selection",
    "UnsupportedSelectionError",
    "bind_related",
    "has_related",
    "where",
]


class UnsupportedSelectionError(PrivacyKitError, TypeError):
    """A selection an adapter cannot run: it lacks the capability the selection needs.

    Attributes:
        capability: the capability's value (``"related"``).

    Example:
        >>> err = UnsupportedSelectionError("related", "Related(...) cannot be evaluated here")
        >>> err.capability, isinstance(err, TypeError)
        ('related', True)
    """

    def __init__(self, capability: str, message: str) -> None:
        self.capability = capability
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.capability, str(self)))


def _aware(value: Any, field: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"timestamp bound on {field!r} must be a timezone-aware datetime, got {value!r}"
        )
    return value


def _selections(items: Iterable[Selection]) -> tuple[Selection, ...]:
    return tuple(items)


def _values(values: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(values)


@attrs.frozen
class Selection:
    """Base of every selection; combine with ``&``, ``|`` and ``~``."""

    def __and__(self, other: Selection) -> Selection:
        return And((self, other))

    def __or__(self, other: Selection) -> Selection:
        return Or((self, other))

    def __invert__(self) -> Selection:
        return Not(self)

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        """Three-valued truth of the selection for ``record`` (``None`` is *unknown*)."""
        raise NotImplementedError

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Whether ``record`` is selected (the selection is *true* for it)."""
        return self.evaluate(record) is True

    def fields(self) -> Iterator[str]:
        """Every field name the selection reads."""
        return iter(())


@attrs.frozen
class All(Selection):
    """Every record."""

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        return True


@attrs.frozen
class Eq(Selection):
    """``field == value``; a NULL on either side is unknown."""

    field: str
    value: Any

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        actual = record.get(self.field)
        if actual is None or self.value is None:
            return None
        return bool(actual == self.value)

    def fields(self) -> Iterator[str]:
        yield self.field


@attrs.frozen
class In(Selection):
    """``field`` is one of ``values`` (an empty set selects nothing; a NULL among them is unknown)."""

    field: str
    values: tuple[Any, ...] = attrs.field(converter=_values)

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        actual = record.get(self.field)
        if not self.values:
            return False
        if actual is None:
            return None
        if any(v is not None and actual == v for v in self.values):
            return True
        # As in SQL, ``x IN (1, NULL)`` is unknown (not false) when x is not 1.
        return None if any(v is None for v in self.values) else False

    def fields(self) -> Iterator[str]:
        yield self.field


@attrs.frozen
class Before(Selection):
    """``field < instant`` (``<=`` with ``inclusive=True``); ``instant`` must be timezone-aware."""

    field: str
    instant: dt.datetime
    inclusive: bool = False

    def __attrs_post_init__(self) -> None:
        _aware(self.instant, self.field)

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        actual = record.get(self.field)
        if actual is None:
            return None
        actual = _aware(actual, self.field)
        return actual <= self.instant if self.inclusive else actual < self.instant

    def fields(self) -> Iterator[str]:
        yield self.field


@attrs.frozen
class After(Selection):
    """``field > instant`` (``>=`` with ``inclusive=True``); ``instant`` must be timezone-aware."""

    field: str
    instant: dt.datetime
    inclusive: bool = False

    def __attrs_post_init__(self) -> None:
        _aware(self.instant, self.field)

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        actual = record.get(self.field)
        if actual is None:
            return None
        actual = _aware(actual, self.field)
        return actual >= self.instant if self.inclusive else actual > self.instant

    def fields(self) -> Iterator[str]:
        yield self.field


@attrs.frozen
class IsNull(Selection):
    """``field`` is NULL (or absent)."""

    field: str

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        return record.get(self.field) is None

    def fields(self) -> Iterator[str]:
        yield self.field


@attrs.frozen
class And(Selection):
    """Every item is true (Kleene logic: false wins over unknown)."""

    items: tuple[Selection, ...] = attrs.field(converter=_selections)

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        result: bool | None = True
        for item in self.items:
            value = item.evaluate(record)
            if value is False:
                return False
            if value is None:
                result = None
        return result

    def fields(self) -> Iterator[str]:
        for item in self.items:
            yield from item.fields()


@attrs.frozen
class Or(Selection):
    """Some item is true (Kleene logic: true wins over unknown)."""

    items: tuple[Selection, ...] = attrs.field(converter=_selections)

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        result: bool | None = False
        for item in self.items:
            value = item.evaluate(record)
            if value is True:
                return True
            if value is None:
                result = None
        return result

    def fields(self) -> Iterator[str]:
        for item in self.items:
            yield from item.fields()


@attrs.frozen
class Not(Selection):
    """The negation; ``~unknown`` stays unknown."""

    item: Selection

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        value = self.item.evaluate(record)
        return None if value is None else not value

    def fields(self) -> Iterator[str]:
        return self.item.fields()


def _record_type_name(record_type: RecordType) -> str:
    return repr(record_type.name)


@attrs.frozen
class Related(Selection):
    """``field IN (SELECT key FROM record_type WHERE selection)``: a condition on another record.

    The other record type lives in the same store, and the adapter evaluates the sub-select *when
    the statement runs* (an SQL sub-select in the same ``DELETE`` / ``UPDATE`` / ``SELECT``; in
    memory, the other table at call time). A retention sweep uses it to re-check that an account
    is still closed in the very statement that deletes the account's records.

    Meaning, in SQL's three-valued logic: true when some selected record's ``key`` equals the
    record's ``field``; false when none is selected or none equals it; unknown when ``field`` is
    NULL (and some record is selected), or when no key equals it but a selected key is NULL.

    Only adapters declaring ``Capability.RELATED`` run it; others fail with
    :class:`UnsupportedSelectionError` (``evaluate`` cannot see the other record type).

    Attributes:
        field: the field of the selected record holding the other record's key.
        record_type: the other record type (its fields name the columns read).
        key: the other record type's field compared with ``field`` (usually its primary key).
        selection: which records of the other record type count (may itself hold a ``Related``).

    Raises:
        UnknownNameError: ``key`` or a field ``selection`` reads is not a field of ``record_type``.

    Example:
        >>> import datetime as dt
        >>> import privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter, Related, where
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> users, bookings = dm.record_type("users"), dm.record_type("bookings")
        >>> closed = Related("host_id", users, "id", where.not_null("closed_at"))
        >>> mem = InMemoryAdapter({"users": [{"id": 1, "closed_at": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)},
        ...                                  {"id": 2, "closed_at": None}],
        ...                        "bookings": [{"id": 10, "host_id": 1}, {"id": 11, "host_id": 2}]})
        >>> mem.count(bookings, closed)
        1
    """

    field: str
    record_type: RecordType = attrs.field(repr=_record_type_name, hash=False)
    key: str
    selection: Selection

    def __attrs_post_init__(self) -> None:
        self.record_type.field(self.key)
        for name in self.selection.fields():
            self.record_type.field(name)

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        """Refused: the other record type is the adapter's to read (see :func:`bind_related`)."""
        raise UnsupportedSelectionError(
            "related",
            f"a Related selection on {self.record_type.name!r} (via {self.field!r}) reads another "
            "record type and can only be run by an adapter declaring Capability.RELATED, which "
            "evaluates it when the statement runs; this adapter evaluated it record by record",
        )

    def fields(self) -> Iterator[str]:
        yield self.field


def has_related(selection: Selection) -> bool:
    """Whether ``selection`` contains a :class:`Related` anywhere.

    Example:
        >>> has_related(where.eq("a", 1) & ~where.is_null("b"))
        False
    """
    if isinstance(selection, Related):
        return True
    if isinstance(selection, And | Or):
        return any(has_related(item) for item in selection.items)
    if isinstance(selection, Not):
        return has_related(selection.item)
    return False


def bind_related(selection: Selection, keys: Callable[[Related], Iterable[Any]]) -> Selection:
    """``selection`` with every :class:`Related` replaced by ``In(field, keys(related))``.

    ``keys(related)`` returns the ``key`` values of the other record type's selected records (NULL
    ones included), read at the moment of the call; ``In`` then has exactly ``Related``'s meaning.
    The in-memory adapter binds at the start of each statement.

    Example:
        >>> import privacy_kit as pk
        >>> users = pk.load_datamap(pk.example_path("datamap.yaml")).record_type("users")
        >>> bind_related(where.eq("id", 1) & Related("host_id", users, "id", where.all()),
        ...              lambda related: [3, 4])
        And(items=(Eq(field='id', value=1), In(field='host_id', values=(3, 4))))
    """
    if isinstance(selection, Related):
        return In(selection.field, tuple(keys(selection)))
    if isinstance(selection, And):
        return And(tuple(bind_related(item, keys) for item in selection.items))
    if isinstance(selection, Or):
        return Or(tuple(bind_related(item, keys) for item in selection.items))
    if isinstance(selection, Not):
        return Not(bind_related(selection.item, keys))
    return selection


class _Where:
    """Shorthand constructors: ``where.eq("f", 1) & where.is_null("g")``."""

    @staticmethod
    def all() -> Selection:
        """Every record."""
        return All()

    @staticmethod
    def eq(field: str, value: Any) -> Selection:
        """``field == value``."""
        return Eq(field, value)

    @staticmethod
    def in_(field: str, values: Iterable[Any]) -> Selection:
        """``field IN values``."""
        return In(field, tuple(values))

    @staticmethod
    def before(field: str, instant: dt.datetime, *, inclusive: bool = False) -> Selection:
        """``field < instant`` (or ``<=``)."""
        return Before(field, instant, inclusive)

    @staticmethod
    def after(field: str, instant: dt.datetime, *, inclusive: bool = False) -> Selection:
        """``field > instant`` (or ``>=``)."""
        return After(field, instant, inclusive)

    @staticmethod
    def is_null(field: str) -> Selection:
        """``field IS NULL``."""
        return IsNull(field)

    @staticmethod
    def not_null(field: str) -> Selection:
        """``field IS NOT NULL``."""
        return Not(IsNull(field))

    @staticmethod
    def related(
        field: str, record_type: RecordType, selection: Selection, *, key: str | None = None
    ) -> Selection:
        """``field IN (SELECT key FROM record_type WHERE selection)`` (``key``: its primary key)."""
        return Related(field, record_type, key or record_type.primary_key, selection)

    @staticmethod
    def all_of(*items: Selection) -> Selection:
        """Conjunction of ``items`` (``All()`` when empty)."""
        return And(items) if items else All()

    @staticmethod
    def any_of(*items: Selection) -> Selection:
        """Disjunction of ``items`` (selects nothing when empty)."""
        return Or(items)


where = _Where()
