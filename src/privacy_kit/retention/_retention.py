"""Retention that enforces itself: rules evaluated against the store, planned, then applied.

For each record type the engine finds its :class:`~privacy_kit.RetentionRule`, the rule's trigger
(``created``, an ``event`` such as a booking's end, ``account_closed``, ``account_deactivated``,
``last_activity``) and the time field that records it: a field of the record itself, or, through
the record type's account link, a field of its account (``users.closed_at``). A record expires
when ``trigger time + duration <= now``; "for the life of the account" (``account_closed`` and no
duration) expires when the account is closed.

**Calendar convention.** Durations are added in UTC with dateutil's ``relativedelta``, so one
month after 31 January is the last day of February. Subtraction is *not* the inverse of that
addition at month ends (``31 March - 1 month + 1 month`` is 29 March), so the cutoff of a sweep is
not ``now - duration``: :func:`cutoff` finds the latest instant ``t`` (to the microsecond) with
``t + duration <= now``, and a sweep selects ``trigger time <= cutoff``. Because adding a calendar
duration is monotone, that selects exactly the expired records (tested against brute force).

**Legal-obligation extensions.** A rule's exceptions that carry a duration (``legal_obligation``,
6 years) keep *only the fields* holding the categories they name, counted from the same trigger:
when the rule itself expires, the record's other personal fields are cleared (set to NULL: the
plan's ``minimize`` step), and the record meets the rule's action when the longest exception
ends. An exception without a duration ("until the dispute is resolved") cannot be timed by a
sweep: enforce it with a legal hold.

**Per-customer overrides.** Where the policy allows it (``override``), a customer chooses the
duration within the range; :class:`RetentionSettings` holds those choices per account and refuses
anything outside the range. A sweep stays set-based: accounts are grouped by the duration they
chose and each group is one selection; the policy's default applies to accounts with none.

**Plan, then apply.** :meth:`Engine.plan_retention <privacy_kit.Engine.plan_retention>` returns a
:class:`RetentionPlan`: per rule, record type and group, the selection, the cutoff, the action and
how many records it covers, counted by the store, with the records under a legal hold excluded and
counted separately. ``engine.apply(plan)`` runs it as a few statements per entry (one per batch of
accounts when the trigger is an account's), journals each finished unit so a re-run after a
failure resumes, and writes counts (never data) to the audit log. ``dry_run=True`` changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs
import orjson

from .._errors import ConfigurationError, PlanError
from .._types import Duration, require_aware
from ..adapters import After, And, Before, Eq, In, IsNull, Not, Or, Selection
from ..adapters._base import WRITE_BATCH
from ..model._datamap import FieldSpec, RecordType
from ..model._policy import Policy
from ..model._policy_retention import RetentionAction, RetentionRule, Trigger
from ..model._taxonomy import is_within
from ._holds import HoldRegistry, combine_holds, describe_selection, write_json_atomically

if TYPE_CHECKING:
    from ..engine._engine import Engine, Subject

__all__ = [
    "FateStage",
    "RecordFate",
    "ReportLine",
    "RetentionEntry",
    "RetentionJournal",
    "RetentionPlan",
    "RetentionReport",
    "RetentionSettings",
    "TriggerSource",
    "check_override",
    "cutoff",
    "expires_at",
    "plan_retention",
    "record_fate",
    "trigger_source",
]

Action = Literal["delete", "anonymize", "minimize"]
_ONE_MICROSECOND = dt.timedelta(microseconds=1)
_DEFAULT_BATCH = WRITE_BATCH


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
    engine: Engine, record_type: RecordType, trigger: Trigger
) -> TriggerSource | None:
    """The time field that records ``trigger`` for ``record_type``: its own, else its account's."""
    own = record_type.time_field(trigger.value)
    if own is not None:
        return TriggerSource(trigger, own)
    if record_type.account is not None:
        account = engine.datamap.record_type(record_type.account.record_type)
        field = account.time_field(trigger.value)
        if field is not None:
            return TriggerSource(trigger, field, account.name, record_type.account.field)
    return None


# == per-customer overrides =========================================================================
def check_override(rule: RetentionRule, value: Duration) -> Duration:
    """``value`` if ``rule`` lets a customer choose it; else ``ConfigurationError`` naming all three.

    Example:
        >>> import privacy_kit as pk
        >>> rule = pk.load_policy(pk.example_path()).rule("booking_data")
        >>> check_override(rule, Duration.parse("P30D"))
        Duration(years=0, months=0, weeks=0, days=30, hours=0, minutes=0, seconds=0)
    """
    if rule.override is None:
        raise ConfigurationError(
            f"retention rule {rule.key!r} cannot be overridden (the policy sets no override "
            f"range); refused {value}"
        )
    low, high = rule.override.minimum, rule.override.maximum
    if value < low or value > high:
        raise ConfigurationError(
            f"retention rule {rule.key!r}: {value} ({value.describe()}) is outside the range "
            f"the policy allows, {low} ({low.describe()}) to {high} ({high.describe()})"
        )
    return value


def _check_account_key(account: Any) -> Any:
    if isinstance(account, bool) or not isinstance(account, int | str):
        raise ConfigurationError(
            f"an account key must be an integer or a string, got {type(account).__name__}"
        )
    return account


class RetentionSettings:
    """Per-customer retention choices: for an account, a duration per rule, within the policy's range.

    Args:
        policy: the policy whose rules' ``override`` ranges the choices must respect.
        path: a JSON file to keep the choices in (read now if it exists, rewritten atomically on
            every change); ``None`` keeps them in memory, per instance.

    Raises:
        ConfigurationError: the file is malformed or holds a choice the policy refuses.

    Example:
        >>> import privacy_kit as pk
        >>> settings = RetentionSettings(pk.load_policy(pk.example_path()))
        >>> settings.set(7, "booking_data", "30 days")
        >>> settings.get(7, "booking_data")
        Duration(years=0, months=0, weeks=0, days=30, hours=0, minutes=0, seconds=0)
        >>> settings.set(7, "booking_data", "P20Y")
        Traceback (most recent call last):
        ...
        privacy_kit._errors.ConfigurationError: retention rule 'booking_data': P20Y (20 years) is outside the range the policy allows, P1D (1 day) to P10Y (10 years)
        >>> settings.set(7, "payment_data", "P1Y")
        Traceback (most recent call last):
        ...
        privacy_kit._errors.ConfigurationError: retention rule 'payment_data' cannot be overridden (the policy sets no override range); refused P1Y
    """

    def __init__(self, policy: Policy, path: str | os.PathLike[str] | None = None) -> None:
        self.policy = policy
        self.path = Path(path) if path is not None else None
        self._values: dict[str, dict[Any, Duration]] = {}
        if self.path is not None and self.path.exists():
            self._load(self.path)

    def _load(self, path: Path) -> None:
        try:
            data = orjson.loads(path.read_bytes())
            items = [(i["account"], i["rule"], i["duration"]) for i in data["overrides"]]
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"{path}: not a retention settings file ({type(exc).__name__}: {exc})"
            ) from exc
        for account, rule, duration in items:
            try:
                self._put(account, rule, duration)
            except ConfigurationError as exc:
                raise ConfigurationError(f"{path}: {exc}") from exc

    def _save(self) -> None:
        if self.path is None:
            return
        items = [
            {"account": account, "rule": rule, "duration": str(duration)}
            for rule, by_account in sorted(self._values.items())
            for account, duration in by_account.items()
        ]
        write_json_atomically(self.path, {"version": 1, "overrides": items})

    def validate(self, rule_key: str, duration: Duration | str) -> Duration:
        """``duration`` as a :class:`Duration` if ``rule_key`` allows it; else raise.

        Raises:
            ConfigurationError: unknown rule, a rule without an override range, an unreadable
                duration, or a duration outside the range (the message names all three).
        """
        try:
            rule = self.policy.rule(rule_key)
        except KeyError as exc:
            raise ConfigurationError(str(exc.args[0])) from None
        try:
            value = Duration.parse(duration)
        except ValueError as exc:
            raise ConfigurationError(f"retention rule {rule_key!r}: {exc}") from None
        return check_override(rule, value)

    def _put(self, account: Any, rule_key: str, duration: Duration | str) -> None:
        value = self.validate(rule_key, duration)
        self._values.setdefault(rule_key, {})[_check_account_key(account)] = value

    def set(self, account: Any, rule_key: str, duration: Duration | str) -> None:
        """Record that ``account`` keeps ``rule_key``'s data for ``duration`` (validated)."""
        self._put(account, rule_key, duration)
        self._save()

    def clear(self, account: Any, rule_key: str | None = None) -> None:
        """Remove ``account``'s choice for ``rule_key`` (every rule if ``None``): the default applies."""
        for key, by_account in self._values.items():
            if rule_key is None or key == rule_key:
                by_account.pop(account, None)
        self._save()

    def get(self, account: Any, rule_key: str) -> Duration | None:
        """``account``'s duration for ``rule_key``, or ``None`` (the policy's default applies)."""
        return self._values.get(rule_key, {}).get(account)

    def overrides(self, rule_key: str) -> dict[Any, Duration]:
        """Every account's choice for ``rule_key``, re-validated against the policy."""
        found = dict(self._values.get(rule_key, {}))
        for value in set(found.values()):
            self.validate(rule_key, value)
        return found

    def __len__(self) -> int:
        return sum(len(v) for v in self._values.values())

    def __repr__(self) -> str:
        return f"<RetentionSettings overrides={len(self)}>"


# == what happens to a record type under a rule ====================================================
@attrs.frozen
class _Stage:
    duration: Duration | None  # counted from the trigger
    action: Action
    fields: tuple[str, ...]  # anonymised (anonymize) or cleared (minimize)
    kept: tuple[tuple[str, Duration], ...] = ()  # (field, kept until trigger + duration)


def _final_action(rule: RetentionRule) -> Action:
    return "anonymize" if rule.action is RetentionAction.ANONYMIZE else "delete"


def _covers(categories: Sequence[str], field: FieldSpec) -> bool:
    return any(is_within(c, k) for c in field.categories for k in categories)


def _stages(
    rule: RetentionRule, rt: RecordType, duration: Duration | None, source: TriggerSource
) -> list[_Stage]:
    """The steps a record of ``rt`` goes through, the last being the rule's action."""
    zero = Duration()
    base = duration or zero
    structural = {rt.primary_key}
    if rt.account is not None:
        structural.add(rt.account.field)
    if source.account is None:
        structural.add(source.field)
    personal = [f for f in rt.fields if f.personal and f.name not in structural]
    keep: dict[str, Duration] = {}
    for exception in rule.exceptions:
        if exception.duration is None or exception.duration <= base:
            continue
        for f in personal:
            if _covers(exception.categories or rule.categories, f):
                current = keep.get(f.name)
                if current is None or exception.duration > current:
                    keep[f.name] = exception.duration
    final_fields = tuple(
        f.name for f in rt.fields if f.personal and f.name != rt.primary_key
    )  # what anonymisation rewrites
    if not keep:
        return [_Stage(duration, _final_action(rule), final_fields)]
    longest = max(keep.values())
    stages: list[_Stage] = []
    marks = sorted({base, *keep.values()} - {longest})
    for mark in marks:
        cleared = tuple(f.name for f in personal if keep.get(f.name, base) <= mark)
        kept = tuple(
            (f.name, keep[f.name]) for f in personal if f.name in keep and keep[f.name] > mark
        )
        if cleared:
            stages.append(_Stage(None if mark == zero else mark, "minimize", cleared, kept))
    stages.append(_Stage(longest, _final_action(rule), final_fields))
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


# == the plan ======================================================================================
@attrs.frozen
class RetentionEntry:
    """One step of a sweep: a rule, a record type, a group of accounts and an action.

    Attributes:
        rule: the rule's key.
        record_type: the record type's name.
        action: ``delete``, ``anonymize`` (the rule's action) or ``minimize`` (clear the fields no
            legal-obligation exception keeps, while the rest is kept).
        group: ``default`` or ``override P30D (3 accounts)``.
        override: the customers' chosen duration for an override group.
        source: where the trigger time is read.
        duration: counted from the trigger (``None``: at the trigger itself).
        cutoff: records whose trigger time is ``<= cutoff`` are covered.
        after: and ``> after`` (older ones are covered by a later step of the same group).
        fields: the fields anonymised or cleared.
        kept: for ``minimize``: the fields kept, and for how long after the trigger.
        selection: the selection on the record type (with held records excluded). When the trigger
            is the account's, it is combined with ``link_field IN (accounts)`` per batch.
        account_selection: the accounts whose trigger time has passed (trigger via the account).
        count: records covered, counted by the store (held ones excluded).
        held: records that would be covered but are under a legal hold.
        hold_ids: the holds in force on this record type.
    """

    rule: str
    record_type: str
    action: Action
    group: str
    override: Duration | None
    source: TriggerSource
    duration: Duration | None
    cutoff: dt.datetime
    after: dt.datetime | None
    fields: tuple[str, ...]
    kept: tuple[tuple[str, Duration], ...]
    selection: Selection = attrs.field(repr=False)
    account_selection: Selection | None = attrs.field(repr=False)
    excluded_accounts: frozenset[Any] = attrs.field(repr=False)
    held_selection: Selection | None = attrs.field(repr=False)
    count: int
    held: int
    hold_ids: tuple[str, ...]

    def describe(self) -> str:
        """One line: what, where, which records, how many."""
        span = f"{self.duration} after" if self.duration else "at"
        what = {
            "delete": "delete",
            "anonymize": f"anonymise {', '.join(self.fields)} of",
            "minimize": f"clear {', '.join(self.fields)} of",
        }[self.action]
        text = (
            f"{self.rule}: {what} {self.count} {self.record_type} record(s) "
            f"{span} {self.source.trigger.value} ({self.source.describe()} <= "
            f"{self.cutoff.isoformat()}"
            + (f" and > {self.after.isoformat()}" if self.after is not None else "")
            + f"); group {self.group}"
        )
        if self.kept:
            text += "; keeping " + ", ".join(f"{f} until +{d}" for f, d in self.kept)
        if self.held:
            text += f"; {self.held} held ({', '.join(self.hold_ids)})"
        return text

    def selection_text(self) -> str:
        """The selection in SQL-like words (the account part included)."""
        text = describe_selection(self.selection)
        if self.account_selection is not None:
            text = (
                f"{self.source.link_field} IN (keys of {self.source.account} where "
                f"{describe_selection(self.account_selection)}) AND {text}"
            )
        return text


@attrs.frozen
class RetentionPlan:
    """What a sweep at ``now`` would do (see :meth:`privacy_kit.Engine.plan_retention`).

    Attributes:
        now: the instant the plan is for.
        entries: the steps, in the order they run (records whose trigger is their account's
            before the accounts themselves, so no record loses its trigger time mid-sweep).
        skipped: ``(record type, reason)`` for record types no rule can be enforced on.
        notes: anything the reader should know (orphan risks, ...).
        batch_size: records per statement batch and accounts per ``IN`` list.
        journal: the finished units, so a re-run after a failure resumes.
        id: a hash of what the plan does (not of its counts), naming it in the journal.
    """

    now: dt.datetime
    entries: tuple[RetentionEntry, ...]
    skipped: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]
    batch_size: int
    journal: RetentionJournal = attrs.field(repr=False, eq=False)
    id: str

    @property
    def total(self) -> int:
        """Records the plan covers (deleted, anonymised or minimised)."""
        return sum(e.count for e in self.entries)

    @property
    def total_held(self) -> int:
        """Records that would be covered but are held."""
        return sum(e.held for e in self.entries)

    def by_rule(self) -> dict[str, dict[str, int]]:
        """``{rule: {action: count}}``."""
        out: dict[str, dict[str, int]] = {}
        for e in self.entries:
            counts = out.setdefault(e.rule, {})
            counts[e.action] = counts.get(e.action, 0) + e.count
        return out

    def summary(self) -> str:
        """A readable multi-line summary."""
        lines = [
            (
                f"Retention plan as of {self.now.isoformat()}: {self.total} record(s) in "
                f"{len(self.entries)} step(s), {self.total_held} held"
            )
        ]
        lines.extend("  " + e.describe() for e in self.entries)
        lines.extend(f"  skipped {rt}: {reason}" for rt, reason in self.skipped)
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _apply(self, engine: Engine, *, dry_run: bool = False) -> RetentionReport:
        return _apply_plan(engine, self, dry_run=dry_run)


@attrs.frozen
class ReportLine:
    """What one entry did: planned and done counts."""

    rule: str
    record_type: str
    action: Action
    group: str
    planned: int
    done: int
    held: int
    resumed: bool


@attrs.frozen
class RetentionReport:
    """What ``engine.apply(plan)`` did (or, for a dry run, would do).

    Attributes:
        now: the plan's instant.
        dry_run: nothing was changed.
        lines: per entry, planned and done counts.
        skipped_units: units already finished by an earlier, interrupted run (resumed).
    """

    now: dt.datetime
    dry_run: bool
    lines: tuple[ReportLine, ...]
    skipped_units: int

    @property
    def total(self) -> int:
        """Records changed (planned ones for a dry run)."""
        return sum(line.planned if self.dry_run else line.done for line in self.lines)

    def counts(self) -> dict[str, dict[str, int]]:
        """``{rule: {action: records}}``."""
        out: dict[str, dict[str, int]] = {}
        for line in self.lines:
            counts = out.setdefault(line.rule, {})
            value = line.planned if self.dry_run else line.done
            counts[line.action] = counts.get(line.action, 0) + value
        return out

    def summary(self) -> str:
        """A readable multi-line summary."""
        verb = "would change" if self.dry_run else "changed"
        lines = [f"Retention as of {self.now.isoformat()}: {verb} {self.total} record(s)"]
        for line in self.lines:
            n = line.planned if self.dry_run else line.done
            held = f", {line.held} held" if line.held else ""
            lines.append(
                f"  {line.rule}/{line.record_type} [{line.group}] {line.action}: {n}{held}"
            )
        if self.skipped_units:
            lines.append(f"  resumed: {self.skipped_units} unit(s) already done were skipped")
        return "\n".join(lines)


class RetentionJournal:
    """The units of a plan already applied, so an interrupted sweep resumes where it stopped.

    A unit is one statement group: an entry's selection, or one batch of accounts. Deleting and
    clearing are idempotent anyway; the journal keeps anonymisation from running twice on the
    same records and saves re-reading finished account batches.

    Args:
        path: a JSON-lines file to append finished units to (``None``: in memory).

    Example:
        >>> j = RetentionJournal()
        >>> j.mark("plan1", 0, 3)
        >>> j.done("plan1", 0, 3), j.done("plan1", 0, 4)
        (True, False)
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._done: set[tuple[str, int, int]] = set()
        if self.path is not None and self.path.exists():
            for number, line in enumerate(self.path.read_bytes().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    plan, entry, unit = orjson.loads(line)
                except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
                    raise PlanError(f"{self.path}, line {number}: not a journal line") from exc
                self._done.add((str(plan), int(entry), int(unit)))

    def done(self, plan_id: str, entry: int, unit: int) -> bool:
        """Whether the unit was finished."""
        return (plan_id, entry, unit) in self._done

    def mark(self, plan_id: str, entry: int, unit: int) -> None:
        """Record the unit as finished (appended to the file, if any)."""
        self._done.add((plan_id, entry, unit))
        if self.path is not None:
            with self.path.open("ab") as fh:
                fh.write(orjson.dumps([plan_id, entry, unit]) + b"\n")

    def __len__(self) -> int:
        return len(self._done)


def _time_window(field: str, upper: dt.datetime, lower: dt.datetime | None) -> Selection:
    window: Selection = Before(field, upper, inclusive=True)
    if lower is not None:
        window = And((After(field, lower), window))
    return window


def _not_held(selection: Selection, held: Selection | None) -> Selection:
    return selection if held is None else And((selection, Not(held)))


def plan_retention(
    engine: Engine,
    *,
    now: dt.datetime,
    settings: RetentionSettings | None = None,
    batch_size: int | None = None,
    journal: RetentionJournal | str | os.PathLike[str] | None = None,
) -> RetentionPlan:
    """Plan a retention sweep at ``now`` (see :meth:`privacy_kit.Engine.plan_retention`)."""
    at = require_aware(now).astimezone(dt.UTC)
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    size = batch_size or _DEFAULT_BATCH
    registry: HoldRegistry | None = engine.holds
    entries: list[RetentionEntry] = []
    skipped: list[tuple[str, str]] = []
    notes: list[str] = []
    account_types = {rt.account.record_type for rt in engine.datamap.record_types if rt.account}
    resolved: dict[Subject, Subject] = {}
    for rt in engine.datamap.record_types:
        rule = engine.rule_for(rt)
        if rule is None:
            skipped.append((rt.name, "no retention rule covers it"))
            continue
        holds_here = (
            registry.holds_on(engine, rt, at, resolved=resolved) if registry is not None else []
        )
        held = combine_holds(holds_here)
        hold_ids = tuple(h.id for h, _ in holds_here)
        if settings is not None and rule.override is not None and rt.account is None:
            notes.append(
                f"{rt.name}: rule {rule.key!r} allows per-customer overrides but {rt.name} has no "
                "account link, so the policy's default applies to all of it"
            )
        for group in _groups(rule, rt, settings):
            source = trigger_source(engine, rt, group.trigger)
            if source is None:
                skipped.append(
                    (
                        rt.name,
                        (
                            f"rule {rule.key!r} ({group.label}) needs the "
                            f"{group.trigger.value} time, and neither {rt.name} nor its account "
                            "has such a field"
                        ),
                    )
                )
                continue
            stages = _stages(rule, rt, group.duration, source)
            # Stages are disjoint windows of trigger time: the latest stage takes the oldest
            # records, each earlier stage the band between its cutoff and the next one's.
            later: dt.datetime | None = None
            planned: list[RetentionEntry] = []
            for stage in reversed(stages):
                upper = cutoff(stage.duration, at)
                entry = _entry(
                    engine,
                    rt,
                    rule,
                    group,
                    source,
                    stage=stage,
                    window=(upper, later),
                    held=(held, hold_ids),
                    batch_size=size,
                )
                planned.append(entry)
                later = upper
            entries.extend(reversed(planned))
        if rt.name in account_types:
            notes.extend(_orphan_notes(engine, rt, rule))
    # Records whose trigger is their account's go before the accounts themselves.
    entries.sort(key=lambda e: e.record_type in account_types)
    ident = hashlib.sha256(
        orjson.dumps(
            [
                at.isoformat(),
                [
                    [e.rule, e.record_type, e.action, e.group, e.cutoff.isoformat(), list(e.fields)]
                    for e in entries
                ],
            ]
        )
    ).hexdigest()[:16]
    if not isinstance(journal, RetentionJournal):
        journal = RetentionJournal(journal)
    return RetentionPlan(
        now=at,
        entries=tuple(entries),
        skipped=tuple(skipped),
        notes=tuple(dict.fromkeys(notes)),
        batch_size=size,
        journal=journal,
        id="ret_" + ident,
    )


def _orphan_notes(engine: Engine, accounts: RecordType, rule: RetentionRule) -> Iterator[str]:
    """Warn where records keyed to an account outlive the account record they read their time from."""
    life = max([rule.effective_duration, *(e.duration for e in rule.exceptions if e.duration)])
    for rt in engine.datamap.record_types:
        if (
            rt.account is None
            or rt.account.record_type != accounts.name
            or rt.name == accounts.name
        ):
            continue
        other = engine.rule_for(rt)
        if other is None:
            continue
        source = trigger_source(engine, rt, other.trigger)
        if source is not None and source.account == accounts.name:
            longest = max(
                [other.effective_duration, *(e.duration for e in other.exceptions if e.duration)]
            )
            if longest > life:
                yield (
                    f"{rt.name} (rule {other.key!r}) reads its trigger time from {accounts.name}, "
                    f"which rule {rule.key!r} removes sooner ({life} vs {longest}): records left "
                    "without their account are never swept"
                )


def _entry(
    engine: Engine,
    rt: RecordType,
    rule: RetentionRule,
    group: _Group,
    source: TriggerSource,
    *,
    stage: _Stage,
    window: tuple[dt.datetime, dt.datetime | None],
    held: tuple[Selection | None, tuple[str, ...]],
    batch_size: int,
) -> RetentionEntry:
    upper, lower = window
    held_sel, hold_ids = held
    parts: list[Selection] = []
    account_selection: Selection | None = None
    excluded: frozenset[Any] = frozenset()
    if source.account is None:
        parts.append(_time_window(source.field, upper, lower))
        if rt.account is not None and group.accounts is not None:
            parts.append(In(rt.account.field, group.accounts))
        elif rt.account is not None and group.excluded:
            link = rt.account.field
            # A NULL account key belongs to no override group: it is in the default group.
            parts.append(Or((IsNull(link), Not(In(link, tuple(group.excluded))))))
    else:
        accounts = engine.datamap.record_type(source.account)
        account_selection = _time_window(source.field, upper, lower)
        if group.accounts is not None:
            account_selection = And((account_selection, In(accounts.primary_key, group.accounts)))
        excluded = group.excluded
    if stage.action == "minimize":
        # Only records still holding something to clear: a re-run changes nothing.
        parts.append(Or(tuple(Not(IsNull(f)) for f in stage.fields)))
    base: Selection = parts[0] if len(parts) == 1 else And(tuple(parts))
    entry = RetentionEntry(
        rule=rule.key,
        record_type=rt.name,
        action=stage.action,
        group=group.label,
        override=group.override,
        source=source,
        duration=stage.duration,
        cutoff=upper,
        after=lower,
        fields=stage.fields,
        kept=stage.kept,
        selection=_not_held(base, held_sel),
        account_selection=account_selection,
        excluded_accounts=excluded,
        held_selection=held_sel,
        count=0,
        held=0,
        hold_ids=hold_ids,
    )
    adapter = engine.adapter_for(rt)
    count = held_count = 0
    for _unit, selection in _units(engine, entry, batch_size, with_held=False):
        count += adapter.count(rt, _not_held(selection, held_sel))
        if held_sel is not None:
            held_count += adapter.count(rt, And((selection, held_sel)))
    return attrs.evolve(entry, count=count, held=held_count)


def _base(entry: RetentionEntry) -> Selection:
    """The entry's selection without the held-records exclusion."""
    if entry.held_selection is None:
        return entry.selection
    assert isinstance(entry.selection, And)  # built by _not_held
    return entry.selection.items[0]


def _units(
    engine: Engine, entry: RetentionEntry, batch_size: int, *, with_held: bool = True
) -> Iterator[tuple[int, Selection]]:
    """The concrete selections of an entry: one, or one per batch of accounts."""
    selection = entry.selection if with_held else _base(entry)
    if entry.account_selection is None:
        yield 0, selection
        return
    accounts = engine.datamap.record_type(entry.source.account or "")
    link = entry.source.link_field or ""
    adapter = engine.adapter_for(accounts)
    batches = adapter.iter_records(
        accounts, entry.account_selection, fields=[accounts.primary_key], batch_size=batch_size
    )
    for unit, batch in enumerate(batches):
        keys = tuple(
            r[accounts.primary_key]
            for r in batch
            if r[accounts.primary_key] is not None
            and r[accounts.primary_key] not in entry.excluded_accounts
        )
        if keys:
            yield unit, And((In(link, keys), selection))


# == applying ======================================================================================
def _anonymize(
    engine: Engine, rt: RecordType, selection: Selection, fields: tuple[str, ...], batch_size: int
) -> int:
    from . import _anonymize as anonymize  # noqa: PLC0415 - only anonymising sweeps need it

    return int(anonymize.anonymize_selection(engine, rt, selection, fields, batch_size=batch_size))


def _run_unit(
    engine: Engine, entry: RetentionEntry, rt: RecordType, selection: Selection, batch_size: int
) -> int:
    adapter = engine.adapter_for(rt)
    if entry.action == "delete":
        return adapter.delete(rt, selection, batch_size=batch_size)
    if entry.action == "minimize":
        return adapter.update(rt, selection, dict.fromkeys(entry.fields), batch_size=batch_size)
    return _anonymize(engine, rt, selection, entry.fields, batch_size)


def _audit(engine: Engine, action: str, now: dt.datetime, details: Mapping[str, Any]) -> None:
    engine.audit.record(action, now=now, details=details)


def _apply_plan(engine: Engine, plan: RetentionPlan, *, dry_run: bool) -> RetentionReport:
    lines: list[ReportLine] = []
    skipped_units = 0
    if dry_run:
        lines = [
            ReportLine(e.rule, e.record_type, e.action, e.group, e.count, 0, e.held, resumed=False)
            for e in plan.entries
        ]
        return RetentionReport(plan.now, dry_run=True, lines=tuple(lines), skipped_units=0)
    journal = plan.journal
    for index, entry in enumerate(plan.entries):
        rt = engine.datamap.record_type(entry.record_type)
        done = 0
        resumed = False
        for unit, selection in _units(engine, entry, plan.batch_size):
            if journal.done(plan.id, index, unit):
                skipped_units += 1
                resumed = True
                continue
            done += _run_unit(engine, entry, rt, selection, plan.batch_size)
            journal.mark(plan.id, index, unit)
        lines.append(
            ReportLine(
                entry.rule,
                entry.record_type,
                entry.action,
                entry.group,
                entry.count,
                done,
                entry.held,
                resumed,
            )
        )
        _audit(
            engine,
            "retention.step",
            plan.now,
            {
                "plan": plan.id,
                "rule": entry.rule,
                "record_type": entry.record_type,
                "action": entry.action,
                "group": "override" if entry.override is not None else "default",
                "override": None if entry.override is None else str(entry.override),
                "cutoff": entry.cutoff.isoformat(),
                "count": done,
                "held": entry.held,
                "holds": list(entry.hold_ids),
            },
        )
    report = RetentionReport(
        plan.now, dry_run=False, lines=tuple(lines), skipped_units=skipped_units
    )
    _audit(
        engine,
        "retention.applied",
        plan.now,
        {"plan": plan.id, "total": report.total, "by_rule": report.counts()},
    )
    return report


# == one record's fate =============================================================================
@attrs.frozen
class FateStage:
    """A step in a record's future: when, what, which fields."""

    at: dt.datetime
    action: Action
    fields: tuple[str, ...]


@attrs.frozen(kw_only=True)
class RecordFate:
    """When a record will be deleted (or anonymised), by which rule, and why not yet.

    Attributes:
        record_type: the record type.
        key: the record's primary key.
        rule: the governing rule's key (``None``: no rule covers it).
        action: what happens at the end (``delete`` or ``anonymize``).
        trigger: the trigger in effect (the override's, if the account chose one).
        time_field: where the trigger time is read (``end_at``, ``users.closed_at (via host_id)``).
        trigger_time: when the trigger happened (``None``: not yet, e.g. the account is open).
        duration: counted from the trigger (``None``: at the trigger).
        expires_at: when the action is due (``None``: not known yet, "while the account exists").
        override: the customer's chosen duration, if one applies.
        stages: every step with its time (a ``minimize`` step before the end when a legal
            obligation keeps some fields longer).
        held: the ids of the legal holds in force on the record.
        expired: the action is due at ``now`` (a sweep would act, unless held).
        sentence: the answer in one readable sentence.
    """

    record_type: str
    key: Any
    sentence: str
    rule: str | None = None
    action: str | None = None
    trigger: Trigger | None = None
    time_field: str | None = None
    trigger_time: dt.datetime | None = None
    duration: Duration | None = None
    expires_at: dt.datetime | None = None
    override: Duration | None = None
    stages: tuple[FateStage, ...] = ()
    held: tuple[str, ...] = ()
    expired: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for an export manifest)."""
        return {
            "record_type": self.record_type,
            "rule": self.rule,
            "action": self.action,
            "trigger": None if self.trigger is None else self.trigger.value,
            "time_field": self.time_field,
            "trigger_time": None if self.trigger_time is None else self.trigger_time.isoformat(),
            "duration": None if self.duration is None else str(self.duration),
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
            "override": None if self.override is None else str(self.override),
            "stages": [
                {"at": s.at.isoformat(), "action": s.action, "fields": list(s.fields)}
                for s in self.stages
            ],
            "held": list(self.held),
            "expired": self.expired,
            "sentence": self.sentence,
        }


def _load_one(
    engine: Engine, rt: RecordType, key: Any, fields: Sequence[str] | None = None
) -> dict[str, Any] | None:
    for batch in engine.adapter_for(rt).iter_records(
        rt, Eq(rt.primary_key, key), fields=fields, batch_size=1
    ):
        for record in batch:
            return record
    return None


def _when(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def record_fate(
    engine: Engine,
    record_type: RecordType | str,
    record_or_key: Mapping[str, Any] | Any,
    *,
    now: dt.datetime,
    settings: RetentionSettings | None = None,
) -> RecordFate:
    """The fate of one record (see :meth:`privacy_kit.Engine.fate`)."""
    at = require_aware(now).astimezone(dt.UTC)
    rt = engine.datamap.record_type(record_type) if isinstance(record_type, str) else record_type
    if isinstance(record_or_key, Mapping):
        record = dict(record_or_key)
        key = record.get(rt.primary_key)
    else:
        key = record_or_key
        loaded = _load_one(engine, rt, key)
        if loaded is None:
            raise ConfigurationError(f"no {rt.name} record with {rt.primary_key} = {key!r}")
        record = loaded
    name = f"{rt.name} {key}"
    registry: HoldRegistry | None = engine.holds
    held = tuple(
        hold.id
        for hold, sel in (registry.holds_on(engine, rt, at) if registry is not None else [])
        if sel.matches(record)
    )
    rule = engine.rule_for(rt)
    if rule is None:
        return RecordFate(
            record_type=rt.name,
            key=key,
            held=held,
            sentence=f"{name} is not covered by any retention rule, so no sweep removes it.",
        )
    group = _groups(rule, rt, None)[0]
    account_key = record.get(rt.account.field) if rt.account is not None else None
    if settings is not None and rule.override is not None and rt.account is not None:
        chosen = settings.get(account_key, rule.key) if account_key is not None else None
        if chosen is not None:
            check_override(rule, chosen)
            group = _Group(
                "override", rule.override.trigger or rule.trigger, chosen, override=chosen
            )
    source = trigger_source(engine, rt, group.trigger)
    if source is None:
        return RecordFate(
            record_type=rt.name,
            key=key,
            rule=rule.key,
            action=_final_action(rule),
            trigger=group.trigger,
            duration=group.duration,
            override=group.override,
            held=held,
            sentence=(
                f"{name} falls under rule {rule.key!r}, but its {group.trigger.value} time is "
                "not recorded anywhere, so no sweep can remove it."
            ),
        )
    account: dict[str, Any] | None = None
    if source.account is None:
        trigger_time = record.get(source.field)
    else:
        accounts = engine.datamap.record_type(source.account)
        account = (
            None
            if account_key is None
            else _load_one(engine, accounts, account_key, [accounts.primary_key, source.field])
        )
        trigger_time = None if account is None else account.get(source.field)
    stages = _stages(rule, rt, group.duration, source)
    final = stages[-1]
    whose = "the customer's setting" if group.override is not None else "the policy's default"
    if trigger_time is None:
        waiting = {
            Trigger.ACCOUNT_CLOSED: "while the account exists (it is not closed)",
            Trigger.ACCOUNT_DEACTIVATED: "while the account is active",
        }.get(group.trigger, f"until its {group.trigger.value} time is recorded")
        if source.account is not None and account_key is None:
            waiting = "indefinitely: it is linked to no account"
        elif source.account is not None and account is None:
            waiting = f"indefinitely: its account {account_key!r} is not found"
        span = f"{final.duration.describe()} after" if final.duration else "at"
        sentence = (
            f"{name} is kept {waiting}; rule {rule.key!r} will {final.action} it {span} "
            f"{group.trigger.value} ({whose})."
        )
        return RecordFate(
            record_type=rt.name,
            key=key,
            rule=rule.key,
            action=final.action,
            trigger=group.trigger,
            time_field=source.describe(),
            duration=final.duration,
            override=group.override,
            held=held,
            sentence=sentence,
        )
    fate_stages = tuple(
        FateStage(expires_at(trigger_time, s.duration), s.action, s.fields) for s in stages
    )
    due = fate_stages[-1].at
    expired = due <= at
    span = f"{final.duration.describe()} after" if final.duration else "at"
    verb = {"delete": "deleted", "anonymize": "anonymised"}.get(final.action, final.action)
    tense = "was due to be" if expired else "will be"
    sentence = (
        f"{name} {tense} {verb} on {_when(due)} by rule {rule.key!r}: {span} "
        f"{group.trigger.value} ({source.describe()} = {_when(trigger_time)}; {whose})."
    )
    for stage in fate_stages[:-1]:
        sentence += (
            f" On {_when(stage.at)} {', '.join(stage.fields)} "
            f"{'were' if stage.at <= at else 'will be'} cleared; the rest is kept for a legal "
            "obligation."
        )
    if held:
        sentence += f" It is under legal hold ({', '.join(held)}) and is kept while the hold lasts."
    return RecordFate(
        record_type=rt.name,
        key=key,
        rule=rule.key,
        action=final.action,
        trigger=group.trigger,
        time_field=source.describe(),
        trigger_time=trigger_time,
        duration=final.duration,
        expires_at=due,
        override=group.override,
        stages=fate_stages,
        held=held,
        expired=expired,
        sentence=sentence,
    )
