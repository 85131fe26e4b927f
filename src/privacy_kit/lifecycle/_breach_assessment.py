"""What a controller must do after an incident, by when and why: :func:`assess` applies
:data:`~privacy_kit.BREACH_RULES` for every regime with people affected, and the policy's own
breach promise, and returns a :class:`BreachAssessment` of :class:`BreachDuty` items, each with
its deadline (elapsed hours, calendar or business days, see :func:`add_business_days`), its
:class:`DutyStatus` at ``now`` and its citation."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .._errors import ConfigurationError
from .._html import data_frame, html_table, join_html, records
from .._types import Duration, require_aware, unknown_name
from ..model._policy import Policy
from ._breach_rules import BREACH_RULES, BreachRule
from ._incident import Incident, RiskLevel, _check_categories, _incident_table
from ._views import DUTY_COLUMNS

__all__ = ["BreachAssessment", "BreachDuty", "DutyStatus", "add_business_days", "assess"]


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
        raise unknown_name("duty", key, [d.key for d in self.duties], list_known=True)

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

    def __repr__(self) -> str:
        return assessment_repr(self)

    def _repr_html_(self) -> str:
        return assessment_html(self)

    def to_records(self) -> list[dict[str, object]]:
        """One flat row per duty, required or not, the same columns in every row.

        Columns: ``key, regime, to, status, required, deadline, timing, keep_until, channels,
        subject_count, reason, note, to_check, citation, description`` (datetimes as ISO 8601
        text, ``None`` where there is no fixed deadline).
        """
        return assessment_records(self)

    def to_pandas(self) -> Any:
        """:meth:`to_records` as a ``pandas.DataFrame`` (same columns, even with no rows).

        Raises:
            ConfigurationError: if pandas is not installed (``pip install pandas``).
        """
        return data_frame(DUTY_COLUMNS, self.to_records(), of="BreachAssessment")


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
    if promise is None:  # no promise of its own: only the law's duties (assess() notes it)
        return []
    start = incident.aware_at if promise.from_awareness is not False else incident.occurred_at
    deadline = _after(start, promise.notify_within)
    counted = {
        True: "becoming aware",
        False: "the incident",
        None: "becoming aware (the policy does not say when the time starts)",
    }[promise.from_awareness]
    out: list[BreachDuty] = []
    # No kinds named: the promise is to those affected, of every kind the policy covers.
    for kind in promise.notify or tuple(s.kind for s in policy.subjects):
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
    says so). The policy's own promise (``policy.breach``), when it makes one, adds one duty per
    subject kind it
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
    if policy.breach is None:
        notes.append(
            f"policy {policy.version} makes no breach promise of its own; only the law's duties apply"
        )
    return BreachAssessment(
        incident=incident,
        policy_version=policy.version,
        now=now,
        jurisdictions=tuple(counts),
        duties=tuple(duties),
        notes=tuple(notes),
    )


# -- notebook views --------------------------------------------------------------------------


def assessment_repr(a: BreachAssessment) -> str:
    nxt = a.next_deadline
    deadline = None if nxt is None or nxt.deadline is None else nxt.deadline.isoformat()
    now = None if a.now is None else a.now.isoformat()
    return (
        f"BreachAssessment(policy_version={a.policy_version!r}, now={now!r}, "
        f"jurisdictions={a.jurisdictions!r}, duties={len(a.duties)}, "
        f"required={len(a.required)}, late={len(a.late)}, next_deadline={deadline!r})"
    )


def assessment_records(a: BreachAssessment) -> list[dict[str, object]]:
    return records(
        DUTY_COLUMNS,
        (
            {
                **{c: getattr(d, c) for c in DUTY_COLUMNS if c != "required"},
                "required": d.required,
                "channels": d.channels or None,
            }
            for d in a.duties
        ),
    )


def assessment_html(a: BreachAssessment) -> str:
    when = "lateness not evaluated" if a.now is None else f"as of {a.now.isoformat()}"
    title = (
        f"Breach assessment (policy {a.policy_version}, {when}): "
        f"{len(a.required)} of {len(a.duties)} duties required, {len(a.late)} late"
    )
    columns = ["status", "key", "to", "deadline", "timing", "description", "reason", "citation"]
    rows = [
        (
            d.status.value + (" (to check)" if d.to_check else ""),
            d.key,
            d.to,
            None if d.deadline is None else d.deadline.isoformat(),
            d.timing,
            d.description,
            d.reason or d.note,
            d.citation,
        )
        for d in a.duties
    ]
    caption = None if rows else "no duty applies to this incident"
    parts = [html_table(title, columns, rows, caption=caption), _incident_table(a.incident)]
    if a.notes:
        parts.append(html_table("Notes", ["note"], [(n,) for n in a.notes]))
    return join_html(*parts)
