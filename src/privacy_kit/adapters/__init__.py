"""Storage adapters: the protocol, the selection language and the built-in adapters.

``InMemoryAdapter`` and ``SQLiteAdapter`` need nothing beyond the standard library;
``SQLAlchemyAdapter`` needs the ``privacy-kit[sqlalchemy]`` extra and is imported only when used.

Example:
    >>> from privacy_kit.adapters import where
    >>> where.eq("id", 1) | where.is_null("email")
    Or(items=(Eq(field='id', value=1), IsNull(field='email')))
"""

from __future__ import annotations

from ._base import Adapter, BaseAdapter, Capability, Record, RecordKey, missing_problems
from ._memory import InMemoryAdapter
from ._selection import After, All, And, Before, Eq, In, IsNull, Not, Or, Selection, where

__all__ = [
    "Adapter",
    "After",
    "All",
    "And",
    "BaseAdapter",
    "Before",
    "Capability",
    "Eq",
    "In",
    "InMemoryAdapter",
    "IsNull",
    "Not",
    "Or",
    "Record",
    "RecordKey",
    "Selection",
    "missing_problems",
    "where",
]
