"""What the notebook views of rights results share: their columns and common rows and tables.

:class:`~privacy_kit.rights.ErasurePlan`, :class:`~privacy_kit.rights.ErasureReport`,
:class:`~privacy_kit.rights.ExportResult` and :class:`~privacy_kit.DataSubjectRequest` build
their ``__repr__``, ``_repr_html_`` and ``to_records`` from these (this module imports none of
them, so no import cycle). Tables come from :mod:`privacy_kit._html` (every value escaped).
Records have the same columns in every row (``None`` where a value does not apply), one type per
column, datetimes as ISO 8601 text. A request's views never show the identities it was made with
(personal data), only their kinds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .._html import html_table

if TYPE_CHECKING:
    from ..retention._commitments import Commitment
    from ..retention._holds_recheck import NewlyHeld

__all__: list[str] = []

ERASURE_COLUMNS = (
    "step",
    "record_type",
    "role",
    "outcome",
    "count",
    "fields",
    "method",
    "reason",
    "explanation",
    "until",
    "indefinite",
    "citation",
)

EXPORT_COLUMNS = ("entry", "records", "redacted")

REQUEST_COLUMNS = ("at", "from_status", "to_status", "note")


def scheduled_rows(items: Iterable[Commitment]) -> list[dict[str, object]]:
    return [
        {
            "step": c.id,
            "record_type": c.record_type,
            "outcome": "scheduled",
            "count": c.count,
            "fields": c.fields,
            "method": c.action,
            "reason": c.reason,
            "explanation": c.explanation,
            "until": c.due,
            "indefinite": False,
        }
        for c in items
    ]


def newly_held_rows(items: Iterable[NewlyHeld]) -> list[dict[str, object]]:
    return [
        {
            "step": n.step,
            "record_type": n.record_type,
            "outcome": "held",
            "count": n.count,
            "reason": "legal_hold",
            "explanation": "held by a hold placed after the plan: " + ", ".join(n.holds),
            "indefinite": False,
        }
        for n in items
    ]


_SHOWN = ("outcome", "record_type", "role", "count", "fields", "reason", "until", "explanation")


def erasure_table(title: str, rows: list[dict[str, object]], empty: str) -> str:
    cells = [tuple(r[c] for c in _SHOWN) for r in rows]
    return html_table(title, [c.replace("_", " ") for c in _SHOWN], cells, caption=empty or None)


def notes_table(notes: Iterable[str]) -> list[str]:
    """A "Notes" table, or nothing when there is no note."""
    rows = [(n,) for n in notes]
    return [html_table("Notes", ["note"], rows)] if rows else []
