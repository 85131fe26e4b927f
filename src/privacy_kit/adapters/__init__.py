"""Storage adapters: the protocol, the selection language and the built-in adapters.

``InMemoryAdapter`` and ``SQLiteAdapter`` need nothing beyond the standard library;
``SQLAlchemyAdapter`` needs the ``privacy-kit[sqlalchemy]`` extra. The SQL adapters are imported
only when first used, so ``import privacy_kit.adapters`` never imports SQLAlchemy.

Example:
    >>> from privacy_kit.adapters import where
    >>> where.eq("id", 1) | where.is_null("email")
    Or(items=(Eq(field='id', value=1), IsNull(field='email')))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._base import (
    WRITE_BATCH,
    Adapter,
    BaseAdapter,
    Capability,
    Record,
    RecordKey,
    atomic_of,
    batch_option,
    count_each,
    missing_problems,
    reading_together,
)

__all__ = [
    "WRITE_BATCH",
    "Adapter",
    "After",
    "All",
    "And",
    "BaseAdapter",
    "Before",
    "BlockBoundsReporter",
    "BlockRange",
    "Capability",
    "Eq",
    "ForeignKeyReporter",
    "In",
    "InMemoryAdapter",
    "IsNull",
    "Not",
    "Or",
    "Partition",
    "PartitionDrops",
    "PartitionSurvey",
    "Record",
    "RecordKey",
    "Related",
    "SQLAlchemyAdapter",
    "SQLiteAdapter",
    "Selection",
    "TimeBounds",
    "TimeBoundsReporter",
    "UnsupportedSelectionError",
    "atomic_of",
    "batch_option",
    "block_bounds",
    "bounds_of_pieces",
    "count_each",
    "missing_problems",
    "piece_starts",
    "reading_together",
    "reported_foreign_keys",
    "store_deletion_order",
    "time_bounds",
    "where",
]

# Imported on first use: the SQL adapters (SQLAlchemy is an extra), and what a first use (load a
# policy, make an Engine over SQLite) does not need: the selections too (eleven attrs classes, a
# twentieth of a first use), made when the first one is.
_LAZY = {
    "After": "._selection",
    "All": "._selection",
    "And": "._selection",
    "Before": "._selection",
    "Eq": "._selection",
    "In": "._selection",
    "IsNull": "._selection",
    "Not": "._selection",
    "Or": "._selection",
    "Related": "._selection",
    "Selection": "._selection",
    "UnsupportedSelectionError": "._selection",
    "where": "._selection",
    "SQLiteAdapter": "._sqlite",
    "SQLAlchemyAdapter": "._sqlalchemy",
    "InMemoryAdapter": "._memory",
    "ForeignKeyReporter": "._order",
    "reported_foreign_keys": "._order",
    "store_deletion_order": "._order",
    "TimeBounds": "._bounds",
    "TimeBoundsReporter": "._bounds",
    "bounds_of_pieces": "._bounds",
    "piece_starts": "._bounds",
    "time_bounds": "._bounds",
    "BlockBoundsReporter": "._blocks",
    "BlockRange": "._blocks",
    "block_bounds": "._blocks",
    "Partition": "._partition",
    "PartitionDrops": "._partition",
    "PartitionSurvey": "._partition",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'privacy_kit.adapters' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from ._blocks import BlockBoundsReporter, BlockRange, block_bounds
    from ._bounds import TimeBounds, TimeBoundsReporter, bounds_of_pieces, piece_starts, time_bounds
    from ._memory import InMemoryAdapter
    from ._order import ForeignKeyReporter, reported_foreign_keys, store_deletion_order
    from ._partition import Partition, PartitionDrops, PartitionSurvey
    from ._selection import (
        After,
        All,
        And,
        Before,
        Eq,
        In,
        IsNull,
        Not,
        Or,
        Related,
        Selection,
        UnsupportedSelectionError,
        where,
    )
    from ._sqlalchemy import SQLAlchemyAdapter
    from ._sqlite import SQLiteAdapter
