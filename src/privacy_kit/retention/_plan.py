"""Planning a retention sweep: per rule, record type and group, what expires and how many.

:func:`plan_retention` turns the policy's rules, the data map, the customers' settings and the
legal holds into a :class:`RetentionPlan` whose entries carry their selections, cutoffs and
counts (read from the store, nothing changed). Held records are excluded and counted apart.
Every commitment due at ``now`` (records an erasure kept "until" a date,
:mod:`privacy_kit.retention._commitments`) is an entry too, and the records no sweep can ever
time (their account is gone, :mod:`privacy_kit.retention._orphans`) are counted in ``orphans``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import orjson

from .._errors import PlanError
from .._scope import Stores
from .._types import require_aware
from ..adapters import And, In, IsNull, Not, Or, Related, Selection
from ..adapters._base import WRITE_BATCH, reading_together
from ..adapters._order import store_deletion_order
from ..model._datamap import RecordType
from ..model._digest import datamap_digest
from ..model._policy import Policy
from ..model._policy_retention import RetentionRule
from ..model._staged import staged_bound
from ._commitments import Commitment, CommitmentRegistry
from ._counting import CountBatch
from ._holds import HoldRegistry, combine_holds
from ._indefinite import IndefiniteKeep, anonymised_guard, indefinite_keeps
from ._journal import RetentionJournal
from ._observe import log_retention_plan
from ._orphans import ask_orphans
from ._partitions import survey_entries
from ._plan_json import content_id
from ._plan_model import RetentionEntry, RetentionPlan
from ._plan_support import can_recheck, no_recheck_note, not_held, orphan_notes, time_window
from ._rules import Action, TriggerSource, _Group, _groups, _Stage, _stages, cutoff
from ._settings import RetentionSettings
from ._states import choice_selection, choice_source, rule_choices, with_state

if TYPE_CHECKING:
    from .._scope import Resolver, Scope, Subject

__all__ = ["RetentionEntry", "RetentionPlan", "plan_retention", "units"]

_DEFAULT_BATCH = WRITE_BATCH


def plan_retention(
    policy: Policy,
    stores: Stores,
    *,
    holds: HoldRegistry | None,
    resolver: Resolver,
    now: dt.datetime,
    settings: RetentionSettings | None = None,
    batch_size: int | None = None,
    journal: RetentionJournal | str | os.PathLike[str] | None = None,
    commitments: CommitmentRegistry | None = None,
    resume: str | None = None,
) -> RetentionPlan:
    """Plan a retention sweep at ``now`` (see :meth:`privacy_kit.Engine.plan_retention`).

    Args:
        policy: the policy (its retention rules).
        stores: the adapters, per store (counts are read from them; nothing is changed).
        holds: the legal holds (``None``: none); held records are excluded and counted apart.
        resolver: turns a held subject into its scope (an :class:`~privacy_kit.Engine` is one).
        now: the instant to evaluate expiry at (timezone-aware).
        settings: customers' per-account overrides (``None``: the policy's defaults).
        batch_size: records per ``delete``/``update`` statement, and accounts per ``IN`` list
            (``None``: each adapter runs its own statement plan, and ``IN`` lists hold up to
            :data:`~privacy_kit.adapters.WRITE_BATCH` accounts).
        journal: where applying records finished units (resumable).
        commitments: the commitments (``None``: none); each one due at ``now`` becomes an entry
            (held records excluded), and pending ones are not counted as orphans.
        resume: the id of an earlier plan to resume (after a crash lost the plan object): the
            new plan takes that id, and so that plan's journal, when it does the same work under
            the same holds; otherwise :class:`~privacy_kit.PlanError`. Without it, every plan
            has an id of its own.

    Raises:
        PlanError: ``resume`` names a plan of other work (other entries, instant or holds).
    """
    # Every read of the plan in one read-only transaction per adapter that offers one: one
    # snapshot, one BEGIN and one ROLLBACK (see SQLAlchemyAdapter.reading).
    with reading_together(stores.adapter_for(rt) for rt in stores.datamap.record_types):
        datamap = stores.datamap
        at = require_aware(now).astimezone(dt.UTC)
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        size = batch_size or _DEFAULT_BATCH
        registry = holds
        entries: list[RetentionEntry] = []
        skipped: list[tuple[str, str]] = []
        notes: list[str] = []
        kept_forever: list[IndefiniteKeep] = []
        account_types = {rt.account.record_type for rt in datamap.record_types if rt.account}
        resolved: dict[Subject, Scope] = {}
        holds_cache: dict[str, tuple[Selection | None, tuple[str, ...]]] = {}

        def holds_for(rt: RecordType) -> tuple[Selection | None, tuple[str, ...]]:
            if rt.name not in holds_cache:
                found = (
                    registry.holds_on(resolver, rt, at, resolved=resolved)
                    if registry is not None
                    else []
                )
                holds_cache[rt.name] = (combine_holds(found), tuple(h.id for h, _ in found))
            return holds_cache[rt.name]

        keys_read: list[tuple[Any, list[Any]]] = []  # account keys read once for all entries
        for rt, choice in rule_choices(policy, datamap, skipped):
            rule = choice.rule
            kept_forever.extend(indefinite_keeps(rule, rt))
            if rule.indefinite:
                notes.append(
                    f"{rt.name}: rule {rule.key!r} keeps it indefinitely, so no sweep expires it"
                )
                continue
            held, hold_ids = holds_for(rt)
            if settings is not None and rule.override is not None and rt.account is None:
                notes.append(
                    f"{rt.name}: rule {rule.key!r} allows per-customer overrides but {rt.name} has no "
                    "account link, so the policy's default applies to all of it"
                )
            for group in _groups(rule, rt, settings):
                source = choice_source(datamap, rt, choice, group.trigger)
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
                bound = staged_bound(policy, rule, datamap)
                notes.extend(_forever_notes(rule, rt, stages))
                # Stages are disjoint windows of trigger time: the latest stage takes the oldest
                # records, each earlier stage the band between its cutoff and the next one's.
                later: dt.datetime | None = None
                planned: list[RetentionEntry] = []
                for stage in reversed(stages):
                    upper = cutoff(stage.duration, at)
                    entry = _entry(
                        stores,
                        rt,
                        rule,
                        group,
                        source,
                        stage=stage,
                        window=(upper, later),
                        held=(held, hold_ids),
                        state=choice_selection(choice),
                    )
                    planned.append(with_state(entry, choice, bound, at))
                    later = upper
                entries.extend(reversed(planned))
                if planned and planned[0].account_selection is not None and not planned[0].recheck:
                    notes.append(no_recheck_note(stores, rt, rule, source))
            if rt.name in account_types:
                notes.extend(orphan_notes(policy, datamap, rt, rule))
        pending: dict[str, list[Selection]] = {}
        for commitment in commitments.pending() if commitments is not None else ():
            if not datamap.has_record_type(commitment.record_type):
                skipped.append(
                    (
                        commitment.record_type,
                        (
                            f"commitment {commitment.id} ({commitment.describe()}) names a record "
                            "type the data map no longer has"
                        ),
                    )
                )
                continue
            rt = datamap.record_type(commitment.record_type)
            pending.setdefault(rt.name, []).append(commitment.selection)
            if commitment.is_due(at):
                entries.append(_commitment_entry(stores, rt, commitment, holds_for(rt)))
        # Every count of the plan (entries, held records, orphans) read together (see CountBatch).
        counts = CountBatch(stores)
        counted = ask_entry_counts(counts, stores, entries, size, keys_read)
        covered = {
            name: sels[0] if len(sels) == 1 else Or(tuple(sels)) for name, sels in pending.items()
        }
        orphans = ask_orphans(
            counts, policy, stores, settings=settings, covered=covered, batch_size=size
        )
        counts.run()
        entries = counted()
        entries, partition_notes = survey_entries(stores, entries)
        notes.extend(partition_notes)
        # Children (records whose trigger is their account's among them) before what they reference.
        order = store_deletion_order((rt, stores.adapter_for(rt)) for rt in datamap.record_types)
        notes.extend(order.notes)
        entries.sort(key=lambda e: order.rank(e.record_type))
        plan_id = resumed_id(content_id(at, entries, batch_size), resume)
        if not isinstance(journal, RetentionJournal):
            journal = RetentionJournal(journal)
        plan = RetentionPlan(
            now=at,
            entries=tuple(entries),
            skipped=tuple(skipped),
            notes=tuple(dict.fromkeys(notes)),
            batch_size=batch_size,
            journal=journal,
            id=plan_id,
            orphans=orphans(),
            commitments=commitments,
            kept_indefinitely=tuple(kept_forever),
            hold_ids=tuple(sorted({h for e in entries for h in e.hold_ids})),
            holds=registry,
            resolver=resolver,
            policy_version=policy.version,
            datamap_digest=datamap_digest(datamap),
        )
        return log_retention_plan(plan)


_COMMITMENT_ACTIONS: dict[str, Action] = {
    "delete": "delete",
    "clear": "minimize",
    "anonymize": "anonymize",
}


def resumed_id(content: str, resume: str | None) -> str:
    """A plan's id: ``content`` (what it does) and a random nonce, or the id it resumes.

    Two plans of the same work for the same instant (two processes) get two ids and two
    journals; ``resume`` (an earlier plan's id) is taken only when its content part matches.

    Example:
        >>> resumed_id("ret_ab", "ret_ab" + "0" * 8)
        'ret_ab00000000'
        >>> len(resumed_id("ret_ab", None)), resumed_id("ret_ab", None) != resumed_id("ret_ab", None)
        (14, True)
    """
    if resume is None:
        return content + secrets.token_hex(4)
    if not resume.startswith(content) or len(resume) != len(content) + 8:
        raise PlanError(
            f"cannot resume plan {resume!r}: the new plan does other work ({content}...: other "
            "entries, instant or legal holds); apply a new plan without resume="
        )
    return resume


def _commitment_entry(
    stores: Stores,
    rt: RecordType,
    commitment: Commitment,
    held: tuple[Selection | None, tuple[str, ...]],
) -> RetentionEntry:
    """The entry that carries out a due commitment (held records excluded; counted later)."""
    held_sel, hold_ids = held
    action: Action = _COMMITMENT_ACTIONS[commitment.action]
    base = commitment.selection
    if action == "minimize":
        # Only records still holding a kept field: a re-run changes nothing.
        base = And((base, Or(tuple(Not(IsNull(f)) for f in commitment.fields))))
    fields = commitment.fields
    if action == "anonymize" and not fields:
        fields = tuple(f.name for f in rt.fields if f.personal and f.name != rt.primary_key)
    return RetentionEntry(
        rule=commitment.id,
        record_type=rt.name,
        action=action,
        group="commitment",
        override=None,
        source=None,
        duration=None,
        cutoff=commitment.due,
        after=None,
        fields=fields,
        kept=(),
        selection=not_held(base, held_sel),
        account_selection=None,
        excluded_accounts=frozenset(),
        held_selection=held_sel,
        count=0,
        held=0,
        hold_ids=hold_ids,
        commitment=commitment,
    )


def _forever_notes(rule: RetentionRule, rt: RecordType, stages: list[_Stage]) -> Iterator[str]:
    """The plan's notes on what ``rule`` keeps of ``rt`` indefinitely, and on steps that cannot
    tell anonymised records apart."""
    for keep in indefinite_keeps(rule, rt):
        if not stages:
            yield (
                f"{rt.name} (rule {rule.key!r}): {', '.join(keep.fields)} kept indefinitely "
                f"({keep.kind}: {keep.reason}), and nothing else of it is cleared, so no sweep "
                "changes it"
            )
        else:
            yield (
                f"{rt.name} (rule {rule.key!r}): {', '.join(keep.fields)} kept indefinitely "
                f"({keep.kind}: {keep.reason}); no sweep touches them, and the records holding "
                "them are never deleted (the rest of their personal data follows the rule)"
            )
    for stage in stages:
        if (
            stage.action == "anonymize"
            and anonymised_guard(rt, stage.fields, marks=stage.marks) is None
        ):
            yield (
                f"{rt.name} (rule {rule.key!r}): the strategies of {', '.join(stage.fields)} "
                "cannot be recognised in a selection and the record type declares no "
                "timestamps.anonymized marker, so this step's count includes records an earlier "
                "sweep anonymised (applying rewrites them to the same values and counts only "
                "those that change)"
            )


def _entry(
    stores: Stores,
    rt: RecordType,
    rule: RetentionRule,
    group: _Group,
    source: TriggerSource,
    *,
    stage: _Stage,
    window: tuple[dt.datetime, dt.datetime | None],
    held: tuple[Selection | None, tuple[str, ...]],
    state: Selection | None = None,
) -> RetentionEntry:
    upper, lower = window
    held_sel, hold_ids = held
    parts: list[Selection] = []
    account_selection: Selection | None = None
    excluded: frozenset[Any] = frozenset()
    recheck = False
    if source.account is None:
        parts.append(time_window(source.field, upper, lower))
        if rt.account is not None and group.accounts is not None:
            parts.append(In(rt.account.field, group.accounts))
        elif rt.account is not None and group.excluded:
            link = rt.account.field
            # A NULL account key belongs to no override group: it is in the default group.
            parts.append(Or((IsNull(link), Not(In(link, tuple(group.excluded))))))
    else:
        accounts = stores.record_type(source.account)
        recheck = can_recheck(stores, rt, accounts)
        account_selection = time_window(source.field, upper, lower)
        if group.accounts is not None:
            account_selection = And((account_selection, In(accounts.primary_key, group.accounts)))
        excluded = group.excluded
    if stage.action == "minimize":
        # Only records still holding something to clear: a re-run changes nothing.
        parts.append(Or(tuple(Not(IsNull(f)) for f in stage.fields)))
    marker = rt.timestamps.anonymized if stage.action == "anonymize" and stage.marks else None
    if stage.action == "anonymize":
        # Only records not yet anonymised (or not yet marked): a re-run changes nothing.
        guard = anonymised_guard(rt, stage.fields, marks=stage.marks)
        if guard is not None:
            parts.append(guard)
    if state is not None:
        parts.append(state)  # the record's state: re-checked by the statement itself
    base: Selection = parts[0] if len(parts) == 1 else And(tuple(parts))
    return RetentionEntry(
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
        selection=not_held(base, held_sel),
        account_selection=account_selection,
        excluded_accounts=excluded,
        held_selection=held_sel,
        count=0,
        held=0,
        hold_ids=hold_ids,
        recheck=recheck,
        marker=marker,
    )


def ask_entry_counts(
    counts: CountBatch,
    stores: Stores,
    entries: list[RetentionEntry],
    batch_size: int,
    keys_read: list[tuple[Any, list[Any]]] | None = None,
) -> Callable[[], list[RetentionEntry]]:
    """Ask ``counts`` for the counts of ``entries``; returns what makes the counted entries
    once ``counts`` has run (so other counts of the same tables share its statements)."""
    # Per unit: what its selection selects, held or not, and what the holds keep of it (a group
    # of its own: the held records are found by their own columns, not by testing every record
    # of the window). The held selection is never unknown (``definitely``), so what the entry
    # covers is the difference.
    tickets: list[list[tuple[int, int]]] = [[] for _ in entries]
    for index, entry in enumerate(entries):
        rt = stores.record_type(entry.record_type)
        held_sel = entry.held_selection
        for _unit, selection in units(
            stores, entry, batch_size, with_held=False, keys_read=keys_read
        ):
            tickets[index].append((0, counts.add(rt, selection)))
            if held_sel is not None:
                tickets[index].append((1, counts.add(rt, And((selection, held_sel)), group="held")))

    def counted() -> list[RetentionEntry]:
        out = []
        for entry, asked in zip(entries, tickets, strict=True):
            totals = [0, 0]
            for kind, ticket in asked:
                totals[kind] += counts[ticket]
            selected, held = totals
            out.append(attrs.evolve(entry, count=selected - held, held=held))
        return out

    return counted


def _base(entry: RetentionEntry) -> Selection:
    """The entry's selection without the held-records exclusion."""
    if entry.held_selection is None:
        return entry.selection
    assert isinstance(entry.selection, And)  # built by _not_held
    return entry.selection.items[0]


def units(
    stores: Stores,
    entry: RetentionEntry,
    batch_size: int | None,
    *,
    with_held: bool = True,
    keys_read: list[tuple[Any, list[Any]]] | None = None,
) -> Iterator[tuple[int, Selection]]:
    """The concrete selections of an entry: one, or one per batch of accounts.

    A batch of accounts bounds each unit (``link IN (keys)``, read just before), so a sweep is
    resumable batch by batch. When the entry re-checks (``entry.recheck``), each unit also
    selects ``link IN (SELECT key FROM accounts WHERE account_selection AND key IN (keys))``,
    evaluated by the store when the statement runs: an account reopened after its key was read
    keeps its records. ``batch_size``: accounts per batch (``None``:
    :data:`~privacy_kit.adapters.WRITE_BATCH`). ``keys_read``: account keys that fit in one
    batch are read once for all the entries planned with the same list (planning only).
    """
    size = batch_size or WRITE_BATCH
    selection = entry.selection if with_held else _base(entry)
    if entry.account_selection is None:
        yield 0, selection
        return
    assert entry.source is not None  # only a rule's entry reads an account
    accounts = stores.record_type(entry.source.account or "")
    link = entry.source.link_field or ""
    batches = _account_batches(stores, accounts, entry.account_selection, size, keys_read)
    for batch in batches:
        keys = tuple(
            r[accounts.primary_key]
            for r in batch
            if r[accounts.primary_key] is not None
            and r[accounts.primary_key] not in entry.excluded_accounts
        )
        if not keys:
            continue
        bound: Selection = In(link, keys)
        if entry.recheck:
            still_due = And((entry.account_selection, In(accounts.primary_key, keys)))
            bound = And((bound, Related(link, accounts, accounts.primary_key, still_due)))
        yield batch_unit(keys), And((bound, selection))


def batch_unit(keys: Sequence[Any]) -> int:
    """The journal's name of a unit of account keys: a digest of the keys themselves, not the
    batch's position, so that a resumed sweep whose batches shifted (an account reopened or
    newly closed between the runs) runs again every batch that is not exactly one already
    finished, and skips none. Running a batch again changes only what is left (every step's
    selection excludes what it already did), and the finished units no longer read are counted
    from the journal.

    Example:
        >>> batch_unit((1, 2, 3)) == batch_unit([1, 2, 3]) != batch_unit((1, 3))
        True
    """
    data = orjson.dumps(list(keys), default=repr)
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big") >> 1


def _account_batches(
    stores: Stores,
    accounts: RecordType,
    account_selection: Selection,
    size: int,
    keys_read: list[tuple[Any, list[Any]]] | None,
) -> Iterable[list[Any]]:
    """The batches of account keys ``account_selection`` selects (read now, or once per plan
    when ``keys_read`` is given and they fit in one batch: small stores are not read again)."""
    read = stores.adapter_for(accounts).iter_records(
        accounts, account_selection, fields=[accounts.primary_key], batch_size=size
    )
    if keys_read is None:
        return read
    key = (accounts.name, account_selection, size)
    for known, batches in keys_read:
        if known == key:
            return batches
    taken: list[Any] = []
    for batch in read:
        taken.append(batch)
        if sum(map(len, taken)) >= size:
            return itertools.chain(taken, read)  # too many to keep: the rest is read as it comes
    keys_read.append((key, taken))
    return taken
