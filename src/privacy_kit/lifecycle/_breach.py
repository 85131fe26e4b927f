"""Breach incidents: the duties and deadlines that follow, who must be told, and the notice text.

An :class:`Incident` says when a breach happened and when the controller became aware of it, which
categories and record types it touched, how many people in which jurisdictions, whether the data
was unintelligible (encrypted), and how risky it is. :func:`assess` turns it into a
:class:`BreachAssessment`: every duty (to the authority, to the people affected, the policy's own
promise to customers, documentation and records) with its deadline, its status at ``now`` and the
article it comes from. The legal rules are data, in :data:`BREACH_RULES` (one row per duty, each
with its citation); the policy's promise comes from ``policy.breach``.

:func:`subjects_to_notify` finds the people concerned through the data map (record types holding
the affected categories) and the adapters (reading only the subject-link fields, in batches), and
:func:`draft_notice` drafts the message from the policy's localisable breach text.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Iterator, Mapping
from typing import Literal

import attrs
from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .._errors import AdapterError, ConfigurationError, PrivacyKitError
from .._scope import Catalog, Subject
from .._types import Duration, Model, closest, require_aware
from ..adapters import Selection, where
from ..model._datamap import RecordType, SubjectLink
from ..model._jurisdictions import jurisdictions
from ..model._policy import Policy
from ..model._taxonomy import is_within

__all__ = [
    "BREACH_RULES",
    "AffectedSubject",
    "BreachAssessment",
    "BreachDuty",
    "BreachNotice",
    "BreachRule",
    "DutyStatus",
    "Exemption",
    "Incident",
    "RiskLevel",
    "add_business_days",
    "assess",
    "draft_notice",
    "subjects_to_notify",
]


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


# -- the rules as data ------------------------------------------------------------------------
Audience = Literal["authority", "subjects", "public", "records"]
Condition = Literal["always", "risk", "high_risk", "significant_harm", "over_500"]
Timing = Literal[
    "elapsed", "business_days", "calendar", "undue_delay", "as_soon_as_feasible",
    "most_expedient", "document", "keep",
]  # fmt: skip
ExemptionFlag = Literal["encrypted", "risk_no_longer_likely", "disproportionate_effort"]


@attrs.frozen
class Exemption:
    """A ground on which a duty does not apply, with its citation.

    Attributes:
        flag: the incident flag that triggers it.
        citation: where it comes from.
        reason: why the duty does not apply.
        instead: the audience told instead (e.g. ``public`` for a public communication).
    """

    flag: ExemptionFlag
    citation: str
    reason: str
    instead: Audience | None = None


@attrs.frozen
class BreachRule:
    """One duty of one regime, as cited data.

    Attributes:
        key: a stable identifier, e.g. ``gdpr.authority``.
        regime: the jurisdiction key whose subjects trigger the rule.
        to: who must be told (``authority``, ``subjects``, ``public``) or ``records`` to keep.
        description: what must be done.
        condition: when the duty arises (``always``; ``risk``: medium or high; ``high_risk``;
            ``significant_harm``; ``over_500``: more than 500 people in the regime).
        timing: how the deadline is counted (``elapsed`` hours from awareness, ``business_days``,
            ``calendar`` days, or ``undue_delay`` / ``as_soon_as_feasible`` / ``most_expedient``
            with no fixed deadline, ``document`` with none, ``keep`` records for ``within``).
        within: the duration, for ``elapsed``, ``calendar`` and ``keep``.
        business_days: the number of business days, for ``business_days``.
        citation: the article or instrument.
        late: what lateness entails, shown when ``now`` is past the deadline.
        exemptions: grounds on which the duty does not apply.
        to_check: the figure was not confirmed against a primary source.
        note: anything else worth knowing.
        from_date: the rule applies to incidents the controller became aware of on or after this date.
        until_date: ... and before this date.
    """

    key: str
    regime: str
    to: Audience
    description: str
    condition: Condition
    timing: Timing
    citation: str
    within: Duration | None = None
    business_days: int | None = None
    late: str | None = None
    exemptions: tuple[Exemption, ...] = ()
    to_check: bool = False
    note: str | None = None
    from_date: dt.date | None = None
    until_date: dt.date | None = None

    def in_force(self, on: dt.date) -> bool:
        """Whether the rule applies to an incident the controller became aware of ``on``."""
        return (self.from_date is None or on >= self.from_date) and (
            self.until_date is None or on < self.until_date
        )


def _gdpr_like(prefix: str, regime: str, authority: str) -> tuple[BreachRule, ...]:
    return (
        BreachRule(
            key=f"{regime}.authority",
            regime=regime,
            to="authority",
            description=f"notify {authority}",
            condition="risk",
            timing="elapsed",
            within=Duration(hours=72),
            citation=f"{prefix} Art. 33(1)",
            late=f"late: the notification must give the reasons for the delay ({prefix} Art. 33(1))",
            note="information may be provided in phases (Art. 33(4))",
        ),
        BreachRule(
            key=f"{regime}.documentation",
            regime=regime,
            to="records",
            description="document the breach: facts, effects and remedial action",
            condition="always",
            timing="document",
            citation=f"{prefix} Art. 33(5)",
        ),
        BreachRule(
            key=f"{regime}.subjects",
            regime=regime,
            to="subjects",
            description="tell the people affected",
            condition="high_risk",
            timing="undue_delay",
            citation=f"{prefix} Art. 34(1)",
            exemptions=(
                Exemption(
                    "encrypted",
                    f"{prefix} Art. 34(3)(a)",
                    "the data was unintelligible to anyone not authorised (e.g. encrypted)",
                ),
                Exemption(
                    "risk_no_longer_likely",
                    f"{prefix} Art. 34(3)(b)",
                    "measures taken since ensure the high risk is no longer likely to materialise",
                ),
                Exemption(
                    "disproportionate_effort",
                    f"{prefix} Art. 34(3)(c)",
                    "telling each person would involve disproportionate effort: a public "
                    "communication is required instead",
                    instead="public",
                ),
            ),
        ),
    )


_CA_ENCRYPTED = Exemption(
    "encrypted",
    "Cal. Civ. Code 1798.82(a)",
    "the section covers unencrypted personal information (or encrypted data whose key was also "
    "acquired)",
)

BREACH_RULES: tuple[BreachRule, ...] = (
    *_gdpr_like("GDPR", "gdpr", "the lead supervisory authority"),
    *_gdpr_like("UK GDPR", "uk_gdpr", "the Information Commissioner's Office (ICO)"),
    BreachRule(
        key="lgpd.authority",
        regime="lgpd",
        to="authority",
        description="notify the ANPD",
        condition="risk",
        timing="business_days",
        business_days=3,
        citation="LGPD Art. 48; ANPD Resolution CD/ANPD 15/2024",
        to_check=True,
        note="3 business days from awareness per ANPD Resolution CD/ANPD 15/2024 (to be checked "
        "against the official text); national holidays are not counted if passed to assess()",
    ),
    BreachRule(
        key="lgpd.subjects",
        regime="lgpd",
        to="subjects",
        description="tell the people affected",
        condition="risk",
        timing="business_days",
        business_days=3,
        citation="LGPD Art. 48; ANPD Resolution CD/ANPD 15/2024",
        to_check=True,
        note="same deadline as the ANPD notification (to be checked)",
    ),
    BreachRule(
        key="pipeda.authority",
        regime="pipeda",
        to="authority",
        description="report to the Privacy Commissioner of Canada",
        condition="significant_harm",
        timing="as_soon_as_feasible",
        citation="PIPEDA s. 10.1(1)",
        note="where there is a real risk of significant harm",
    ),
    BreachRule(
        key="pipeda.subjects",
        regime="pipeda",
        to="subjects",
        description="notify the individuals affected",
        condition="significant_harm",
        timing="as_soon_as_feasible",
        citation="PIPEDA s. 10.1(3)",
    ),
    BreachRule(
        key="pipeda.records",
        regime="pipeda",
        to="records",
        description="keep a record of the breach for 24 months",
        condition="always",
        timing="keep",
        within=Duration(months=24),
        citation="PIPEDA s. 10.3",
        note="every breach of security safeguards is recorded, whatever the risk",
    ),
    BreachRule(
        key="ccpa.residents",
        regime="ccpa",
        to="subjects",
        description="notify the California residents affected",
        condition="always",
        timing="most_expedient",
        citation="Cal. Civ. Code 1798.82(a)",
        exemptions=(_CA_ENCRYPTED,),
        until_date=dt.date(2026, 1, 1),
        note="in the most expedient time possible and without unreasonable delay",
    ),
    BreachRule(
        key="ccpa.residents",
        regime="ccpa",
        to="subjects",
        description="notify the California residents affected",
        condition="always",
        timing="calendar",
        within=Duration(days=30),
        citation="Cal. Civ. Code 1798.82(a)",
        exemptions=(_CA_ENCRYPTED,),
        to_check=True,
        from_date=dt.date(2026, 1, 1),
        note="in the most expedient time possible; the 30-day outer limit applying from 2026 is "
        "to be checked",
    ),
    BreachRule(
        key="ccpa.attorney_general",
        regime="ccpa",
        to="authority",
        description="send a sample copy of the residents' notice to the California Attorney General",
        condition="over_500",
        timing="most_expedient",
        citation="Cal. Civ. Code 1798.82(f)",
        exemptions=(_CA_ENCRYPTED,),
        note="when more than 500 California residents are notified",
    ),
)
"""Every statutory breach duty privacy_kit computes, one row per duty, each with its citation."""


# -- the assessment ---------------------------------------------------------------------------
class DutyStatus(enum.StrEnum):
    """Where a duty stands at the assessment's ``now``."""

    DUE = "due"
    """To be done; the deadline (if any) has not passed."""
    LATE = "late"
    """The deadline has passed."""
    ONGOING = "ongoing"
    """A standing duty (documentation, keeping records)."""
    EXEMPT = "exempt"
    """The duty would apply, but an exemption lifts it."""
    NOT_REQUIRED = "not_required"
    """Its condition is not met (e.g. the risk is not high)."""


@attrs.frozen
class BreachDuty:
    """One thing a controller must do after an incident, by when, and why.

    Attributes:
        key: the rule key (``gdpr.authority``, ``policy.customer``, ...).
        regime: the jurisdiction key, or ``policy`` for the policy's own promise.
        to: the audience (``authority``, ``subjects``, ``public``, ``records``, or a subject kind).
        description: what must be done.
        status: see :class:`DutyStatus`.
        timing: how the deadline is expressed, in words.
        citation: where the duty comes from.
        deadline: the instant by which it must be done (``None``: no fixed deadline).
        keep_until: for records, until when they must be kept.
        channels: the channels to use (from the policy), if any.
        reason: why the status is what it is (the exemption, the unmet condition, lateness).
        note: anything else worth knowing.
        to_check: the figure was not confirmed against a primary source.
        subject_count: how many people of this regime are affected, if known.
    """

    key: str
    regime: str
    to: str
    description: str
    status: DutyStatus
    timing: str
    citation: str
    deadline: dt.datetime | None = None
    keep_until: dt.datetime | None = None
    channels: tuple[str, ...] = ()
    reason: str | None = None
    note: str | None = None
    to_check: bool = False
    subject_count: int | None = None

    @property
    def required(self) -> bool:
        """Whether something must be done (due, late or ongoing)."""
        return self.status in (DutyStatus.DUE, DutyStatus.LATE, DutyStatus.ONGOING)

    def __str__(self) -> str:
        when = f" by {self.deadline.isoformat()}" if self.deadline else f" ({self.timing})"
        return f"{self.key} [{self.status.value}]: {self.description}{when} — {self.citation}"


@attrs.frozen
class BreachAssessment:
    """The duties that follow an incident, as of ``now``.

    Attributes:
        incident: the incident assessed.
        policy_version: the version of the policy whose promise was applied.
        now: the instant of the assessment (``None``: lateness not evaluated).
        jurisdictions: the regimes considered.
        duties: every duty, required or not, with its status and citation.
        notes: remarks about the assessment itself (assumptions made).
    """

    incident: Incident
    policy_version: str
    now: dt.datetime | None
    jurisdictions: tuple[str, ...]
    duties: tuple[BreachDuty, ...]
    notes: tuple[str, ...] = ()

    def duty(self, key: str) -> BreachDuty:
        """The duty ``key``; ``KeyError`` naming the keys present if there is none."""
        for d in self.duties:
            if d.key == key:
                return d
        raise KeyError(f"no duty {key!r}; duties: {[d.key for d in self.duties]}")

    @property
    def required(self) -> tuple[BreachDuty, ...]:
        """The duties that must be done (due, late or ongoing)."""
        return tuple(d for d in self.duties if d.required)

    @property
    def late(self) -> tuple[BreachDuty, ...]:
        """The duties whose deadline has passed."""
        return tuple(d for d in self.duties if d.status is DutyStatus.LATE)

    @property
    def next_deadline(self) -> BreachDuty | None:
        """The required duty with the earliest fixed deadline, if any."""
        timed = [d for d in self.required if d.deadline is not None]
        return min(timed, key=lambda d: d.deadline or dt.datetime.max) if timed else None


def add_business_days(start: dt.date, days: int, *, holidays: Iterable[dt.date] = ()) -> dt.date:
    """The date ``days`` business days (Monday to Friday, not in ``holidays``) after ``start``.

    The start date itself is not counted, as legal deadlines count.

    Args:
        start: the day of the triggering event.
        days: how many business days to count (non-negative).
        holidays: dates that are not business days.

    Returns:
        The last day of the period.

    Raises:
        ValueError: ``days`` is negative.

    Example:
        >>> add_business_days(dt.date(2025, 5, 2), 3)  # a Friday: Mon, Tue, Wed
        datetime.date(2025, 5, 7)
        >>> add_business_days(dt.date(2024, 2, 27), 3)  # across a leap-year month end
        datetime.date(2024, 3, 1)
    """
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")
    skip = frozenset(holidays)
    day = start
    counted = 0
    while counted < days:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and day not in skip:
            counted += 1
    return day


def _after(start: dt.datetime, duration: Duration) -> dt.datetime:
    """``duration`` after ``start``: hours are elapsed time (DST-proof), days and months calendar."""
    if not (duration.years or duration.months or duration.weeks or duration.days):
        elapsed = dt.timedelta(
            hours=duration.hours, minutes=duration.minutes, seconds=duration.seconds
        )
        return (start.astimezone(dt.UTC) + elapsed).astimezone(start.tzinfo)
    return duration.after(start)


_TIMING_WORDS: dict[str, str] = {
    "undue_delay": "without undue delay",
    "as_soon_as_feasible": "as soon as feasible",
    "most_expedient": "in the most expedient time possible and without unreasonable delay",
    "document": "keep documented",
}


def _condition(rule: BreachRule, incident: Incident, count: int | None) -> tuple[bool, str | None]:
    """Whether the rule's condition holds, and the reason when it does not (or is assumed)."""
    if rule.condition == "always":
        return True, None
    if rule.condition == "risk":
        if incident.risk is RiskLevel.LOW:
            return False, "the breach is unlikely to result in a risk to people (risk: low)"
        return True, None
    if rule.condition == "high_risk":
        if incident.risk is not RiskLevel.HIGH:
            return False, f"the risk is not high (risk: {incident.risk.value})"
        return True, None
    if rule.condition == "significant_harm":
        if not incident.harm_is_significant:
            return False, "no real risk of significant harm"
        return True, None
    # over_500
    if count is None:
        return True, "applies only if more than 500 people are affected (count unknown)"
    if count <= 500:
        return False, f"{count} people affected, not more than 500"
    return True, None


def _duty(
    rule: BreachRule, incident: Incident, now: dt.datetime | None, count: int | None,
    holidays: frozenset[dt.date],
) -> list[BreachDuty]:  # fmt: skip
    holds, reason = _condition(rule, incident, count)
    deadline: dt.datetime | None = None
    keep_until: dt.datetime | None = None
    aware = incident.aware_at
    if rule.timing in ("elapsed", "calendar") and rule.within is not None:
        deadline = _after(aware, rule.within)
        timing = f"within {rule.within.describe()} of becoming aware"
    elif rule.timing == "business_days" and rule.business_days is not None:
        last = add_business_days(aware.date(), rule.business_days, holidays=holidays)
        deadline = dt.datetime.combine(last, dt.time.max, tzinfo=aware.tzinfo)
        timing = f"within {rule.business_days} business days of becoming aware"
    elif rule.timing == "keep" and rule.within is not None:
        keep_until = _after(aware, rule.within)
        timing = f"keep for {rule.within.describe()}"
    else:
        timing = _TIMING_WORDS[rule.timing]
    base = BreachDuty(
        key=rule.key,
        regime=rule.regime,
        to=rule.to,
        description=rule.description,
        status=DutyStatus.DUE,
        timing=timing,
        citation=rule.citation,
        note=rule.note,
        to_check=rule.to_check,
        subject_count=count,
    )
    if not holds:
        return [attrs.evolve(base, status=DutyStatus.NOT_REQUIRED, reason=reason)]
    for exemption in rule.exemptions:
        if getattr(incident, exemption.flag):
            out = [
                attrs.evolve(
                    base,
                    citation=f"{rule.citation}; {exemption.citation}",
                    status=DutyStatus.EXEMPT,
                    reason=exemption.reason,
                )
            ]
            if exemption.instead is not None:
                out.append(
                    attrs.evolve(
                        base,
                        key=f"{rule.key}.{exemption.instead}",
                        to=exemption.instead,
                        description="make a public communication (or a similar measure "
                        "informing the people affected equally effectively)",
                        timing="without undue delay",
                        citation=exemption.citation,
                        reason=exemption.reason,
                    )
                )
            return out
    if rule.timing in ("document", "keep"):
        return [attrs.evolve(base, status=DutyStatus.ONGOING, keep_until=keep_until, reason=reason)]
    status = DutyStatus.DUE
    if now is not None and deadline is not None and now > deadline:
        status = DutyStatus.LATE
        reason = rule.late or f"the deadline passed at {deadline.isoformat()}"
    return [attrs.evolve(base, status=status, deadline=deadline, reason=reason)]


def _policy_duties(policy: Policy, incident: Incident, now: dt.datetime | None) -> list[BreachDuty]:
    promise = policy.breach
    start = incident.aware_at if promise.from_awareness else incident.occurred_at
    deadline = _after(start, promise.notify_within)
    counted = "becoming aware" if promise.from_awareness else "the incident"
    out: list[BreachDuty] = []
    for kind in promise.notify:
        base = BreachDuty(
            key=f"policy.{kind}",
            regime="policy",
            to=kind,
            description=f"tell each affected {kind}, as the policy promises",
            status=DutyStatus.DUE,
            timing=f"within {promise.notify_within.describe()} of {counted}",
            citation=f"policy {policy.version}: breach.notify_within = {promise.notify_within}",
            channels=tuple(promise.channels),
        )
        if incident.kind not in promise.triggers:
            out.append(
                attrs.evolve(
                    base,
                    status=DutyStatus.NOT_REQUIRED,
                    reason=f"the policy's promise covers {', '.join(promise.triggers)}; "
                    f"this incident is a {incident.kind}",
                )
            )
            continue
        late = now is not None and now > deadline
        out.append(
            attrs.evolve(
                base,
                status=DutyStatus.LATE if late else DutyStatus.DUE,
                deadline=deadline,
                reason="late: the policy's promise was not kept" if late else None,
            )
        )
    return out


def _check_categories(policy: Policy, categories: Iterable[str]) -> None:
    vocabulary = policy.vocabulary
    for i, key in enumerate(categories):
        if not vocabulary.has_category(key):
            hint = vocabulary.suggest_category(key)
            suffix = f"; did you mean {hint!r}?" if hint else ""
            raise ConfigurationError(f"incident.categories[{i}]: unknown category {key!r}{suffix}")


def assess(
    incident: Incident,
    policy: Policy,
    *,
    now: dt.datetime | None = None,
    holidays: Iterable[dt.date] = (),
) -> BreachAssessment:
    """The duties and deadlines that follow ``incident``, under the law and ``policy``'s promise.

    Statutory duties come from :data:`BREACH_RULES` for every regime with people affected
    (``incident.subjects``; when that is empty, the policy's jurisdictions are assumed and a note
    says so). The policy's own promise (``policy.breach``) adds one duty per subject kind it
    promises to tell. Hour deadlines are elapsed time (72 hours is 72 real hours across a DST
    change); business days skip weekends and ``holidays``, counted in ``aware_at``'s time zone.

    Args:
        incident: the incident.
        policy: the policy whose breach promise applies.
        now: the instant of the assessment; duties past their deadline are then ``late``.
        holidays: dates that are not business days (for business-day deadlines).

    Returns:
        A :class:`BreachAssessment`.

    Raises:
        ValueError: ``now`` is naive.
        ConfigurationError: an unknown category, or ``now`` before ``incident.aware_at``.

    Example:
        >>> import datetime as dt, privacy_kit as pk
        >>> policy = pk.load_policy(pk.example_path())
        >>> inc = Incident(occurred_at=dt.datetime(2025, 3, 1, 9, tzinfo=dt.UTC),
        ...                aware_at=dt.datetime(2025, 3, 2, 10, tzinfo=dt.UTC),
        ...                categories=["user.contact.email"], risk="medium", subjects={"gdpr": 40})
        >>> a = assess(inc, policy, now=dt.datetime(2025, 3, 5, 11, tzinfo=dt.UTC))
        >>> print(a.duty("gdpr.authority"))
        gdpr.authority [late]: notify the lead supervisory authority by 2025-03-05T10:00:00+00:00 — GDPR Art. 33(1)
        >>> a.duty("gdpr.subjects").status.value, a.duty("policy.customer").deadline.isoformat()
        ('not_required', '2025-03-05T10:00:00+00:00')
    """
    if now is not None:
        require_aware(now, "now")
        if now < incident.aware_at:
            raise ConfigurationError(
                f"now ({now.isoformat()}) is before the controller became aware of the incident "
                f"({incident.aware_at.isoformat()})"
            )
    _check_categories(policy, incident.categories)
    notes: list[str] = []
    counts: Mapping[str, int | None]
    if incident.subjects:
        counts = {k: v for k, v in incident.subjects.items() if v > 0}
    else:
        counts = dict.fromkeys(policy.jurisdictions)
        notes.append(
            "no subject counts per jurisdiction were given; the policy's jurisdictions "
            f"({', '.join(policy.jurisdictions)}) were assumed"
        )
    skip = frozenset(holidays)
    aware_day = incident.aware_at.date()
    duties: list[BreachDuty] = []
    for rule in BREACH_RULES:
        if rule.regime in counts and rule.in_force(aware_day):
            duties.extend(_duty(rule, incident, now, counts[rule.regime], skip))
    duties.extend(_policy_duties(policy, incident, now))
    return BreachAssessment(
        incident=incident,
        policy_version=policy.version,
        now=now,
        jurisdictions=tuple(counts),
        duties=tuple(duties),
        notes=tuple(notes),
    )


# -- who must be told -------------------------------------------------------------------------
@attrs.frozen
class AffectedSubject:
    """A person concerned by an incident, found in a record of ``record_type`` in ``role``.

    Attributes:
        subject: the subject (kind and the identity the record links by).
        role: the role in which it was found (``host``, ``invitee``, ...).
        record_type: the record type where it was first found.
        data_affected: whether fields of this subject (its own or shared ones) hold an affected
            category; ``False`` for other parties of an affected record (e.g. the customer whose
            invitees' e-mails were exposed).
    """

    subject: Subject
    role: str
    record_type: str
    data_affected: bool

    @property
    def kind(self) -> str:
        """The subject's kind."""
        return self.subject.kind


def _overlaps(a: str, b: str) -> bool:
    return is_within(a, b) or is_within(b, a)


def _affected_record_types(
    engine: Catalog, incident: Incident
) -> Iterator[tuple[RecordType, frozenset[str]]]:
    """Each affected record type with the roles whose data is affected."""
    datamap = engine.datamap
    named = []
    for i, name in enumerate(incident.record_types):
        try:
            named.append(datamap.record_type(name))
        except KeyError as exc:
            raise ConfigurationError(f"incident.record_types[{i}]: {exc.args[0]}") from None
    candidates = named or list(datamap.record_types)
    for rt in candidates:
        hit = [
            f
            for f in rt.fields
            if any(_overlaps(c, k) for c in f.categories for k in incident.categories)
        ]
        if not hit:
            if named:
                raise ConfigurationError(
                    f"record type {rt.name!r} holds none of the incident's categories "
                    f"({', '.join(incident.categories)}); it holds {sorted(rt.categories)}"
                )
            continue
        roles = set(rt.roles())
        affected = roles if any(f.party is None for f in hit) else {f.party for f in hit if f.party}
        yield rt, frozenset(affected)


def subjects_to_notify(
    engine: Catalog, incident: Incident, *, now: dt.datetime, batch_size: int = 1000
) -> Iterator[AffectedSubject]:
    """Stream the people concerned by ``incident``, each once, grouped by kind and role.

    Record types are those of ``incident.record_types`` (or every record type holding an affected
    category). For each subject link of each such record type, the adapter is asked for that
    link's field only, in batches of ``batch_size``, over the records that could have been exposed
    (created at or before ``contained_at``, or ``now`` if not contained; records without a
    creation time are included). Subjects come out ordered by kind, then role; each is yielded the
    first time it is seen, with ``data_affected`` saying whether its own data was touched.

    Args:
        engine: the engine (policy, data map and adapters).
        incident: the incident.
        now: the instant of the search (timezone-aware, not before ``incident.aware_at``).
        batch_size: records per adapter read.

    Yields:
        :class:`AffectedSubject` objects.

    Raises:
        ValueError: ``now`` is naive.
        ConfigurationError: an unknown category or record type, a named record type that holds
            none of the categories, or ``now`` before ``aware_at``.
        AdapterError: the store failed (naming adapter, record type and operation).

    Example:
        >>> import datetime as dt, privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> policy = pk.load_policy(pk.example_path())
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> tables = {rt.table_name: [] for rt in dm.record_types}
        >>> row = dict.fromkeys(dm.record_type("bookings").field_names)
        >>> tables["bookings"] = [row | {"id": 1, "host_id": 7, "invitee_email": "ann@example.com"}]
        >>> engine = pk.Engine(policy, dm, InMemoryAdapter(tables))
        >>> t = dt.datetime(2025, 3, 2, tzinfo=dt.UTC)
        >>> inc = Incident(occurred_at=t, aware_at=t, categories=["user.contact.email"],
        ...                record_types=["bookings"], risk="high")
        >>> [(a.role, str(a.subject), a.data_affected) for a in subjects_to_notify(engine, inc, now=t)]
        [('host', 'customer(user_id=7)', False), ('invitee', 'end_user(email=ann@example.com)', True)]
    """
    require_aware(now, "now")
    if now < incident.aware_at:
        raise ConfigurationError(
            f"now ({now.isoformat()}) is before the controller became aware of the incident "
            f"({incident.aware_at.isoformat()})"
        )
    if batch_size < 1:
        raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
    _check_categories(engine.policy, incident.categories)
    cutoff = incident.contained_at or now
    pairs: list[tuple[RecordType, SubjectLink, bool]] = []
    for rt, roles in _affected_record_types(engine, incident):
        pairs.extend((rt, link, link.role_name in roles) for link in rt.subjects)
    kinds = [s.kind for s in engine.policy.subjects]
    pairs.sort(
        key=lambda p: (
            kinds.index(p[1].kind) if p[1].kind in kinds else len(kinds),
            p[1].kind,
            p[1].role_name,
            not p[2],
        )
    )
    seen: set[tuple[str, str, object]] = set()
    for rt, link, affected in pairs:
        selection: Selection = where.all()
        created = rt.timestamps.created
        if created is not None:
            selection = where.before(created, cutoff, inclusive=True) | where.is_null(created)
        adapter = engine.adapter_for(rt)
        try:
            batches = adapter.iter_records(
                rt, selection, fields=[link.field], batch_size=batch_size
            )
            for batch in batches:
                for record in batch:
                    value = record.get(link.field)
                    if value is None:
                        continue
                    marker = (link.kind, link.identity, value)
                    if marker in seen:
                        continue
                    seen.add(marker)
                    yield AffectedSubject(
                        Subject(link.kind, {link.identity: value}),
                        link.role_name,
                        rt.name,
                        affected,
                    )
        except PrivacyKitError:
            raise
        except Exception as exc:
            raise AdapterError(
                f"{type(exc).__name__}: {exc}",
                adapter=adapter.name,
                record_type=rt.name,
                operation="read",
            ) from exc


# -- the notice -------------------------------------------------------------------------------
@attrs.frozen
class BreachNotice:
    """A drafted breach notice: its language, subject line and body.

    Example:
        >>> print(BreachNotice("en", "Notice", "Body"))
        Notice
        <BLANKLINE>
        Body
    """

    lang: str
    subject: str
    body: str

    def __str__(self) -> str:
        return f"{self.subject}\n\n{self.body}"


_NOTICE: dict[str, dict[str, str]] = {
    "en": {
        "subject.breach": "Notice of a personal data breach",
        "subject.misconfiguration": "Notice of a security incident",
        "subject.unauthorised_access": "Notice of unauthorised access to personal data",
        "intro": "We are writing to tell you about an incident at {controller} that concerns your data.",
        "kind.breach": "a personal data breach",
        "kind.misconfiguration": "a misconfiguration that could expose data",
        "kind.unauthorised_access": "unauthorised access to data",
        "what": "What happened: {kind} occurred on {occurred}; we became aware of it on {aware}.",
        "data": "Data concerned: {categories}.",
        "encrypted": "The data concerned was encrypted.",
        "authority": "We have informed, or are informing, the data protection authority as the law requires.",
        "promise": "Our commitment: {promise}",
        "contact": "Contact: {contacts}",
        "reference": "Reference: {reference}",
    },
    "ar": {
        "subject.breach": "إشعار بخرق للبيانات الشخصية",
        "subject.misconfiguration": "إشعار بحادث أمني",
        "subject.unauthorised_access": "إشعار بوصول غير مصرّح به إلى بيانات شخصية",
        "intro": "نكتب إليك لنبلغك بحادث لدى {controller} يتعلق ببياناتك.",
        "kind.breach": "خرق للبيانات الشخصية",
        "kind.misconfiguration": "خطأ في الإعدادات قد يكشف البيانات",
        "kind.unauthorised_access": "وصول غير مصرّح به إلى البيانات",
        "what": "ما الذي حدث: وقع {kind} بتاريخ {occurred}، وعلمنا به بتاريخ {aware}.",
        "data": "البيانات المعنية: {categories}.",
        "encrypted": "كانت البيانات المعنية مشفّرة.",
        "authority": "أبلغنا سلطة حماية البيانات، أو نحن بصدد إبلاغها، وفق ما يقتضيه القانون.",
        "promise": "التزامنا: {promise}",
        "contact": "للتواصل: {contacts}",
        "reference": "المرجع: {reference}",
    },
}


def _when(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M %z").strip()


def draft_notice(
    incident: Incident,
    assessment: BreachAssessment,
    policy: Policy,
    lang: str = "en",
) -> BreachNotice:
    """Draft the notice to the people affected, in English (``en``) or Arabic (``ar``).

    The text joins fixed phrases with the policy's own localisable text: its breach promise,
    the names of the categories affected and the controller's contacts.

    Args:
        incident: the incident.
        assessment: its assessment (says whether an authority is being told).
        policy: the policy (breach text, controller, vocabulary).
        lang: ``en`` or ``ar``.

    Returns:
        A :class:`BreachNotice`.

    Raises:
        ConfigurationError: a language without fixed phrases.

    Example:
        >>> import datetime as dt, privacy_kit as pk
        >>> policy = pk.load_policy(pk.example_path())
        >>> t = dt.datetime(2025, 3, 2, 10, tzinfo=dt.UTC)
        >>> inc = Incident(occurred_at=t, aware_at=t, categories=["user.contact.email"], risk="high")
        >>> notice = draft_notice(inc, assess(inc, policy), policy, lang="ar")
        >>> notice.subject
        'إشعار بخرق للبيانات الشخصية'
        >>> "72 ساعة" in notice.body
        True
    """
    phrases = _NOTICE.get(lang)
    if phrases is None:
        raise ConfigurationError(
            f"no breach notice phrases for language {lang!r}; available: {sorted(_NOTICE)}"
        )
    vocabulary = policy.vocabulary
    names = [
        vocabulary.category(k).name.get_text(lang) if vocabulary.has_category(k) else k
        for k in incident.categories
    ]
    separator = "، " if lang == "ar" else ", "
    contacts = separator.join(c.value for c in policy.controller.contacts)
    lines = [
        phrases["intro"].format(controller=policy.controller.name),
        phrases["what"].format(
            kind=phrases[f"kind.{incident.kind}"],
            occurred=_when(incident.occurred_at),
            aware=_when(incident.aware_at),
        ),
        phrases["data"].format(categories=separator.join(names)),
    ]
    if incident.encrypted:
        lines.append(phrases["encrypted"])
    if any(d.to == "authority" and d.required for d in assessment.duties):
        lines.append(phrases["authority"])
    lines.append(phrases["promise"].format(promise=policy.breach.description.get_text(lang)))
    lines.append(phrases["contact"].format(contacts=contacts))
    if policy.complaints is not None:
        lines.append(policy.complaints.get_text(lang))
    if incident.reference:
        lines.append(phrases["reference"].format(reference=incident.reference))
    return BreachNotice(lang, phrases[f"subject.{incident.kind}"], "\n\n".join(lines))
