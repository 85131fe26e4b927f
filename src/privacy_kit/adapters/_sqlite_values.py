"""How the SQLite adapter stores values: the storage form of each field type, and back.

``timestamp`` is UTC ISO 8601 text of fixed width (``2024-05-01T09:30:00.000000Z``) so that text
comparison is chronological, read back as a timezone-aware ``datetime``; ``date`` is
``YYYY-MM-DD`` text; ``boolean`` is ``0``/``1``; ``json`` is JSON text. A value whose field type is
unknown (not in the data map) is stored by its Python type.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ..model._datamap import RecordType

__all__ = [
    "format_timestamp",
    "parse_timestamp",
    "reader",
    "related_convert",
    "to_store",
    "writer",
]


def format_timestamp(value: Any) -> str:
    """A timezone-aware datetime as fixed-width UTC ISO 8601 text (sorts chronologically).

    Args:
        value: a timezone-aware ``datetime``.

    Returns:
        ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC.

    Raises:
        ValueError: ``value`` is naive or not a datetime.

    Example:
        >>> import datetime as dt
        >>> format_timestamp(dt.datetime(2024, 5, 1, 11, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))))
        '2024-05-01T09:30:00.000000Z'
    """
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise ValueError(f"a timestamp must be a timezone-aware datetime, got {value!r}")
    utc = value.astimezone(dt.UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def parse_timestamp(value: Any) -> dt.datetime | None:
    """Read a stored timestamp back as an aware UTC datetime (text without offset is UTC).

    Example:
        >>> parse_timestamp("2024-05-01T09:30:00.000000Z")
        datetime.datetime(2024, 5, 1, 9, 30, tzinfo=datetime.timezone.utc)
    """
    if value is None:
        return None
    if type(value) is str and len(value) == 27 and value[26] == "Z":
        # The form this adapter writes: parsed straight to an aware UTC datetime (the common
        # case, once per timestamp read; the general path below costs three times as much).
        return dt.datetime.fromisoformat(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if parsed.utcoffset() is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _to_date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise ValueError(f"a date must be a datetime.date, got {value!r}")


def _to_json(value: Any) -> str:
    import orjson  # noqa: PLC0415 - not imported by a first use (making an Engine)

    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _guess(value: Any) -> Any:
    """Storage form of a value whose field type is unknown (not in the data map)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime):
        return format_timestamp(value) if value.utcoffset() is not None else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return _to_json(value)
    return value


_WRITERS: dict[str, Callable[[Any], Any]] = {
    "timestamp": format_timestamp,
    "date": _to_date,
    "boolean": lambda v: int(bool(v)),
    "json": _to_json,
}
_READERS: dict[str, Callable[[Any], Any]] = {
    "timestamp": parse_timestamp,
    "date": lambda v: dt.date.fromisoformat(str(v)),
    "boolean": bool,
}


def reader(kind: str) -> Callable[[Any], Any] | None:
    """The conversion back from the store for a field of type ``kind`` (``None``: as stored)."""
    if kind == "json":
        import orjson  # noqa: PLC0415 - not imported by a first use (making an Engine)

        return orjson.loads
    return _READERS.get(kind)


def writer(record_type: RecordType | None, field: str) -> Callable[[Any], Any] | None:
    """The conversion for ``field`` (``None``: stored as is)."""
    if record_type is not None and record_type.has_field(field):
        kind = record_type.field(field).type
        return _WRITERS.get(kind, None if kind in _NATIVE else _guess)
    return _guess


_NATIVE = frozenset({"text", "integer", "real"})


def to_store(record_type: RecordType | None, field: str, value: Any) -> Any:
    if value is None:
        return None
    write = writer(record_type, field)
    return value if write is None else write(value)


def related_convert(record_type: RecordType) -> Callable[[str, Any], Any]:
    """How values bound on a ``Related``'s other record type are stored (by its field types)."""
    return lambda field, value: to_store(record_type, field, value)
