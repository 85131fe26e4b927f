"""What the notebook views of retention results share: their columns and extra tables.

:class:`~privacy_kit.retention.RetentionPlan`, :class:`~privacy_kit.retention.RetentionReport`
and :class:`~privacy_kit.retention.RecordFate` build their ``__repr__``, ``_repr_html_`` and
``to_records`` from these (this module imports none of them, so no import cycle); the tables
come from :mod:`privacy_kit._html`, which escapes every value. Records have the same columns in every row (``None`` where a value does not apply),
one type per column, datetimes as ISO 8601 text and durations as ISO 8601 durations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._html import html_table

if TYPE_CHECKING:
    from ._indefinite import IndefiniteKeep
    from ._orphans import Orphans

__all__: list[str] = []

PLAN_COLUMNS = (
    "rule",
    "record_type",
    "action",
    "group",
    "when",
    "duration",
    "cutoff",
    "after",
    "fields",
    "count",
    "held",
    "holds",
    "commitment",
    "gone_from_backups_by",
)

REPORT_COLUMNS = (
    "rule",
    "record_type",
    "action",
    "group",
    "planned",
    "done",
    "held",
    "newly_held",
    "earlier",
    "exact",
    "resumed",
)

FATE_COLUMNS = (
    "record_type",
    "key",
    "rule",
    "action",
    "when",
    "trigger",
    "time_field",
    "trigger_time",
    "duration",
    "override",
    "expires_at",
    "expired",
    "held",
    "commitments",
    "untimed",
    "stages",
    "kept_indefinitely",
    "gone_from_live_by",
    "gone_from_backups_by",
    "sentence",
)


def extras_html(
    orphans: tuple[Orphans, ...],
    kept: tuple[IndefiniteKeep, ...],
    skipped: tuple[tuple[str, str], ...] = (),
    notes: tuple[str, ...] = (),
) -> list[str]:
    out = []
    if orphans:
        out.append(
            html_table(
                "Orphans: records no sweep can ever time",
                ["what"],
                [(o.describe(),) for o in orphans],
            )
        )
    if kept:
        out.append(html_table("Kept indefinitely", ["what"], [(k.describe(),) for k in kept]))
    if skipped:
        out.append(html_table("Skipped record types", ["record type", "reason"], skipped))
    if notes:
        out.append(html_table("Notes", ["note"], [(n,) for n in notes]))
    return out
