"""The fate of one record: when it will be deleted or anonymised, by which rule, and whether held.

:func:`record_fate` answers for one record what a sweep would do to it and when, reading the
record (and its account) from the store, with a readable sentence for people. A pending
commitment on the record (an erasure kept it "until" a date) is part of the answer; a record whose
trigger time is its account's, and whose account no longer exists, "cannot be timed": the answer
never says "kept indefinitely" for it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from .._errors import ConfigurationError
from .._html import html_table, join_html, records
from .._scope import Stores
from .._types import Duration, require_aware
from ..adapters import Eq
from ..model._check_retention import RuleChoice, rule_for_record
from ..model._datamap import RecordType
from ..model._policy import Policy
from ..model._policy_retention import RetentionAction, RetentionRule, Trigger
from ..model._staged import staged_bound
from ._commitments import Commitment, CommitmentRegistry
from ._holds import HoldRegistry
from ._indefinite import IndefiniteKeep, indefinite_keeps
from ._rules import Action, _final_action, _Group, _groups, _stages, expires_at
from ._settings import RetentionSettings, check_override
from ._states import choice_source
from ._views import FATE_COLUMNS

if TYPE_CHECKING:
    from .._scope import Resolver

__all__ = ["FateStage", "RecordFate", "record_fate"]


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
        commitments: the pending commitments on the record (an erasure kept it until a date).
        when: for a record type whose rules depend on the record's state, the state it is in
            (which chose ``rule``).
        gone_from_live_by: when it is gone from live systems at the latest (the rule's
            ``purge_within`` after ``expires_at``).
        gone_from_backups_by: when it is gone from backups too (the outer bound; ``None``
            while ``expires_at`` is unknown).
        untimed: no sweep can time it: its trigger time is its account's and the account no
            longer exists (or it links to none), and no commitment gives it an end.
        sentence: the answer in one readable sentence.
        kept_indefinitely: what the rule keeps of the record forever (the whole record, or
            fields), with the policy's reason.
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
    commitments: tuple[str, ...] = ()
    untimed: bool = False
    when: str | None = None
    gone_from_live_by: dt.datetime | None = None
    gone_from_backups_by: dt.datetime | None = None
    kept_indefinitely: tuple[IndefiniteKeep, ...] = ()

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
            "commitments": list(self.commitments),
            "untimed": self.untimed,
            "when": self.when,
            "gone_from_live_by": _iso(self.gone_from_live_by),
            "gone_from_backups_by": _iso(self.gone_from_backups_by),
            "kept_indefinitely": [k.to_dict() for k in self.kept_indefinitely],
            "sentence": self.sentence,
        }

    def __repr__(self) -> str:
        return _fate_repr(self)

    def _repr_html_(self) -> str:
        return _fate_html(self)

    def to_pandas(self) -> Any:
        """:meth:`to_records` as a ``pandas.DataFrame`` (same columns, even with no rows).

        Raises:
            ConfigurationError: if pandas is not installed (``pip install pandas``).
        """
        from .._html import data_frame  # noqa: PLC0415

        return data_frame(FATE_COLUMNS, self.to_records(), of=type(self).__name__)

    def to_records(self) -> list[dict[str, object]]:
        """The fate as one flat row, so fates of several records stack into one data frame.

        The columns are the same for every fate (``None`` where a value does not apply), the key
        as text, datetimes and durations as ISO 8601 text, stages and lists joined with ``"; "``.
        """
        return _fate_records(self)


def _load_one(
    stores: Stores, rt: RecordType, key: Any, fields: Sequence[str] | None = None
) -> dict[str, Any] | None:
    for batch in stores.adapter_for(rt).iter_records(
        rt, Eq(rt.primary_key, key), fields=fields, batch_size=1
    ):
        for record in batch:
            return record
    return None


def _when(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def record_fate(
    policy: Policy,
    stores: Stores,
    record_type: RecordType | str,
    record_or_key: Mapping[str, Any] | Any,
    *,
    holds: HoldRegistry | None,
    resolver: Resolver,
    now: dt.datetime,
    settings: RetentionSettings | None = None,
    commitments: CommitmentRegistry | None = None,
) -> RecordFate:
    """The fate of one record (see :meth:`privacy_kit.Engine.fate`).

    Args:
        policy: the policy (its retention rules).
        stores: the adapters, per store (the record, and its account, are read from them).
        record_type: the record type or its name.
        record_or_key: the record (a mapping) or its primary key.
        holds: the legal holds (``None``: none).
        resolver: turns a held subject into its scope (an :class:`~privacy_kit.Engine` is one).
        now: the instant to answer for.
        settings: customers' per-account overrides.
        commitments: the commitments (an erasure's "kept until"); a pending one that selects the
            record ends it at its date, unless its rule ends it sooner.
    """
    at = require_aware(now).astimezone(dt.UTC)
    rt = stores.record_type(record_type)
    if isinstance(record_or_key, Mapping):
        record = dict(record_or_key)
        key = record.get(rt.primary_key)
        state_fields = {f for e in rt.retention_entries if e.when for f in e.when.fields()}
        if key is not None and not state_fields <= record.keys():
            # The rule depends on fields the caller left out: read them from the store.
            stored = _load_one(stores, rt, key)
            record = record if stored is None else {**stored, **record}
    else:
        key = record_or_key
        loaded = _load_one(stores, rt, key)
        if loaded is None:
            raise ConfigurationError(f"no {rt.name} record with {rt.primary_key} = {key!r}")
        record = loaded
    registry = holds
    held = tuple(
        hold.id
        for hold, sel in (registry.holds_on(resolver, rt, at) if registry is not None else [])
        if sel.matches(record)
    )
    fate = _rule_fate(policy, stores, rt, record, key, held=held, at=at, settings=settings)
    found = (
        [c for c in commitments.pending(rt.name) if c.selection.matches(record)]
        if commitments is not None
        else []
    )
    return _with_commitments(fate, found, at) if found else fate


def _rule_fate(
    policy: Policy,
    stores: Stores,
    rt: RecordType,
    record: Mapping[str, Any],
    key: Any,
    *,
    held: tuple[str, ...],
    at: dt.datetime,
    settings: RetentionSettings | None,
) -> RecordFate:
    """What the record's retention rule does to it, and when."""
    name = f"{rt.name} {key}"
    choice = rule_for_record(policy, rt, record)
    if choice is None:
        state = " in its present state" if rt.is_conditional else ""
        return RecordFate(
            record_type=rt.name,
            key=key,
            held=held,
            sentence=f"{name} is not covered by any retention rule{state}, so no sweep removes it.",
        )
    rule = choice.rule
    keeps = tuple(indefinite_keeps(rule, rt))
    if rule.indefinite:
        return RecordFate(
            record_type=rt.name,
            key=key,
            rule=rule.key,
            held=held,
            kept_indefinitely=keeps,
            sentence=f"{name} is kept indefinitely: {keeps[0].reason} (rule {rule.key!r}); no "
            "sweep removes it.",
        )
    fate = _timed_fate(
        policy, stores, rt, record, key, choice=choice, held=held, at=at, settings=settings
    )
    if not keeps:
        return fate
    kept = " ".join(
        f"{', '.join(k.fields)} {'is' if len(k.fields) == 1 else 'are'} kept indefinitely: "
        f"{k.reason}."
        for k in keeps
    )
    if fate.action is None:  # no step of the rule changes anything of it
        return attrs.evolve(
            fate,
            kept_indefinitely=keeps,
            sentence=f"{name} is kept indefinitely: rule {rule.key!r} changes nothing else of "
            f"it, so no sweep removes it. {kept}",
        )
    return attrs.evolve(fate, kept_indefinitely=keeps, sentence=f"{fate.sentence} {kept}")


def _timed_fate(
    policy: Policy,
    stores: Stores,
    rt: RecordType,
    record: Mapping[str, Any],
    key: Any,
    *,
    choice: RuleChoice,
    held: tuple[str, ...],
    at: dt.datetime,
    settings: RetentionSettings | None,
) -> RecordFate:
    """The fate of a record under a rule with an end (fields kept forever left to the caller)."""
    name = f"{rt.name} {key}"
    rule = choice.rule
    group = _groups(rule, rt, None)[0]
    account_key = record.get(rt.account.field) if rt.account is not None else None
    if settings is not None and rule.override is not None and rt.account is not None:
        chosen = settings.get(account_key, rule.key) if account_key is not None else None
        if chosen is not None:
            check_override(rule, chosen)
            group = _Group(
                "override", rule.override.trigger or rule.trigger, chosen, override=chosen
            )
    source = choice_source(stores.datamap, rt, choice, group.trigger)
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
        accounts = stores.record_type(source.account)
        account = (
            None
            if account_key is None
            else _load_one(stores, accounts, account_key, [accounts.primary_key, source.field])
        )
        trigger_time = None if account is None else account.get(source.field)
    stages = _stages(rule, rt, group.duration, source)
    if not stages:
        return RecordFate(
            record_type=rt.name,
            key=key,
            rule=rule.key,
            trigger=group.trigger,
            time_field=source.describe(),
            trigger_time=trigger_time,
            held=held,
            sentence=f"{name} falls under rule {rule.key!r}, which changes none of its fields, "
            "so no sweep changes it.",
        )
    final = stages[-1]
    whose = "the customer's setting" if group.override is not None else "the policy's default"
    if trigger_time is None:
        waiting = {
            Trigger.ACCOUNT_CLOSED: "while the account exists (it is not closed)",
            Trigger.ACCOUNT_DEACTIVATED: "while the account is active",
        }.get(group.trigger, f"until its {group.trigger.value} time is recorded")
        untimed = None
        if source.account is not None and account_key is None:
            untimed = f"it is linked to no account ({source.link_field} is empty)"
        elif source.account is not None and account is None:
            untimed = f"the account {account_key!r} ({source.account}) no longer exists"
        span = f"{final.duration.describe()} after" if final.duration else "at"
        sentence = (
            f"{name} is kept {waiting}; rule {rule.key!r} will {final.action} it {span} "
            f"{group.trigger.value} ({whose})."
        )
        if untimed is not None:
            sentence = (
                f"{name} cannot be timed: {untimed}, and rule {rule.key!r} reads its "
                f"{group.trigger.value} time from it ({source.describe()}), so no sweep will "
                f"ever {final.action} it."
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
            untimed=untimed is not None,
            sentence=sentence,
        )
    fate_stages = tuple(
        FateStage(expires_at(trigger_time, s.duration), s.action, s.fields) for s in stages
    )
    due = fate_stages[-1].at
    expired = due <= at
    span = f"{final.duration.describe()} after" if final.duration else "at"
    verb = {
        "delete": "deleted",
        "anonymize": "anonymised" if rule.action is not RetentionAction.BLIND else "blinded",
        "minimize": "cleared of its other personal data",
    }.get(final.action, final.action)
    if rule.action is RetentionAction.BLIND:
        verb += f" ({', '.join(final.fields)}; the rest is kept)"
    where = f" (records where {choice.describe()})" if choice.index is not None else ""
    tense = "was due to be" if expired else "will be"
    sentence = (
        f"{name} {tense} {verb} on {_when(due)} by rule {rule.key!r}{where}: {span} "
        f"{group.trigger.value} ({source.describe()} = {_when(trigger_time)}; {whose})."
    )
    for stage in fate_stages[:-1]:
        sentence += (
            f" On {_when(stage.at)} {', '.join(stage.fields)} "
            f"{'were' if stage.at <= at else 'will be'} cleared; the rest is kept for a legal "
            "obligation."
        )
    staged = _staged_text(policy, stores, rule, due)
    sentence += staged[0]
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
        when=_state(choice),
        gone_from_live_by=staged[1],
        gone_from_backups_by=staged[2],
    )


_VERBS = {"delete": "deleted", "anonymize": "anonymised"}


def _with_commitments(fate: RecordFate, found: list[Commitment], at: dt.datetime) -> RecordFate:
    """The rule's answer, with the pending commitments on the record (an erasure's "kept until")."""
    name = f"{fate.record_type} {fate.key}"
    ids = tuple(c.id for c in found)
    clears = sorted((c for c in found if c.action == "clear"), key=lambda c: c.due)
    ends = sorted((c for c in found if c.action != "clear"), key=lambda c: c.due)
    stages = [FateStage(c.due, "minimize", c.fields) for c in clears]
    clear_text = "".join(
        f" On {_when(c.due)} {', '.join(c.fields)} {'were due to be' if c.due <= at else 'will be'}"
        f" cleared by commitment {c.id}: an erasure kept them ({c.reason}: {c.explanation})"
        " and the record stays with its owner."
        for c in clears
    )
    hold = (
        f" It is under legal hold ({', '.join(fate.held)}) and is kept while the hold lasts."
        if fate.held and "legal hold" not in fate.sentence
        else ""
    )
    end = ends[0] if ends else None
    if end is None or (fate.expires_at is not None and fate.expires_at <= end.due):
        also = (
            f" Commitment {end.id} from an erasure would end it on {_when(end.due)} otherwise."
            if end is not None
            else ""
        )
        return attrs.evolve(
            fate,
            stages=tuple(sorted((*fate.stages, *stages), key=lambda s: s.at)),
            commitments=ids,
            sentence=fate.sentence + clear_text + also,
        )
    action: Action = "anonymize" if end.action == "anonymize" else "delete"
    tense = "was due to be" if end.due <= at else "will be"
    kept = f" ({', '.join(end.fields)})" if end.fields else ""
    sentence = (
        f"{name} {tense} {_VERBS[action]} on {_when(end.due)} by commitment {end.id}: an erasure "
        f"kept it{kept} until then ({end.reason}: {end.explanation}).{clear_text}{hold} "
        f"By its retention rule alone: {fate.sentence}"
    )
    return attrs.evolve(
        fate,
        action=action,
        expires_at=end.due,
        stages=(*stages, FateStage(end.due, action, end.fields)),
        expired=end.due <= at,
        commitments=ids,
        untimed=False,
        sentence=sentence,
    )


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _state(choice: RuleChoice) -> str | None:
    return None if choice.index is None else choice.describe()


def _staged_text(
    policy: Policy, stores: Stores, rule: RetentionRule, due: dt.datetime
) -> tuple[str, dt.datetime, dt.datetime]:
    """The live-purge and backup stages after ``due``: a sentence, and both dates."""
    bound = staged_bound(policy, rule, stores.datamap)
    live, backups = bound.live_by(due), bound.backups_by(due)
    if not bound.staged:
        return "", live, backups
    text = ""
    if bound.purge_within is not None:
        text += f" It is gone from live systems by {_when(live)}"
    if bound.backup_expiry is not None:
        text += (" and" if text else " It is gone") + (
            f" from backups by {_when(backups)} ({', '.join(bound.backups)} roll off within "
            f"{bound.backup_expiry.describe()})"
        )
    return text + ".", live, backups


# == notebook views ================================================================================
def _fate_row(fate: RecordFate) -> dict[str, object]:
    return {
        "record_type": fate.record_type,
        "key": str(fate.key),
        "rule": fate.rule,
        "action": fate.action,
        "when": fate.when,
        "trigger": fate.trigger,
        "time_field": fate.time_field,
        "trigger_time": fate.trigger_time,
        "duration": fate.duration,
        "override": fate.override,
        "expires_at": fate.expires_at,
        "expired": fate.expired,
        "held": fate.held,
        "commitments": fate.commitments,
        "untimed": fate.untimed,
        "stages": tuple(_stage(s) for s in fate.stages),
        "kept_indefinitely": tuple(k.describe() for k in fate.kept_indefinitely),
        "gone_from_live_by": fate.gone_from_live_by,
        "gone_from_backups_by": fate.gone_from_backups_by,
        "sentence": fate.sentence,
    }


def _stage(stage: FateStage) -> str:
    fields = f" {', '.join(stage.fields)}" if stage.fields else ""
    return f"{stage.action}{fields} at {stage.at.isoformat()}"


def _fate_records(fate: RecordFate) -> list[dict[str, object]]:
    return records(FATE_COLUMNS, [_fate_row(fate)])


def _fate_repr(fate: RecordFate) -> str:
    at = None if fate.expires_at is None else fate.expires_at.isoformat()
    extra = ", untimed=True" if fate.untimed else ""
    return (
        f"RecordFate(record_type={fate.record_type!r}, key={fate.key!r}, rule={fate.rule!r}, "
        f"action={fate.action!r}, expires_at={at!r}, expired={fate.expired}, "
        f"held={list(fate.held)!r}{extra})"
    )


def _fate_html(fate: RecordFate) -> str:
    row = _fate_records(fate)[0]
    facts = [(k.replace("_", " "), v) for k, v in row.items() if k not in ("stages", "sentence")]
    parts = [
        html_table(f"Fate of {fate.record_type} {fate.key}", ["", ""], facts, caption=fate.sentence)
    ]
    if fate.stages:
        parts.append(
            html_table(
                "Stages",
                ["at", "action", "fields"],
                [(s.at.isoformat(), s.action, s.fields) for s in fate.stages],
            )
        )
    return join_html(*parts)
