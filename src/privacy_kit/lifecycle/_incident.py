"""A breach incident as the controller records it (:class:`Incident`, with its :class:`RiskLevel`):
when it happened and when the controller became aware of it, what it touched, how many people in
which jurisdictions and how risky it is, validated on construction; plus the check, shared by
:func:`~privacy_kit.assess` and :func:`~privacy_kit.subjects_to_notify`, that its categories are
in the policy's vocabulary."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .._errors import ConfigurationError
from .._html import data_frame, html_table, records
from .._types import Model, closest
from ..model._jurisdictions import jurisdictions
from ..model._policy import Policy
from ._views import INCIDENT_COLUMNS

__all__ = ["Incident", "RiskLevel"]


class RiskLevel(enum.StrEnum):
    """How likely and severe the risk to people's rights and freedoms is.

    ``low`` means *unlikely to result in a risk* (no authority notification under GDPR Art. 33(1),
    but the breach is still documented under Art. 33(5)); ``medium`` is a risk; ``high`` a high risk
    (people must be told, Art. 34(1)).
    """

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


IncidentKind = Literal["breach", "misconfiguration", "unauthorised_access"]


def _aware_value(value: dt.datetime | None, name: str) -> dt.datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise PydanticCustomError(
            "naive_datetime",
            f"{name} must be a timezone-aware datetime, got {value} (naive)",
        )
    return value


class Incident(Model):
    """A breach or misconfiguration that exposed, or could have exposed, personal data.

    Attributes:
        occurred_at: when it happened (timezone-aware).
        aware_at: when the controller became aware of it (timezone-aware, not before ``occurred_at``).
            Business-day deadlines count days in this datetime's time zone.
        contained_at: when the exposure ended, if known (records created later were not exposed).
        kind: ``breach``, ``misconfiguration`` or ``unauthorised_access``.
        categories: the data categories affected (dotted keys; a parent covers its children).
        record_types: the record types affected (empty: every record type holding the categories).
        subjects: number of people affected per jurisdiction key (``gdpr``, ``uk_gdpr``, ``lgpd``,
            ``pipeda``, ``ccpa``). Empty: unknown, and the policy's jurisdictions are assumed.
        encrypted: the data was unintelligible to anyone not authorised (e.g. encrypted).
        risk: the risk level (see :class:`RiskLevel`).
        risk_no_longer_likely: measures taken since make a high risk no longer likely (Art. 34(3)(b)).
        disproportionate_effort: telling each person would take disproportionate effort (Art. 34(3)(c)).
        significant_harm: PIPEDA's "real risk of significant harm" (``None``: when risk is high).
        reference: the controller's own reference for the incident.
        description: what happened, in the controller's words.

    Example:
        >>> import datetime as dt
        >>> inc = Incident(occurred_at=dt.datetime(2025, 3, 1, 9, tzinfo=dt.UTC),
        ...                aware_at=dt.datetime(2025, 3, 2, 10, tzinfo=dt.UTC),
        ...                categories=["user.contact.email"], risk="high")
        >>> inc.risk
        <RiskLevel.HIGH: 'high'>
        >>> Incident(occurred_at=dt.datetime(2025, 3, 1), aware_at=dt.datetime(2025, 3, 2, tzinfo=dt.UTC),
        ...          categories=["user.contact.email"], risk="low")
        Traceback (most recent call last):
        ...
        pydantic_core._pydantic_core.ValidationError: 1 validation error for Incident
        occurred_at
          occurred_at must be a timezone-aware datetime, got 2025-03-01 00:00:00 (naive) ...
    """

    occurred_at: dt.datetime
    aware_at: dt.datetime
    contained_at: dt.datetime | None = None
    kind: IncidentKind = "breach"
    categories: tuple[str, ...] = Field(min_length=1)
    record_types: tuple[str, ...] = ()
    subjects: dict[str, int] = Field(default_factory=dict)
    encrypted: bool = False
    risk: RiskLevel
    risk_no_longer_likely: bool = False
    disproportionate_effort: bool = False
    significant_harm: bool | None = None
    reference: str | None = None
    description: str | None = None

    @field_validator("occurred_at", "aware_at", "contained_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None, info: ValidationInfo) -> dt.datetime | None:
        return _aware_value(value, info.field_name or "datetime")

    @field_validator("subjects")
    @classmethod
    def _known_jurisdictions(cls, value: dict[str, int]) -> dict[str, int]:
        known = [j.key for j in jurisdictions()]
        for key, count in value.items():
            if key not in known:
                hint = closest(key, known)
                suffix = f"; did you mean {hint!r}?" if hint else f"; known: {', '.join(known)}"
                raise PydanticCustomError("jurisdiction", f"unknown jurisdiction {key!r}{suffix}")
            if count < 0:
                raise PydanticCustomError(
                    "subject_count", f"subject count for {key!r} must not be negative"
                )
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Incident:
        if self.aware_at < self.occurred_at:
            raise PydanticCustomError(
                "incident_order",
                f"aware_at ({self.aware_at.isoformat()}) is before occurred_at "
                f"({self.occurred_at.isoformat()}); a controller cannot become aware of a breach "
                "before it happens",
            )
        if self.contained_at is not None and self.contained_at < self.occurred_at:
            raise PydanticCustomError(
                "incident_order",
                f"contained_at ({self.contained_at.isoformat()}) is before occurred_at",
            )
        return self

    @property
    def harm_is_significant(self) -> bool:
        """PIPEDA's real risk of significant harm (the explicit flag, else ``risk == high``)."""
        if self.significant_harm is not None:
            return self.significant_harm
        return self.risk is RiskLevel.HIGH

    def __repr__(self) -> str:
        return incident_repr(self)

    def _repr_html_(self) -> str:
        return incident_html(self)

    def to_records(self) -> list[dict[str, object]]:
        """The incident as one flat row, so several incidents stack into one data frame.

        Columns: ``reference, kind, risk, occurred_at, aware_at, contained_at, categories,
        record_types, subjects, subjects_total, encrypted, risk_no_longer_likely,
        disproportionate_effort, significant_harm, description``; ``subjects`` as
        ``"gdpr=120; uk_gdpr=4"`` (``None``: unknown), ``significant_harm`` the effective value
        (:attr:`harm_is_significant`).
        """
        return incident_records(self)

    def to_pandas(self) -> Any:
        """:meth:`to_records` as a ``pandas.DataFrame`` (same columns, even with no rows).

        Raises:
            ConfigurationError: if pandas is not installed (``pip install pandas``).
        """
        return data_frame(INCIDENT_COLUMNS, self.to_records(), of="Incident")


def _check_categories(policy: Policy, categories: Iterable[str]) -> None:
    vocabulary = policy.vocabulary
    for i, key in enumerate(categories):
        if not vocabulary.has_category(key):
            hint = vocabulary.suggest_category(key)
            suffix = f"; did you mean {hint!r}?" if hint else ""
            raise ConfigurationError(f"incident.categories[{i}]: unknown category {key!r}{suffix}")


# -- notebook views --------------------------------------------------------------------------


def _subjects(incident: Incident) -> tuple[str, ...]:
    return tuple(f"{key}={count}" for key, count in sorted(incident.subjects.items()))


def incident_repr(incident: Incident) -> str:
    ref = f"reference={incident.reference!r}, " if incident.reference else ""
    subjects = dict(sorted(incident.subjects.items())) or "unknown"
    return (
        f"Incident({ref}kind={incident.kind!r}, risk={incident.risk.value!r}, "
        f"occurred_at={incident.occurred_at.isoformat()!r}, "
        f"aware_at={incident.aware_at.isoformat()!r}, categories={len(incident.categories)}, "
        f"subjects={subjects})"
    )


def _incident_row(incident: Incident) -> dict[str, object]:
    return {
        "reference": incident.reference,
        "kind": incident.kind,
        "risk": incident.risk,
        "occurred_at": incident.occurred_at,
        "aware_at": incident.aware_at,
        "contained_at": incident.contained_at,
        "categories": incident.categories,
        "record_types": incident.record_types or None,
        "subjects": _subjects(incident) or None,
        "subjects_total": sum(incident.subjects.values()) if incident.subjects else None,
        "encrypted": incident.encrypted,
        "risk_no_longer_likely": incident.risk_no_longer_likely,
        "disproportionate_effort": incident.disproportionate_effort,
        "significant_harm": incident.harm_is_significant,
        "description": incident.description,
    }


def incident_records(incident: Incident) -> list[dict[str, object]]:
    return records(INCIDENT_COLUMNS, [_incident_row(incident)])


def _incident_table(incident: Incident) -> str:
    row = _incident_row(incident)
    if not incident.subjects:
        row["subjects"] = "unknown (the policy's jurisdictions are assumed)"
    if not incident.record_types:
        row["record_types"] = "every record type holding the categories"
    title = f"Incident {incident.reference or ''}".rstrip()
    items = [(name.replace("_", " "), value) for name, value in row.items()]
    return html_table(title, ["", "value"], items)


def incident_html(incident: Incident) -> str:
    return _incident_table(incident)
