"""The JSON form of selections (and of the values they compare with), for what the retention
registries keep: legal holds, commitments, in a file or a state store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from .._errors import ConfigurationError
from .._types import require_aware
from ..adapters import After, All, And, Before, Eq, In, IsNull, Not, Or, Selection

__all__ = ["selection_from_data", "selection_to_data"]


def _utc(value: dt.datetime, name: str) -> dt.datetime:
    return require_aware(value, name).astimezone(dt.UTC)


# -- JSON form of selections and subjects (for the registries) -------------------------------
def _value_to_data(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$datetime": _utc(value, "value").isoformat()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise ConfigurationError(
        f"a hold's selection can only hold JSON values and datetimes, got {type(value).__name__}"
    )


def _value_from_data(value: Any) -> Any:
    if isinstance(value, Mapping) and "$datetime" in value:
        return dt.datetime.fromisoformat(value["$datetime"])
    return value


def selection_to_data(selection: Selection) -> dict[str, Any]:
    """A JSON-ready form of ``selection`` (see :func:`selection_from_data`).

    Example:
        >>> from privacy_kit.adapters import where
        >>> selection_to_data(where.eq("host_id", 7))
        {'op': 'eq', 'field': 'host_id', 'value': 7}
    """
    s = selection
    if isinstance(s, All):
        return {"op": "all"}
    if isinstance(s, Eq):
        return {"op": "eq", "field": s.field, "value": _value_to_data(s.value)}
    if isinstance(s, In):
        return {"op": "in", "field": s.field, "values": [_value_to_data(v) for v in s.values]}
    if isinstance(s, Before | After):
        return {
            "op": "before" if isinstance(s, Before) else "after",
            "field": s.field,
            "instant": _value_to_data(s.instant),
            "inclusive": s.inclusive,
        }
    if isinstance(s, IsNull):
        return {"op": "is_null", "field": s.field}
    if isinstance(s, And | Or):
        return {
            "op": "and" if isinstance(s, And) else "or",
            "items": [selection_to_data(i) for i in s.items],
        }
    if isinstance(s, Not):
        return {"op": "not", "item": selection_to_data(s.item)}
    raise ConfigurationError(f"cannot store selection {s!r}")


def selection_from_data(data: Mapping[str, Any]) -> Selection:
    """Rebuild a selection from :func:`selection_to_data`'s form.

    Raises:
        ConfigurationError: the data is not a stored selection.

    Example:
        >>> selection_from_data({"op": "eq", "field": "host_id", "value": 7})
        Eq(field='host_id', value=7)
    """
    try:
        op = data["op"]
        if op == "all":
            return All()
        if op == "eq":
            return Eq(data["field"], _value_from_data(data["value"]))
        if op == "in":
            return In(data["field"], tuple(_value_from_data(v) for v in data["values"]))
        if op in ("before", "after"):
            cls = Before if op == "before" else After
            return cls(data["field"], _value_from_data(data["instant"]), bool(data["inclusive"]))
        if op == "is_null":
            return IsNull(data["field"])
        if op in ("and", "or"):
            items = tuple(selection_from_data(i) for i in data["items"])
            return And(items) if op == "and" else Or(items)
        if op == "not":
            return Not(selection_from_data(data["item"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"malformed stored selection {dict(data)!r}: {exc}") from exc
    raise ConfigurationError(f"unknown selection operator {op!r}")
