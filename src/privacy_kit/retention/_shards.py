"""A sweep's shards as values: :class:`Shard` (a trigger-time range of one plan entry) and
:class:`ShardReport` (what applying one did), both plain JSON for a task queue to carry.

A shard is a range of the entry's trigger time: the record's own time field, or, for an entry
whose trigger is the account's, the account's (the range then narrows the entry's
``account_selection``). An entry's shards cut that field at increasing bounds: the first takes
``field < b1`` and the records whose field is NULL, the middle ones ``b_i <= field < b_i+1``, the
last ``field >= b_k``; so together they are the whole entry, whatever the bounds. An entry with
no trigger field (a commitment's), or too small to cut, is one shard that is the whole entry.

Where the store keeps the table in blocks it can read by range
(:attr:`~privacy_kit.adapters.Capability.BLOCK_RANGES`: PostgreSQL, a plain table), an entry
whose trigger time is its records' own is cut by **block ranges** instead (``blocks``): each
shard is the entry's selection within blocks ``start`` to ``end`` of the table, the first from
block 0, the last to the table's end, so each shard reads only its part of the table and together
they are the whole entry. :mod:`privacy_kit.retention._sweep` makes, applies and totals them.

The documents are versioned like the plans' (``{"format": "privacy_kit.shard", "version": 2,
"kind": "shard", "shard": {...}}``; version 1, written before block ranges, is read as a shard
without them); a malformed one raises a :class:`~privacy_kit.PlanFormatError` naming the field
(``shard.index``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any, Literal

import attrs
import orjson

from .._errors import PlanError
from ..adapters import After, And, Before, BlockRange, IsNull, Or, Selection
from ._holds_recheck import NewlyHeld
from ._plan_codec import Reader, open_head

__all__ = ["SHARD_FORMAT", "SHARD_FORMAT_VERSION", "Shard", "ShardReport"]

SHARD_FORMAT = "privacy_kit.shard"
#: The shard document format this version writes and the newest it reads (2: ``blocks``).
SHARD_FORMAT_VERSION = 2

BoundsBy = Literal["store", "read", "single"]
_BY = ("store", "read", "single")


def _ints(items: Iterable[int]) -> tuple[int, ...]:
    return tuple(items)


def _newly(items: Iterable[NewlyHeld]) -> tuple[NewlyHeld, ...]:
    return tuple(items)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _document(kind: str, body: dict[str, Any]) -> str:
    head = {"format": SHARD_FORMAT, "version": SHARD_FORMAT_VERSION, "kind": kind, kind: body}
    return orjson.dumps(head).decode("utf-8")


def _open(data: str | bytes | bytearray | memoryview, kind: str) -> Reader:
    """The body of a shard document of ``kind`` (located errors, as the plans' documents)."""
    return open_head(data, SHARD_FORMAT, SHARD_FORMAT_VERSION, kind).obj(kind)


def _problem(shard: Any) -> tuple[str, str] | None:
    """What makes these values no shard: ``(attribute, why)``; ``None``: they are one."""
    if shard.of < 1 or not 0 <= shard.index < shard.of:
        return "index", f"index {shard.index} out of range (0 to {shard.of - 1})"
    if shard.entry < 0:
        return "entry", "the entry is an index into the plan's entries, not negative"
    if shard.bounds_by not in _BY:
        return "bounds_by", f"one of {', '.join(_BY)}, not {shard.bounds_by!r}"
    if shard.blocks is not None:
        return _blocks_problem(shard)
    if shard.field is None:
        for name in ("lower", "upper", "nulls", "on_account"):
            if getattr(shard, name) not in (None, False):
                return name, "a shard without a field is the whole entry: no range"
        if shard.of != 1:
            return "of", "a shard without a field is the whole entry (one of one)"
        return None
    if shard.of < 2:
        return "of", "a shard of one is the whole entry (field None)"
    for name, value, unbounded in (
        ("lower", shard.lower, shard.index == 0),
        ("upper", shard.upper, shard.index == shard.of - 1),
    ):
        if (value is None) != unbounded:
            which = "first" if name == "lower" else "last"
            return name, f"the {which} shard, and only it, has no {name} bound"
        if value is not None and value.utcoffset() is None:
            return name, "a bound without a timezone"
    if shard.lower is not None and shard.upper is not None and shard.lower >= shard.upper:
        return "upper", "the upper bound is not after the lower one"
    if shard.nulls != (shard.index == 0):
        return "nulls", "the first shard, and only it, takes the NULL trigger times"
    return None


def _blocks_problem(shard: Any) -> tuple[str, str] | None:
    """What makes a block-range shard's values no shard (see :func:`_problem`)."""
    for name in ("field", "lower", "upper", "nulls", "on_account"):
        if getattr(shard, name) not in (None, False):
            return name, "a shard of a block range has no time range"
    if shard.of < 2:
        return "of", "a shard of one is the whole entry (blocks None)"
    start, end = shard.blocks
    if type(start) is not int or start < 0 or (shard.index == 0) != (start == 0):
        return "blocks", "the first shard, and only it, starts at block 0"
    if (end is None) != (shard.index == shard.of - 1):
        return "blocks", "the last shard, and only it, runs to the end of the table"
    if end is not None and (type(end) is not int or end <= start):
        return "blocks", "the end block is not after the start block"
    return None


def _blocks(value: Any) -> tuple[int, int | None] | None:
    return None if value is None else (value[0], value[1])


@attrs.frozen
class Shard:
    """One trigger-time range of one entry of a retention plan (see the module).

    Attributes:
        plan: the plan's id.
        entry: the entry's index in ``plan.entries``.
        index: this shard's place among the entry's shards (0 to ``of - 1``).
        of: how many shards the entry has.
        field: the time field ranged over (``None``: the whole entry, one shard).
        on_account: the field is the account's (the range narrows ``account_selection``).
        lower: inclusive bound (``None``: unbounded below).
        upper: exclusive bound (``None``: unbounded above).
        nulls: this shard also takes the records whose field is NULL (the first one does).
        bounds_by: ``store``: the adapter computed the bounds in one statement; ``read``: it
            cannot, so privacy_kit read the field itself (``note`` says so); ``single``: one shard.
        after: the entries (indexes) that must be finished before this one runs (they read
            their trigger time from this entry's records, or the store's foreign keys point
            from them to its records); applying the shard finishes them first.
        note: how the bounds were found when it was not by the store.
        blocks: ``(start, end)``: the shard is the entry's records stored in blocks ``start``
            to ``end`` (exclusive; ``None``: to the end) of the table, not a time range
            (``field`` is then ``None``; see the module).

    Raises:
        PlanError: the values cannot be a shard (index out of range, bounds out of order, ...),
            naming the attribute.

    Example:
        >>> import datetime as dt
        >>> s = Shard("ret_ab12", 3, 1, 4, "end_at", False,
        ...           dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2024, 7, 1, tzinfo=dt.UTC),
        ...           False, "store")
        >>> print(s.describe())
        shard 2 of 4 of entry 3 of plan ret_ab12: end_at >= 2024-01-01T00:00:00+00:00 and < 2024-07-01T00:00:00+00:00 (bounds computed by the store)
        >>> Shard.from_json(s.to_json()) == s
        True
    """

    plan: str
    entry: int
    index: int
    of: int
    field: str | None
    on_account: bool
    lower: dt.datetime | None
    upper: dt.datetime | None
    nulls: bool
    bounds_by: BoundsBy = "single"
    after: tuple[int, ...] = attrs.field(default=(), converter=_ints)
    note: str | None = None
    blocks: tuple[int, int | None] | None = attrs.field(default=None, converter=_blocks)

    def __attrs_post_init__(self) -> None:
        found = _problem(self)
        if found is not None:
            where = f"shard {self.index} of {self.of} (entry {self.entry} of plan {self.plan})"
            raise PlanError(f"{where}: {found[0]}: {found[1]}")

    @property
    def key(self) -> str:
        """How the journal names this shard: ``index/of``."""
        return f"{self.index}/{self.of}"

    def range_selection(self) -> Selection | None:
        """The range as a selection on ``field`` (``None``: the whole entry).

        Example:
            >>> import datetime as dt
            >>> Shard("p", 0, 0, 2, "at", False, None, dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
            ...       True).range_selection()
            Or(items=(IsNull(field='at'), Before(field='at', instant=datetime.datetime(2024, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), inclusive=False)))
        """
        if self.blocks is not None:
            return BlockRange(*self.blocks)
        if self.field is None:
            return None
        parts: list[Selection] = []
        if self.lower is not None:
            parts.append(After(self.field, self.lower, inclusive=True))
        if self.upper is not None:
            parts.append(Before(self.field, self.upper))
        found = parts[0] if len(parts) == 1 else And(tuple(parts))
        return Or((IsNull(self.field), found)) if self.nulls else found

    def describe(self) -> str:
        """One line: which shard, which range, how its bounds were found."""
        head = f"shard {self.index + 1} of {self.of} of entry {self.entry} of plan {self.plan}"
        if self.blocks is not None:
            start, end = self.blocks
            upto = "the end of the table" if end is None else f"block {end}"
            return f"{head}: table blocks from {start} to {upto} (bounds computed by the store)"
        if self.field is None:
            return f"{head}: the whole entry"
        where = "the account's " if self.on_account else ""
        parts = []
        if self.lower is not None:
            parts.append(f">= {self.lower.isoformat()}")
        if self.upper is not None:
            parts.append(f"< {self.upper.isoformat()}")
        text = f"{head}: {where}{self.field} {' and '.join(parts)}"
        if self.nulls:
            text += f", or {self.field} NULL"
        how = {"store": "computed by the store", "read": "read by privacy_kit"}[self.bounds_by]
        text += f" (bounds {how}"
        return text + (f": {self.note})" if self.note else ")")

    def to_dict(self) -> dict[str, Any]:
        """The shard as JSON-ready data (the body of :meth:`to_json`)."""
        return {
            "plan": self.plan,
            "entry": self.entry,
            "index": self.index,
            "of": self.of,
            "field": self.field,
            "on_account": self.on_account,
            "lower": _iso(self.lower),
            "upper": _iso(self.upper),
            "nulls": self.nulls,
            "bounds_by": self.bounds_by,
            "after": list(self.after),
            "note": self.note,
            "blocks": None if self.blocks is None else list(self.blocks),
        }

    def to_json(self) -> str:
        """The shard as a versioned JSON document (:meth:`from_json` reads it back)."""
        return _document("shard", self.to_dict())

    @classmethod
    def from_json(cls, text: str | bytes | bytearray | memoryview) -> Shard:
        """Read :meth:`to_json`'s document.

        Raises:
            PlanFormatError: malformed, of another kind or a newer version, or not a shard
                (the error names the field: ``shard.index``).
        """
        r = _open(text, "shard")
        by = r.text("bounds_by")
        if by not in _BY:
            r.fail("bounds_by", f"expected one of {', '.join(_BY)}, got {by!r}")
        fields: dict[str, Any] = {
            "plan": r.text("plan"),
            "entry": r.integer("entry"),
            "index": r.integer("index"),
            "of": r.integer("of"),
            "field": r.opt_text("field"),
            "on_account": r.flag("on_account"),
            "lower": r.opt_instant("lower"),
            "upper": r.opt_instant("upper"),
            "nulls": r.flag("nulls"),
            "bounds_by": by,
            "after": r.integers("after"),
            "note": r.opt_text("note"),
            "blocks": _read_blocks(r),
        }
        found = _problem(SimpleNamespace(**fields))
        if found is not None:
            r.fail(*found)
        return cls(**fields)


def _read_blocks(r: Reader) -> tuple[int, int | None] | None:
    """``shard.blocks``: absent (a version 1 document) or ``null``: none."""
    if r.data.get("blocks") is None:
        return None
    items = r.raw("blocks")
    if not isinstance(items, list) or len(items) != 2:
        r.fail("blocks", f"expected [start, end or null], got {items!r}")
    pair = Reader({"start": items[0], "end": items[1]}, r.at("blocks"))
    return pair.integer("start"), pair.opt_integer("end")


@attrs.frozen
class ShardReport:
    """What applying one shard did (:meth:`Engine.apply_shard <privacy_kit.Engine.apply_shard>`).

    Attributes:
        plan: the plan's id.
        entry: the entry's index.
        index: the shard's index among the entry's shards.
        done: records this shard changed, in every run of it (an earlier run's work counted).
        resumed: some of it was done by an earlier (interrupted or repeated) run; always ``True``
            for a shard applied again after it finished (nothing changes then).
        exact: ``False``: what an earlier, interrupted run changed is partly unknown (``done``
            is a lower bound).
        newly_held: records a hold placed after the plan kept out.
        of: how many shards the entry has.
        earlier: of ``done``, records changed by an earlier run.
        skipped_units: units an earlier run finished.
        kept_out: per unit, what a hold placed after the plan kept out (``newly_held`` in detail).

    Example:
        >>> r = ShardReport("ret_ab12", 3, 1, done=120, resumed=False, exact=True, newly_held=0, of=4)
        >>> r.describe()
        'shard 2 of 4 of entry 3 of plan ret_ab12: 120 record(s) changed'
        >>> ShardReport.from_json(r.to_json()) == r
        True
    """

    plan: str
    entry: int
    index: int
    done: int
    resumed: bool
    exact: bool
    newly_held: int
    of: int = 1
    earlier: int = 0
    skipped_units: int = 0
    kept_out: tuple[NewlyHeld, ...] = attrs.field(default=(), converter=_newly)

    def describe(self) -> str:
        """One line: which shard, what it changed."""
        bound = "" if self.exact else "at least "
        text = (
            f"shard {self.index + 1} of {self.of} of entry {self.entry} of plan {self.plan}: "
            f"{bound}{self.done} record(s) changed"
        )
        if self.earlier:
            text += f" ({self.earlier} by an earlier run)"
        if self.newly_held:
            text += f", {self.newly_held} held by a hold placed after the plan"
        return text + (", resumed" if self.resumed and not self.earlier else "")

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (the body of :meth:`to_json`; what the journal keeps)."""
        return {
            "plan": self.plan,
            "entry": self.entry,
            "index": self.index,
            "of": self.of,
            "done": self.done,
            "resumed": self.resumed,
            "exact": self.exact,
            "newly_held": self.newly_held,
            "earlier": self.earlier,
            "skipped_units": self.skipped_units,
            "kept_out": [n.to_dict() for n in self.kept_out],
        }

    def to_json(self) -> str:
        """The report as a versioned JSON document (:meth:`from_json` reads it back)."""
        return _document("shard_report", self.to_dict())

    @classmethod
    def from_dict(cls, data: Any, location: str = "shard_report") -> ShardReport:
        """Read :meth:`to_dict`'s form (located errors, as :meth:`from_json`)."""
        r = Reader(data, location)
        kept = r.each(
            "kept_out",
            lambda n: NewlyHeld(
                n.text("record_type"), n.text("step"), n.integer("count"), n.texts("holds")
            ),
        )
        fields: dict[str, Any] = {
            "plan": r.text("plan"),
            "entry": r.integer("entry"),
            "index": r.integer("index"),
            "of": r.integer("of"),
            "done": r.integer("done"),
            "resumed": r.flag("resumed"),
            "exact": r.flag("exact"),
            "newly_held": r.integer("newly_held"),
            "earlier": r.integer("earlier"),
            "skipped_units": r.integer("skipped_units"),
            "kept_out": kept,
        }
        if not fields["index"] < fields["of"]:
            r.fail("index", f"index {fields['index']} out of range (0 to {fields['of'] - 1})")
        return cls(**fields)

    @classmethod
    def from_json(cls, text: str | bytes | bytearray | memoryview) -> ShardReport:
        """Read :meth:`to_json`'s document.

        Raises:
            PlanFormatError: malformed, of another kind or a newer version (names the field).
        """
        r = _open(text, "shard_report")
        return cls.from_dict(r.data, r.location)
