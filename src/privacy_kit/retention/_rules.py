"""Retention rules as time: when a record expires, where its trigger time is, and in which stages.

:func:`expires_at` and :func:`cutoff` implement the calendar convention (durations added in UTC
with ``relativedelta``; the cutoff is searched for at month ends), :func:`trigger_source` finds
the field that records a rule's trigger (the record's own, or its account's), and the stages and
groups say what a rule does to a record type: minimise the fields a legal-obligation exception
does not keep, then the rule's action, per group of accounts that chose the same duration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import attrs

from .._types import Duration, require_aware
from ..model._datamap import DataMap, FieldSpec, RecordType
from ..model._policy_retention import RetentionAction, RetentionRule, Trigger
from ..model._taxonomy import is_within
from ._indefinite import blind_targets, forever_fields
from ._settings import RetentionSettings, check_override

__all__ = ["TriggerSource", "cutoff", "expires_at", "trigger_source"]

Action = Literal["delete", "anonymize", "minimize"]
_ONE_MICROSECOND = dt.timedelta(microseconds=1)


# == time ===========================================================================================
def expires_at(trigger_time: dt.datetime, duration: Duration | None) -> dt.datetime:
    """When a record whose trigger happened at ``trigger_time`` expires (UTC, calendar-aware).

    Example:
        >>> expires_at(dt.datetime(2024, 1, 31, 12, tzinfo=dt.UTC), Duration.parse("P1M"))
        datetime.datetime(2024, 2, 29, 12, 0, tzinfo=datetime.timezone.utc)
    """
    start = require_aware(trigger_time, "trigger_time").astimezone(dt.UTC)
    return start if duration is None else duration.after(start)


def cutoff(duration: Duration | None, now: dt.datetime) -> dt.datetime:
    """The latest instant ``t`` (to the microsecond) with ``expires_at(t, duration) <= now``.

    A record is expired at ``now`` exactly when its trigger time is ``<= cutoff(duration, now)``.
    Without months or years this is ``now - duration``; with them it is searched for, because
    month-end clipping makes ``now - duration`` too early (``31 March - 1 month`` is 29 February,
    but a trigger late on 29 February expires on 29 March, before 31 March).

    Example:
        >>> now = dt.datetime(2024, 3, 31, tzinfo=dt.UTC)
        >>> Duration.parse("P1M").before(now)
        datetime.datetime(2024, 2, 29, 0, 0, tzinfo=datetime.timezone.utc)
        >>> cutoff(Duration.parse("P1M"), now)
        datetime.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc)
    """
    end = require_aware(now).astimezone(dt.UTC)
    if duration is None or duration.is_zero():
        return end
    if not duration.years and not duration.months:
        return duration.before(end)  # a fixed span: subtraction is the exact inverse

    def expired(t: dt.datetime) -> bool:
        return duration.after(t) <= end

    guess = duration.before(end)
    lo, step = guess, dt.timedelta(days=1)
    while not expired(lo):  # pragma: no cover - relativedelta clips down, so guess is expired
        lo, step = lo - step, step * 2
    hi, step = guess + dt.timedelta(days=1), dt.timedelta(days=1)
    while expired(hi):
        lo, hi, step = hi, hi + step, step * 2
    while hi - lo > _ONE_MICROSECOND:  # invariant: lo expired, hi not
        mid = lo + (hi - lo) // 2
        if expired(mid):
            lo = mid
        else:
            hi = mid
    return lo


# == where the trigger time is ======================================================================
@attrs.frozen
class TriggerSource:
    """Where a record type's trigger time is read.

    Attributes:
        trigger: the trigger.
        field: the time field (on the record type, or on its account when ``account`` is set).
        account: the accounts record type when the time is the account's (``users``).
        link_field: the field of this record type holding the account's key.
    """

    trigger: Trigger
    field: str
    account: str | None = None
    link_field: str | None = None

    def describe(self) -> str:
        """``end_at`` or ``users.closed_at`` (via ``host_id``)."""
        if self.account is None:
            return self.field
        return f"{self.account}.{self.field} (via {self.link_field})"


def trigger_source(
    datamap: DataMap, record_type: RecordType, trigger: Trigger
) -> TriggerSource | None:
    """The time field that records ``trigger`` for ``record_type``: its own, else its account's."""
    own = record_type.time_field(trigger.value)
    if own is not None:
        return TriggerSource(trigger, own)
    if record_type.account is not None:
        account = datamap.record_type(record_type.account.record_type)
        field = account.time_field(trigger.value)
        if field is not None:
            return TriggerSource(trigger, field, account.name, record_type.account.field)
    return None


# == what happens to a record type under a rule ====================================================
@attrs.frozen
class _Stage:
    duration: Duration | None  # counted from the trigger
    action: Action
    fields: tuple[str, ...]  # anonymised (anonymize) or cleared (minimize)
    kept: tuple[tuple[str, Duration], ...] = ()  # (field, kept until trigger + duration)
    marks: bool = False  # sets the record type's anonymized marker (the last anonymising step)


def _final_action(rule: RetentionRule) -> Action:
    return "delete" if rule.action is RetentionAction.DELETE else "anonymize"


def _covers(categories: Sequence[str], field: FieldSpec) -> bool:
    return any(is_within(c, k) for c in field.categories for k in categories)


def _stages(
    rule: RetentionRule, rt: RecordType, duration: Duration | None, source: TriggerSource
) -> list[_Stage]:
    """The steps a record of ``rt`` goes through, the last being the rule's action.

    None for a rule kept forever. Fields an indefinite exception keeps are never touched, and a
    record holding them is never deleted: its other personal fields are cleared instead. A
    ``blind`` rule anonymises only its targets (every step anonymises, with the fields' strategies).
    """
    if rule.indefinite:
        return []
    zero = Duration()
    base = duration or zero
    structural = {rt.primary_key}
    if rt.account is not None:
        structural.add(rt.account.field)
    if source.account is None:
        structural.add(source.field)
    forever = forever_fields(rule, rt)
    blind = rule.action is RetentionAction.BLIND
    targets = set(blind_targets(rule, rt))
    personal = [
        f
        for f in rt.fields
        if f.personal
        and f.name not in forever
        and f.name != rt.timestamps.anonymized
        and (f.name in targets if blind else f.name not in structural)
    ]
    keep: dict[str, Duration] = {}
    for exception in rule.exceptions:
        if exception.duration is None or exception.duration <= base:
            continue
        for f in personal:
            if _covers(exception.categories or rule.categories, f):
                current = keep.get(f.name)
                if current is None or exception.duration > current:
                    keep[f.name] = exception.duration
    final_action = _final_action(rule)
    final_fields = tuple(
        f.name
        for f in rt.fields
        if f.personal
        and f.name not in (rt.primary_key, rt.timestamps.anonymized)
        and f.name not in forever
        and (f.name in targets or not blind)
    )  # what anonymisation rewrites
    if forever and final_action == "delete":
        # The record stays for the fields kept forever: the rest of what it holds is cleared.
        final_action, final_fields = "minimize", tuple(f.name for f in personal)
    if not final_fields:
        return []
    marks = final_action == "anonymize"
    if not keep:
        return [_Stage(duration, final_action, final_fields, marks=marks)]
    longest = max(keep.values())
    stages: list[_Stage] = []
    marks_at = sorted({base, *keep.values()} - {longest})
    for mark in marks_at:
        cleared = tuple(f.name for f in personal if keep.get(f.name, base) <= mark)
        kept = tuple(
            (f.name, keep[f.name]) for f in personal if f.name in keep and keep[f.name] > mark
        )
        if cleared:
            step: Action = "anonymize" if blind else "minimize"
            stages.append(_Stage(None if mark == zero else mark, step, cleared, kept))
    stages.append(_Stage(longest, final_action, final_fields, marks=marks))
    return stages


@attrs.frozen
class _Group:
    label: str
    trigger: Trigger
    duration: Duration | None
    override: Duration | None = None
    accounts: tuple[Any, ...] | None = None  # only these accounts (an override group)
    excluded: frozenset[Any] = frozenset()  # not these (the default group, when overrides exist)


def _groups(
    rule: RetentionRule, rt: RecordType, settings: RetentionSettings | None
) -> list[_Group]:
    overrides: dict[Any, Duration] = {}
    if settings is not None and rule.override is not None and rt.account is not None:
        overrides = settings.overrides(rule.key)
        for value in set(overrides.values()):
            check_override(rule, value)  # the engine's policy may be newer than the settings'
    default = _Group(
        "default",
        rule.trigger,
        rule.duration,
        excluded=frozenset(overrides) if overrides else frozenset(),
    )
    if not overrides:
        return [default]
    assert rule.override is not None  # overrides exist only for such rules
    by_duration: dict[Duration, list[Any]] = {}
    for account, value in overrides.items():
        by_duration.setdefault(value, []).append(account)
    trigger = rule.override.trigger or rule.trigger
    groups = [default]
    for value in sorted(by_duration, key=lambda d: (d.total_hint(), str(d))):
        accounts = tuple(sorted(by_duration[value], key=lambda a: (str(type(a)), a)))
        groups.append(
            _Group(
                f"override {value} ({len(accounts)} account{'s' if len(accounts) != 1 else ''})",
                trigger,
                value,
                override=value,
                accounts=accounts,
            )
        )
    return groups
