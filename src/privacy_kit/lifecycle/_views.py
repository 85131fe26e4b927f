"""The columns of the notebook views of lifecycle results: ``to_records()`` and ``to_pandas()``
of :class:`~privacy_kit.PolicyDiff`, :class:`~privacy_kit.Incident` and
:class:`~privacy_kit.BreachAssessment` (each builds its views in its own module, with the tables
of :mod:`privacy_kit._html`, which escapes every value). Records have the same columns in every row
(``None`` where a value does not apply or is unknown), one type per column, datetimes as ISO 8601 text and
lists joined with ``"; "``.
"""

from __future__ import annotations

__all__: list[str] = []

DIFF_COLUMNS = (
    "old_version",
    "new_version",
    "kind",
    "key",
    "location",
    "side",
    "material",
    "subject_kinds",
    "description",
)

INCIDENT_COLUMNS = (
    "reference",
    "kind",
    "risk",
    "occurred_at",
    "aware_at",
    "contained_at",
    "categories",
    "record_types",
    "subjects",
    "subjects_total",
    "encrypted",
    "risk_no_longer_likely",
    "disproportionate_effort",
    "significant_harm",
    "description",
)

DUTY_COLUMNS = (
    "key",
    "regime",
    "to",
    "status",
    "required",
    "deadline",
    "timing",
    "keep_until",
    "channels",
    "subject_count",
    "reason",
    "note",
    "to_check",
    "citation",
    "description",
)
