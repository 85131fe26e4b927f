"""Orphans: records a sweep can never time, because the account they read their time from is gone.

A booking under an ``account_closed`` rule reads its trigger time from ``users.closed_at`` of its
host (``trigger_source`` with an account). When the host's users row no longer exists (deleted by
hand, by an erasure, by a shorter rule), or the booking links to no account at all, no sweep can
ever select it: it would be kept forever, silently. :func:`find_orphans` counts them per record
type, so a retention plan reports them prominently instead.

Records a pending commitment already covers (:mod:`privacy_kit.retention._commitments`) are not
orphans: the commitment gives them their end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .._scope import Stores
from ..adapters import And, In, IsNull, Not, Related, Selection
from ..model._check_retention import retention_choices
from ..model._datamap import RecordType
from ..model._policy import Policy
from ._counting import CountBatch, can_recheck
from ._holds import definitely
from ._rules import _groups
from ._settings import RetentionSettings
from ._state_selection import choice_selection, choice_source

__all__ = ["Orphans", "find_orphans"]


@attrs.frozen
class Orphans:
    """Records of one record type that read their trigger time from an account and cannot be timed.

    Attributes:
        record_type: the record type.
        rule: the rule that cannot be enforced on them.
        account: the accounts record type (``users``).
        time_field: where the time would be read (``users.closed_at (via host_id)``).
        missing: records whose account row no longer exists.
        unlinked: records linked to no account (the link field is NULL).
        when: with rules by state, the state whose rule reads the account's time (``None``:
            the record type has one rule).
    """

    record_type: str
    rule: str
    account: str
    time_field: str
    missing: int
    unlinked: int = 0
    when: str | None = None

    @property
    def total(self) -> int:
        """Records that can never be timed."""
        return self.missing + self.unlinked

    def describe(self) -> str:
        """One line: how many, why, and what it means."""
        parts = []
        if self.missing:
            parts.append(f"{self.missing} whose {self.account} record no longer exists")
        if self.unlinked:
            parts.append(f"{self.unlinked} linked to no {self.account} record")
        where = self.record_type if self.when is None else f"{self.record_type} ({self.when})"
        return (
            f"{where}: {self.total} record(s) cannot be timed ({'; '.join(parts)}): "
            f"rule {self.rule!r} reads {self.time_field}, so no sweep will ever remove them"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for the audit log)."""
        return {
            "record_type": self.record_type,
            "rule": self.rule,
            "account": self.account,
            "missing": self.missing,
            "unlinked": self.unlinked,
            "when": self.when,
        }


@attrs.frozen
class _Dependant:
    rt: RecordType
    rule: str
    when: str | None
    time_field: str
    base: Selection
    linked: int
    unlinked: int


def _eligible(
    policy: Policy, stores: Stores, rt: RecordType, settings: RetentionSettings | None
) -> list[tuple[str, str | None, str, str, Selection, Selection | None]]:
    """(rule, state in words, accounts, time field, records timed through the account, state)
    per rule of ``rt``.

    A record type with rules by state gives one entry per state whose rule reads the account's
    time, limited to the records in that state; a state timed by a field of its own gives none.
    """
    if rt.account is None or rt.account.record_type == rt.name:
        return []
    out: list[tuple[str, str | None, str, str, Selection, Selection | None]] = []
    for choice in retention_choices(policy, rt):
        rule = choice.rule
        groups = _groups(rule, rt, settings)
        default = choice_source(stores.datamap, rt, choice, groups[0].trigger)
        if default is None or default.account is None:
            continue
        link = rt.account.field
        # Accounts in an override group whose trigger is the record's own are timed without it.
        timed: list[Any] = []
        for group in groups[1:]:
            source = choice_source(stores.datamap, rt, choice, group.trigger)
            if source is not None and source.account is None and group.accounts:
                timed.extend(group.accounts)
        parts: list[Selection] = [Not(IsNull(link))]
        if timed:
            parts.append(Not(In(link, tuple(timed))))
        state = choice_selection(choice)
        if state is not None:
            parts.append(state)
        base = parts[0] if len(parts) == 1 else And(tuple(parts))
        when = None if choice.index is None else choice.describe()
        out.append((rule.key, when, default.account, default.describe(), base, state))
    return out


def find_orphans(
    policy: Policy,
    stores: Stores,
    *,
    settings: RetentionSettings | None = None,
    covered: Mapping[str, Selection] | None = None,
    batch_size: int = 1000,
) -> tuple[Orphans, ...]:
    """Count, per record type, the records whose account-read trigger time can never be known.

    Where the records and their accounts share an adapter that runs sub-selects
    (``Capability.RELATED``), one statement per record type counts both the records linked to
    no account and those whose account is gone (``link NOT IN (SELECT key FROM accounts)``).
    Elsewhere the accounts' keys are read in batches of ``batch_size`` and the records linked to
    each batch counted; what is linked but not found is orphaned. Nothing is changed.

    Args:
        policy: the policy (which rule, which trigger).
        stores: the adapters.
        settings: customers' overrides (accounts whose override reads the record's own time
            are timed without the account).
        covered: per record type, the records a pending commitment will act on (not orphans).
        batch_size: account keys per ``IN`` list (where the accounts are read).

    Example:
        >>> import privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> tables = {rt.table_name: [] for rt in dm.record_types}
        >>> tables["users"] = [{"id": 1}]
        >>> tables["sessions"] = [{"id": 5, "user_id": 1}, {"id": 6, "user_id": 2}]
        >>> from privacy_kit._scope import Stores
        >>> stores = Stores.of(dm, InMemoryAdapter(tables))
        >>> [o.describe() for o in find_orphans(pk.load_policy(pk.example_path()), stores)]
        ["sessions: 1 record(s) cannot be timed (1 whose users record no longer exists): rule 'account_data' reads users.closed_at (via user_id), so no sweep will ever remove them"]
    """
    counts = CountBatch(stores)
    found = ask_orphans(
        counts, policy, stores, settings=settings, covered=covered, batch_size=batch_size
    )
    counts.run()
    return found()


def ask_orphans(
    counts: CountBatch,
    policy: Policy,
    stores: Stores,
    *,
    settings: RetentionSettings | None = None,
    covered: Mapping[str, Selection] | None = None,
    batch_size: int = 1000,
) -> Callable[[], tuple[Orphans, ...]]:
    """Ask ``counts`` for what :func:`find_orphans` counts; returns what finishes it once
    ``counts`` has run (so a plan reads these counts with its entries', table by table)."""
    covered = covered or {}
    # One dependant per (record type, state whose rule reads the account's time).
    asked: list[tuple[str, _Dependant, int, int, bool]] = []
    for rt in stores.datamap.record_types:
        for rule, when, accounts, time_field, timed, state in _eligible(
            policy, stores, rt, settings
        ):
            assert rt.account is not None  # _eligible checked
            base = timed
            nulls: Selection = IsNull(rt.account.field)
            if state is not None:
                nulls = And((nulls, state))
            if rt.name in covered:
                exclude = Not(definitely(covered[rt.name]))
                base, nulls = And((base, exclude)), And((nulls, exclude))
            account_rt = stores.record_type(accounts)
            # The store itself finds the records whose account is gone, where it can.
            direct = can_recheck(stores, rt, account_rt)
            counted = base
            if direct:
                pk = account_rt.primary_key
                gone = Related(rt.account.field, account_rt, pk, Not(IsNull(pk)))
                counted = And((base, Not(gone)))
            d = _Dependant(rt, rule, when, time_field, base, 0, 0)
            asked.append((accounts, d, counts.add(rt, nulls), counts.add(rt, counted), direct))

    def finish() -> tuple[Orphans, ...]:
        by_account: dict[str, list[tuple[_Dependant, bool]]] = {}
        for accounts, asked_for, nulls_ticket, counted_ticket, direct in asked:
            d = attrs.evolve(
                asked_for, linked=counts[counted_ticket], unlinked=counts[nulls_ticket]
            )
            by_account.setdefault(accounts, []).append((d, direct))
        return tuple(
            o
            for accounts_name, dependants in by_account.items()
            for o in _orphans_of(stores, accounts_name, dependants, batch_size)
        )

    return finish


def _orphans_of(
    stores: Stores, accounts_name: str, dependants: list[tuple[_Dependant, bool]], batch_size: int
) -> list[Orphans]:
    """The orphans of the records timed by ``accounts_name``: counted already (``direct``), or
    what is linked minus what each batch of account keys finds."""
    remaining = [d.linked for d, _direct in dependants]
    if any(remaining[i] for i, (_d, direct) in enumerate(dependants) if not direct):
        account_rt = stores.record_type(accounts_name)
        pk = account_rt.primary_key
        for batch in stores.adapter_for(account_rt).iter_records(
            account_rt, Not(IsNull(pk)), fields=[pk], batch_size=batch_size
        ):
            keys = tuple(r[pk] for r in batch)
            for i, (d, direct) in enumerate(dependants):
                assert d.rt.account is not None  # _eligible checked
                if not direct and remaining[i] > 0 and keys:
                    remaining[i] -= stores.adapter_for(d.rt).count(
                        d.rt, And((d.base, In(d.rt.account.field, keys)))
                    )
    return [
        Orphans(
            d.rt.name,
            d.rule,
            accounts_name,
            d.time_field,
            remaining[i],
            d.unlinked,
            when=d.when,
        )
        for i, (d, _direct) in enumerate(dependants)
        if remaining[i] or d.unlinked
    ]
