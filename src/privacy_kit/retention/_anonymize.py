"""Per-field anonymisation: the strategies a data map names, and applying them through adapters.

Each field of a record type may name a strategy (``FieldSpec.anonymize``): ``null``, a ``fixed``
value, a keyed-hash ``pseudonym`` (HMAC-SHA256 with the engine's secret, truncated and prefixed,
stable for a given value and key), a ``mask`` that keeps the last characters, or
``generalize_date`` that truncates a timestamp to its year, month or day (keeping its time zone).
A field without a strategy is set to NULL: the data map has no notion of a non-nullable column,
so NULL is the one default that never invents data; give a ``fixed`` strategy to a field whose
store refuses NULL.

Strategies fall in two groups. *Constant* ones (``null``, ``fixed``) write the same value to every
record, so they are pushed down as one ``adapter.update(selection, values)``. *Computed* ones
(``pseudonym``, ``mask``, ``generalize_date``) depend on each record's value: records are read in
batches and written back by primary key with ``adapter.update_by_key`` (one round trip per batch
when the adapter has ``Capability.BULK_UPDATE_BY_KEY``, one update per record otherwise, which is
logged). Every strategy is idempotent: anonymising an anonymised value changes nothing, so an
interrupted erasure can simply be run again. The counts are idempotent too: only records whose
fields are not yet in their anonymised state are written and counted (:func:`pending_selection`
says which, in the selection language, for constant strategies; computed values are compared
record by record), so anonymising again changes and counts nothing.

Erasure (:mod:`privacy_kit.rights._erasure`) and retention's ``anonymize`` action both go through
:func:`anonymize_selection`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from .._errors import ConfigurationError, PlanError
from ..adapters import (
    WRITE_BATCH,
    Adapter,
    And,
    Capability,
    Eq,
    IsNull,
    Not,
    Or,
    Selection,
    batch_option,
)
from ..model._datamap import AnonymizationKind, FieldSpec, RecordType

__all__ = [
    "PSEUDONYM_PREFIX",
    "FieldAnonymization",
    "anonymize_selection",
    "count_pending",
    "generalize_date",
    "mask",
    "pending_selection",
    "pseudonym",
    "strategy_for",
    "update_method",
]

_log = logging.getLogger("privacy_kit.retention")

PSEUDONYM_PREFIX = "anon_"
"""Every pseudonym starts with this prefix (so a pseudonym is recognised and never re-hashed)."""
_PSEUDONYM_LENGTH = (
    20  # hex characters kept from the HMAC: 80 bits, collisions negligible per store
)
_PSEUDONYM = re.compile(rf"^{PSEUDONYM_PREFIX}[0-9a-f]{{{_PSEUDONYM_LENGTH}}}$")
_MASK_CHAR = "*"


def pseudonym(value: Any, secret: bytes) -> Any:
    """A stable keyed-hash pseudonym of ``value`` (``None`` stays ``None``).

    The pseudonym is ``anon_`` followed by the first 20 hex digits of HMAC-SHA256(secret, value):
    the same value always gives the same pseudonym under the same key (so joins and counts
    still work), and it cannot be reversed without the key. It does not depend on the field, so
    an e-mail address pseudonymised in two tables gives the same pseudonym in both. A value that
    already is a pseudonym is returned unchanged, so the strategy is idempotent.

    Args:
        value: the original value (compared by its text).
        secret: the key (the engine's ``secret``).

    Returns:
        The pseudonym, or ``None`` for ``None``.

    Example:
        >>> p = pseudonym("ann@example.com", b"k" * 32)
        >>> p.startswith("anon_"), len(p), p == pseudonym("ann@example.com", b"k" * 32)
        (True, 25, True)
        >>> pseudonym(p, b"k" * 32) == p
        True
    """
    if value is None:
        return None
    text = str(value)
    if _PSEUDONYM.match(text):
        return text
    digest = hmac.new(secret, b"pseudonym\x00" + text.encode("utf-8"), hashlib.sha256)
    return PSEUDONYM_PREFIX + digest.hexdigest()[:_PSEUDONYM_LENGTH]


def mask(value: Any, keep: int = 0) -> Any:
    """Mask every character of ``value`` but the last ``keep`` with ``*`` (``None`` stays ``None``).

    The length is kept. Masking a masked value changes nothing.

    Args:
        value: the original value (masked as text).
        keep: how many trailing characters to keep.

    Returns:
        The masked text, or ``None``.

    Example:
        >>> mask("+44 7700 900123", keep=2)
        '*************23'
        >>> mask("10.0.0.1")
        '********'
    """
    if value is None:
        return None
    text = str(value)
    if keep <= 0:
        return _MASK_CHAR * len(text)
    if keep >= len(text):
        return text
    return _MASK_CHAR * (len(text) - keep) + text[-keep:]


def generalize_date(value: Any, granularity: str = "month") -> Any:
    """Truncate a datetime or date to its ``year``, ``month`` or ``day``, keeping the time zone.

    Args:
        value: a ``datetime`` or ``date`` (``None`` stays ``None``).
        granularity: ``"year"``, ``"month"`` or ``"day"``.

    Returns:
        The truncated value, of the same type.

    Raises:
        ConfigurationError: ``value`` is not a date or datetime, or the granularity is unknown.

    Example:
        >>> generalize_date(dt.datetime(2024, 5, 17, 9, 30, tzinfo=dt.UTC), "month")
        datetime.datetime(2024, 5, 1, 0, 0, tzinfo=datetime.timezone.utc)
        >>> generalize_date(dt.date(2024, 5, 17), "year")
        datetime.date(2024, 1, 1)
    """
    if value is None:
        return None
    if granularity not in ("year", "month", "day"):
        raise ConfigurationError(
            f"unknown granularity {granularity!r}; expected 'year', 'month' or 'day'"
        )
    if not isinstance(value, dt.date):
        raise ConfigurationError(
            f"generalize_date needs a date or datetime, got {type(value).__name__} {value!r}"
        )
    month = 1 if granularity == "year" else value.month
    day = 1 if granularity in ("year", "month") else value.day
    if isinstance(value, dt.datetime):
        return value.replace(month=month, day=day, hour=0, minute=0, second=0, microsecond=0)
    return value.replace(month=month, day=day)


@attrs.frozen
class FieldAnonymization:
    """How one field is anonymised: the strategy, its parameters, and where it came from.

    Attributes:
        field: the field name.
        kind: the strategy.
        value: the replacement for ``fixed``.
        keep: trailing characters kept by ``mask``.
        granularity: truncation of ``generalize_date``.
        declared: ``True`` when the data map names the strategy, ``False`` for the NULL default.

    Example:
        >>> from privacy_kit.model._datamap import FieldSpec
        >>> s = strategy_for(FieldSpec(name="phone", anonymize={"kind": "mask", "keep": 2}))
        >>> s.constant, s.apply("0123456", b"k" * 16), s.describe()
        (False, '*****56', 'mask (keep last 2)')
    """

    field: str
    kind: AnonymizationKind
    value: Any = None
    keep: int = 0
    granularity: str = "month"
    declared: bool = True

    @property
    def constant(self) -> bool:
        """Whether every record gets the same value (``null``, ``fixed``): pushed down as one update."""
        return self.kind in (AnonymizationKind.NULL, AnonymizationKind.FIXED)

    def apply(self, value: Any, secret: bytes) -> Any:
        """The anonymised form of ``value``."""
        if self.kind is AnonymizationKind.NULL:
            return None
        if self.kind is AnonymizationKind.FIXED:
            return self.value
        if self.kind is AnonymizationKind.PSEUDONYM:
            return pseudonym(value, secret)
        if self.kind is AnonymizationKind.MASK:
            return mask(value, self.keep)
        return generalize_date(value, self.granularity)

    def describe(self) -> str:
        """A short human-readable description, e.g. ``'fixed value 'Deleted user''``."""
        if self.kind is AnonymizationKind.NULL:
            return "null" if self.declared else "null (default: no strategy declared)"
        if self.kind is AnonymizationKind.FIXED:
            return f"fixed value {self.value!r}"
        if self.kind is AnonymizationKind.PSEUDONYM:
            return "keyed-hash pseudonym (HMAC-SHA256)"
        if self.kind is AnonymizationKind.MASK:
            return f"mask (keep last {self.keep})"
        return f"generalise date to {self.granularity}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (for plans, reports and journals)."""
        out: dict[str, Any] = {"field": self.field, "strategy": self.kind.value}
        if self.kind is AnonymizationKind.FIXED:
            out["value"] = self.value
        elif self.kind is AnonymizationKind.MASK:
            out["keep"] = self.keep
        elif self.kind is AnonymizationKind.GENERALIZE_DATE:
            out["granularity"] = self.granularity
        if not self.declared:
            out["default"] = True
        return out


def strategy_for(field: FieldSpec) -> FieldAnonymization:
    """The anonymisation of ``field``: its declared strategy, or NULL when it declares none.

    Args:
        field: the field spec from the data map.

    Returns:
        The strategy.

    Example:
        >>> from privacy_kit.model._datamap import FieldSpec
        >>> strategy_for(FieldSpec(name="notes")).describe()
        'null (default: no strategy declared)'
    """
    spec = field.anonymize
    if spec is None:
        return FieldAnonymization(field.name, AnonymizationKind.NULL, declared=False)
    return FieldAnonymization(
        field.name,
        spec.kind,
        value=spec.value,
        keep=spec.keep,
        granularity=spec.granularity,
        declared=True,
    )


def pending_selection(strategies: Iterable[FieldAnonymization]) -> Selection | None:
    """The records some of whose ``strategies`` fields are not yet in their anonymised state.

    Only constant strategies can be recognised in a selection (``null``: the field is not NULL;
    ``fixed``: it is NULL or holds another value); ``None`` when any strategy is computed
    (``pseudonym``, ``mask``, ``generalize_date``), whose result a selection cannot tell from an
    original value.

    Example:
        >>> from privacy_kit.model._datamap import FieldSpec
        >>> pending_selection([strategy_for(FieldSpec(name="ip"))])
        Not(item=IsNull(field='ip'))
        >>> pending_selection([strategy_for(FieldSpec(name="e", anonymize={"kind": "pseudonym"}))])
    """
    parts: list[Selection] = []
    for s in strategies:
        if s.kind is AnonymizationKind.NULL:
            parts.append(Not(IsNull(s.field)))
        elif s.kind is AnonymizationKind.FIXED:
            parts.append(Or((IsNull(s.field), Not(Eq(s.field, s.value)))))
        else:
            return None
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Or(tuple(parts))


def update_method(adapter: Adapter) -> str:
    """How computed values are written through ``adapter``: ``'bulk'`` or ``'per_key'``.

    Example:
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> update_method(InMemoryAdapter())
        'bulk'
    """
    return "bulk" if Capability.BULK_UPDATE_BY_KEY in adapter.capabilities else "per_key"


def _strategies(
    record_type: RecordType, fields: Iterable[str | FieldAnonymization]
) -> list[FieldAnonymization]:
    out: list[FieldAnonymization] = []
    for item in fields:
        if isinstance(item, FieldAnonymization):
            record_type.field(item.field)  # unknown field: KeyError with a hint
            out.append(item)
            continue
        try:
            spec = record_type.field(item)
        except KeyError as exc:
            raise ConfigurationError(str(exc.args[0])) from None
        out.append(strategy_for(spec))
    if record_type.primary_key in {s.field for s in out}:
        raise ConfigurationError(
            f"the primary key {record_type.primary_key!r} of {record_type.name!r} cannot be anonymised"
        )
    return out


def anonymize_selection(
    adapter: Adapter,
    record_type: RecordType,
    selection: Selection,
    fields: Iterable[str | FieldAnonymization],
    *,
    secret: bytes,
    batch_size: int | None = 1000,
) -> int:
    """Anonymise ``fields`` of the records of ``record_type`` that match ``selection``.

    Only records not yet in their anonymised state are written and counted, so running this
    twice changes and counts nothing the second time. With constant strategies only, that is one
    pushed-down ``update`` of the selection narrowed by :func:`pending_selection`. With computed
    strategies, records are read in batches, every strategy (constants included) is applied in
    memory, and only the records whose values change are written by key.

    Args:
        adapter: the adapter that holds the record type.
        record_type: the record type.
        selection: which records.
        fields: field names (their data-map strategy is used) or explicit strategies.
        secret: the key of keyed strategies (pseudonyms).
        batch_size: records read and written per round trip (``None``: the constant
            strategies' ``update`` is the adapter's own statement plan, and computed ones are
            read and written in batches of :data:`~privacy_kit.adapters.WRITE_BATCH`).

    Returns:
        How many records were anonymised.

    Raises:
        ConfigurationError: an unknown field, or the primary key.
        AdapterError: the store failed.

    Example:
        >>> import privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter, where
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
        >>> _ = mem.insert("users", [{"id": 1, "name": "Ann", "email": "ann@example.com"}])
        >>> anonymize_selection(mem, dm.record_type("users"), where.eq("id", 1), ["name", "email"],
        ...                     secret=b"s" * 32)
        1
        >>> row = mem.rows("users")[0]
        >>> row["name"], row["email"].startswith("anon_")
        ('Deleted user', True)
    """
    if batch_size is not None and batch_size < 1:
        raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
    rt = record_type
    strategies = _strategies(rt, fields)
    if not strategies:
        return 0
    computed = [s for s in strategies if not s.constant]
    if not computed:
        values = {s.field: s.apply(None, secret) for s in strategies}
        pending = pending_selection(strategies)
        narrowed = selection if pending is None else And((selection, pending))
        return adapter.update(rt, narrowed, values, **batch_option(batch_size))
    return _write_computed(
        adapter,
        rt,
        selection,
        strategies=strategies,
        secret=secret,
        batch_size=batch_size or WRITE_BATCH,
    )


def count_pending(
    adapter: Adapter,
    record_type: RecordType,
    selection: Selection,
    fields: Iterable[str | FieldAnonymization],
    *,
    secret: bytes,
    batch_size: int | None = 1000,
) -> int:
    """How many records :func:`anonymize_selection` would write now (the rest are anonymised).

    Counted by the store with :func:`pending_selection` for constant strategies; with a computed
    one, records are read in batches and each strategy applied in memory (nothing is written).

    Example:
        >>> import privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter, where
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
        >>> _ = mem.insert("users", [{"id": 1, "name": "Deleted user", "email": None}])
        >>> count_pending(mem, dm.record_type("users"), where.eq("id", 1), ["name", "email"],
        ...               secret=b"s" * 32)
        0
    """
    rt = record_type
    strategies = _strategies(rt, fields)
    if not strategies:
        return 0
    pending = pending_selection(strategies)
    if pending is not None:
        return adapter.count(rt, And((selection, pending)))
    wanted = list(dict.fromkeys([rt.primary_key, *(s.field for s in strategies)]))
    return sum(
        1
        for batch in adapter.iter_records(
            rt, selection, fields=wanted, batch_size=batch_size or WRITE_BATCH
        )
        for record in batch
        if any(
            _differs(record.get(s.field), s.apply(record.get(s.field), secret)) for s in strategies
        )
    )


def _write_computed(
    adapter: Adapter,
    rt: RecordType,
    selection: Selection,
    *,
    strategies: Sequence[FieldAnonymization],
    secret: bytes,
    batch_size: int,
) -> int:
    pk = rt.primary_key
    wanted = list(dict.fromkeys([pk, *(s.field for s in strategies)]))
    bulk = update_method(adapter) == "bulk"
    if not bulk:
        _log.info(
            "%s lacks %s: writing %s one record at a time",
            adapter.name,
            Capability.BULK_UPDATE_BY_KEY.value,
            rt.name,
        )
    written = 0
    previous: set[Any] = set()
    for batch in adapter.iter_records(rt, selection, fields=wanted, batch_size=batch_size):
        keys = {record.get(pk) for record in batch}
        if keys & previous:  # an adapter that re-yields records would make this loop forever
            raise PlanError(
                f"{adapter.name} yielded records of {rt.name!r} twice while they were anonymised"
            )
        previous = keys
        changes: list[tuple[Any, Mapping[str, Any]]] = []
        for record in batch:
            values = {s.field: s.apply(record.get(s.field), secret) for s in strategies}
            # Already anonymised: nothing to write, nothing to count.
            if any(_differs(record.get(f), v) for f, v in values.items()):
                changes.append((record[pk], values))
        if not changes:
            continue
        if bulk:
            written += adapter.update_by_key(rt, changes)
        else:
            written += sum(adapter.update(rt, Eq(pk, key), values) for key, values in changes)
    return written


def _differs(current: Any, new: Any) -> bool:
    """Whether writing ``new`` over ``current`` changes the stored value."""
    return bool(current != new)
