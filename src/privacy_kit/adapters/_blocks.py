"""Ranges of a table's storage blocks: how a sweep's shards each read only their part of a table.

A shard cut by its trigger time reads only its rows where the store can find them by that time
(an index range scan, a partition). Where it cannot, every shard reads the whole table, and a
second worker gains nothing. An adapter whose store keeps a table in numbered blocks and can
read a range of them without the rest (PostgreSQL's heap: a TID range scan,
``ctid >= '(b,0)' AND ctid < '(e,0)'``) declares :attr:`Capability.BLOCK_RANGES`: it cuts a
table into ranges of blocks (``block_bounds(record_type, pieces)``, the
:class:`BlockBoundsReporter` protocol) and runs :class:`BlockRange` selections. The shards of an
entry are then the entry's selection within each range: disjoint, and together the whole table
(the first range starts at block 0, the last has no end, so rows written to new blocks meanwhile
are in it).

The SQLAlchemy adapter declares it on PostgreSQL, for plain (not partitioned) tables; every
other adapter refuses a :class:`BlockRange` (:class:`UnsupportedSelectionError`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from ..model._datamap import RecordType
from ._base import Adapter, Capability
from ._selection import And, Selection, UnsupportedSelectionError

__all__ = ["BlockBoundsReporter", "BlockRange", "block_bounds", "block_range_of", "cut_blocks"]


def _start(_instance: Any, _attribute: Any, value: int) -> None:
    if type(value) is not int or value < 0:
        raise ValueError(f"a block range starts at a block number (0 or more), not {value!r}")


def _end(instance: Any, _attribute: Any, value: int | None) -> None:
    if value is not None and (type(value) is not int or value <= instance.start):
        raise ValueError(
            f"a block range ends after its start ({instance.start}) or is open (None), "
            f"not {value!r}"
        )


@attrs.frozen
class BlockRange(Selection):
    """The records stored in blocks ``start`` (inclusive) to ``end`` (exclusive; ``None``: to
    the end of the table) of the table, whatever their values.

    Only an adapter declaring :attr:`~privacy_kit.adapters.Capability.BLOCK_RANGES` runs it; a
    record's block is not a value, so it cannot be evaluated in memory.

    Example:
        >>> from privacy_kit.adapters import where
        >>> BlockRange(0, 128) & where.is_null("end_at")
        And(items=(BlockRange(start=0, end=128), IsNull(field='end_at')))
        >>> BlockRange(0, 128).matches({"end_at": None})
        Traceback (most recent call last):
        ...
        privacy_kit.adapters._selection.UnsupportedSelectionError: BlockRange(start=0, end=128) selects by where records are stored: only an adapter with the 'block_ranges' capability runs it
    """

    start: int = attrs.field(validator=_start)
    end: int | None = attrs.field(default=None, validator=_end)

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        raise UnsupportedSelectionError(
            Capability.BLOCK_RANGES.value,
            f"{self!r} selects by where records are stored: only an adapter with the "
            f"{Capability.BLOCK_RANGES.value!r} capability runs it",
        )

    def fields(self) -> Iterator[str]:
        return iter(())


def block_range_of(selection: Selection) -> BlockRange | None:
    """The :class:`BlockRange` a selection is confined to: the selection itself, or a term of its
    top-level ``And`` (``None``: it is not confined to one)."""
    if isinstance(selection, BlockRange):
        return selection
    if isinstance(selection, And):
        for item in selection.items:
            found = block_range_of(item)
            if found is not None:
                return found
    return None


@runtime_checkable
class BlockBoundsReporter(Protocol):
    """An adapter that cuts a table into ranges of its blocks (``Capability.BLOCK_RANGES``)."""

    def block_bounds(self, record_type: RecordType, pieces: int) -> tuple[int, ...]:
        """Increasing block numbers cutting the table into about ``pieces`` ranges of equal
        size (empty: the table cannot be cut, say it is partitioned or fits in one block)."""
        ...


def cut_blocks(blocks: int, pieces: int) -> tuple[int, ...]:
    """The block numbers cutting ``blocks`` blocks into at most ``pieces`` ranges of about equal
    size (every range at least one block).

    Example:
        >>> cut_blocks(10, 3), cut_blocks(2, 5), cut_blocks(0, 4)
        ((3, 7), (1,), ())
    """
    pieces = min(pieces, blocks)
    return tuple(sorted({round(blocks * i / pieces) for i in range(1, pieces)}))


def block_bounds(adapter: Adapter, record_type: RecordType, pieces: int) -> tuple[int, ...]:
    """Block numbers cutting ``record_type``'s table into about ``pieces`` ranges, from an
    adapter declaring :attr:`Capability.BLOCK_RANGES`; empty when it does not, or when the
    table cannot be cut (partitioned, or a single block).

    Example:
        >>> import privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> rt = pk.load_datamap(pk.example_path("datamap.yaml")).record_type("bookings")
        >>> block_bounds(InMemoryAdapter({}), rt, 4)
        ()
    """
    if pieces < 2 or Capability.BLOCK_RANGES not in adapter.capabilities:
        return ()
    if not isinstance(adapter, BlockBoundsReporter):
        return ()
    return adapter.block_bounds(record_type, pieces)
