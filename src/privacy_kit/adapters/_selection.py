"""Selections: the small typed query language adapters translate into their store's filter.

A selection is built from field predicates (equality, membership, timestamp before/after, null
checks) combined with ``&``, ``|`` and ``~``. Its meaning is SQL's three-valued logic, so that
the in-memory reference adapter and the SQL adapters agree exactly: a comparison with a missing
or NULL value is *unknown*, ``~unknown`` is still unknown, and a record is selected only when the
whole selection is *true*.

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
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

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
    "Selection",
    "where",
]


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
    def all_of(*items: Selection) -> Selection:
        """Conjunction of ``items`` (``All()`` when empty)."""
        return And(items) if items else All()

    @staticmethod
    def any_of(*items: Selection) -> Selection:
        """Disjunction of ``items`` (selects nothing when empty)."""
        return Or(items)


where = _Where()
