"""The diff rules for the promises around the data: browser signals, categories not collected,
products, identity checks, conditions on disclosures, solely automated decisions and backups.

Each function compares one part of two policy versions and yields a
:class:`~privacy_kit.PolicyChange` per difference, in policy order, for :func:`~privacy_kit.diff`
to chain with the other rules. A change that weakens a promise has its own kind (``*_weakened``,
``not_collected_removed``, ``backup_lengthened``), material by default; any other change to the
same promise is reported too, under a kind that is not.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model._policy import Policy
from ..model._policy_collection import Recipient
from ..model._policy_rights import ChangeKind, IdentityVerification
from ._change import PolicyChange, _all_kinds, _kinds_for, _listed

__all__: list[str] = []


# -- signals ----------------------------------------------------------------------------------
def _signal_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    before = {s.signal: (i, s) for i, s in enumerate(old.signals)}
    after = {s.signal: (i, s) for i, s in enumerate(new.signals)}
    everyone = _all_kinds(new)
    for kind in dict.fromkeys([*before, *after]):
        name = kind.value.upper()
        o, n = before.get(kind), after.get(kind)
        if n is None:
            assert o is not None
            i, was = o
            weaker = was.honoured
            yield PolicyChange(
                ChangeKind.SIGNAL_WEAKENED if weaker else ChangeKind.SIGNAL_CHANGED,
                kind.value,
                f"signals[{i}]",
                f"the policy no longer says how it answers {name} (it was "
                f"{'honoured' if was.honoured else 'not honoured'})",
                _all_kinds(old),
                was.description,
                side="old",
            )
            continue
        i, now = n
        if o is None:
            yield PolicyChange(
                ChangeKind.SIGNAL_CHANGED,
                kind.value,
                f"signals[{i}]",
                f"{name} is now {'honoured' if now.honoured else 'declared not honoured'}",
                everyone,
                now.description,
            )
            continue
        _, was = o
        if was.honoured and not now.honoured:
            detail, change = f"{name} is no longer honoured", ChangeKind.SIGNAL_WEAKENED
        elif now.honoured and not was.honoured:
            detail, change = f"{name} is now honoured", ChangeKind.SIGNAL_CHANGED
        elif was.scope != now.scope:
            detail, change = f"where {name} is honoured changed", ChangeKind.SIGNAL_CHANGED
        else:
            continue
        yield PolicyChange(change, kind.value, f"signals[{i}]", detail, everyone, now.description)


# -- not collected ----------------------------------------------------------------------------
def _not_collected(policy: Policy) -> dict[str, int]:
    return {c: i for i, entry in enumerate(policy.not_collected) for c in entry.categories}


def _not_collected_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    before, after = _not_collected(old), _not_collected(new)
    added = [c for c in after if c not in before]
    if added:
        i = after[added[0]]
        yield PolicyChange(
            ChangeKind.NOT_COLLECTED_ADDED,
            ",".join(added),
            f"not_collected[{i}]",
            f"the policy now promises not to collect {_listed(added)}",
            _all_kinds(new),
            new.not_collected[i].description,
        )
    removed = [c for c in before if c not in after]
    if removed:
        i = before[removed[0]]
        yield PolicyChange(
            ChangeKind.NOT_COLLECTED_REMOVED,
            ",".join(removed),
            f"not_collected[{i}]",
            f"the policy no longer promises not to collect {_listed(removed)}",
            _all_kinds(old),
            old.not_collected[i].description,
            side="old",
        )


# -- products ---------------------------------------------------------------------------------
def _product_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    before = {p.key: i for i, p in enumerate(old.products)}
    after = {p.key: i for i, p in enumerate(new.products)}
    for key, i in after.items():
        if key not in before:
            p = new.products[i]
            yield PolicyChange(
                ChangeKind.PRODUCT_ADDED,
                key,
                f"products[{i}]",
                f"the policy now also covers {p.name.get_text('en')!r}",
                _all_kinds(new),
                p.name,
            )
    for key, i in before.items():
        if key not in after:
            p = old.products[i]
            yield PolicyChange(
                ChangeKind.PRODUCT_REMOVED,
                key,
                f"products[{i}]",
                f"the policy no longer covers {p.name.get_text('en')!r}",
                _all_kinds(old),
                p.name,
                side="old",
            )


# -- identity checks --------------------------------------------------------------------------
def _identity_details(
    o: IdentityVerification | None, n: IdentityVerification | None
) -> tuple[list[str], list[str]]:
    """(weaker, other) differences between two identity rules."""
    weaker: list[str] = []
    other: list[str] = []
    if n is None or o is None:
        if o is not None and o.required:
            weaker.append("the policy no longer says how identity is checked")
        elif n is not None:
            other.append("the policy now says how identity is checked")
        return weaker, other
    if o.required and not n.required:
        weaker.append("identity is no longer always checked")
    elif n.required and not o.required:
        other.append("identity is now always checked")
    was, now = o.min_pieces or 0, n.min_pieces or 0
    if now < was:
        weaker.append(f"{now or 'no'} piece(s) of information must match (was {was})")
    elif now > was:
        other.append(f"{now} piece(s) of information must match (was {was or 'none'})")
    dropped = [p for p in o.required_pieces if p not in n.required_pieces]
    if dropped:
        weaker.append(f"no longer required: {_listed(dropped)}")
    gained = [p for p in n.required_pieces if p not in o.required_pieces]
    if gained:
        other.append(f"now required: {_listed(gained)}")
    more = [m for m in n.methods if m not in o.methods]
    if more:  # methods are alternatives: one more is one more way in
        weaker.append(f"identity may now also be shown by {_listed(more)}")
    fewer = [m for m in o.methods if m not in n.methods]
    if fewer:
        other.append(f"identity may no longer be shown by {_listed(fewer)}")
    oa, na = o.agents, n.agents
    if na is not None and na.allowed:
        if oa is None or not oa.allowed:
            (weaker if not na.proof else other).append(
                "authorised agents may now ask"
                + (
                    f", with {_listed(p.value for p in na.proof)}"
                    if na.proof
                    else ", with no proof"
                )
            )
        else:
            lost = [p.value for p in oa.proof if p not in na.proof]
            if lost:
                weaker.append(f"agents no longer need {_listed(lost)}")
            won = [p.value for p in na.proof if p not in oa.proof]
            if won:
                other.append(f"agents now also need {_listed(won)}")
    elif oa is not None and oa.allowed:
        other.append("authorised agents may no longer ask")
    return weaker, other


def _identity_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    o, n = old.requests.identity, new.requests.identity
    weaker, other = _identity_details(o, n)
    if not weaker and not other:
        return
    shown = n if n is not None else o
    yield PolicyChange(
        ChangeKind.IDENTITY_WEAKENED if weaker else ChangeKind.IDENTITY_CHANGED,
        "identity",
        "requests.identity",
        f"identity checks changed: {'; '.join([*weaker, *other])}",
        _all_kinds(new),
        None if shown is None else shown.description,
        side="new" if n is not None else "old",
    )


# -- conditions on disclosures ----------------------------------------------------------------
_NOTIFY_RANK = {None: 0, "never": 0, "unless_prohibited": 1, "always": 2}


def _condition_details(o: Recipient, n: Recipient) -> tuple[list[str], list[str]]:
    weaker: list[str] = []
    other: list[str] = []
    was, now = set(o.legal_process), set(n.legal_process)
    if was and not now:
        weaker.append(f"no legal process is required any more (was {_listed(sorted(was))})")
    elif was and now - was:
        weaker.append(f"now also disclosed on {_listed(sorted(now - was))}")
    elif now and not was:
        other.append(f"now only on {_listed(sorted(now))}")
    elif was - now:
        other.append(f"no longer disclosed on {_listed(sorted(was - now))}")
    if o.notify_subject != n.notify_subject:
        text = f"the person is told: {n.notify_subject or 'no statement'} (was {o.notify_subject})"
        worse = _NOTIFY_RANK[n.notify_subject] < _NOTIFY_RANK[o.notify_subject] or (
            n.notify_subject is None
        )
        (weaker if worse else other).append(text)
    if o.notify_before_transfer and not n.notify_before_transfer:
        weaker.append("people are no longer told before their data is transferred")
    elif n.notify_before_transfer and not o.notify_before_transfer:
        other.append("people are now told before their data is transferred")
    return weaker, other


def _disclosure_condition_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    before = {r.key: r for r in old.recipients}
    for i, r in enumerate(new.recipients):
        o = before.get(r.key)
        if o is None:
            continue  # a new recipient is reported as recipient_added
        weaker, other = _condition_details(o, r)
        if weaker or other:
            yield PolicyChange(
                ChangeKind.DISCLOSURE_CONDITION_WEAKENED
                if weaker
                else ChangeKind.DISCLOSURE_CONDITION_CHANGED,
                r.key,
                f"recipients[{i}]",
                f"disclosures to {r.name.get_text('en')!r}: {'; '.join([*weaker, *other])}",
                _kinds_for(new, r.categories),
                r.conditions,
            )


# -- solely automated decisions ---------------------------------------------------------------
def _automated_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    o, n = old.automated_decisions, new.automated_decisions
    was = None if o is None else o.used
    now = None if n is None else n.used
    if was == now and (o is None or n is None or o.logic == n.logic):
        return
    if now and not was:
        kind, detail = (
            ChangeKind.AUTOMATED_DECISIONS_WEAKENED,
            "solely automated decisions are now made",
        )
    elif was is False and now is None:
        kind = ChangeKind.AUTOMATED_DECISIONS_WEAKENED
        detail = "the policy no longer promises that no solely automated decisions are made"
    elif was and not now:
        kind = ChangeKind.AUTOMATED_DECISIONS_CHANGED
        detail = (
            "solely automated decisions are no longer made"
            if now is False
            else "the policy no longer says whether solely automated decisions are made"
        )
    elif was is None:
        kind, detail = (
            ChangeKind.AUTOMATED_DECISIONS_CHANGED,
            "no solely automated decisions are made",
        )
    else:
        kind, detail = ChangeKind.AUTOMATED_DECISIONS_CHANGED, "the logic involved changed"
    shown = n if n is not None else o
    yield PolicyChange(
        kind,
        "automated_decisions",
        "automated_decisions",
        detail,
        _all_kinds(new),
        None if shown is None else shown.description,
        side="new" if n is not None else "old",
    )


# -- backups ----------------------------------------------------------------------------------
def _backup_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    before = {loc.key: loc for loc in old.storage.locations if loc.kind == "backup"}
    after = {loc.key: loc for loc in new.storage.locations if loc.kind == "backup"}
    for i, loc in enumerate(new.storage.locations):
        if loc.kind != "backup":
            continue
        kinds = _kinds_for(new, loc.categories) if loc.categories else _all_kinds(new)
        was = before.get(loc.key)
        expiry = loc.expiry.describe() if loc.expiry is not None else "no stated time"
        if was is None:
            kind, detail = (
                ChangeKind.BACKUP_LENGTHENED,
                f"copies are now kept in backups {loc.key!r} for {expiry}",
            )
        elif was.expiry != loc.expiry:
            old_expiry = was.expiry.describe() if was.expiry is not None else "no stated time"
            longer = loc.expiry is None or (was.expiry is not None and loc.expiry > was.expiry)
            kind = ChangeKind.BACKUP_LENGTHENED if longer else ChangeKind.BACKUP_SHORTENED
            detail = f"backups {loc.key!r} roll off within {expiry} (was {old_expiry})"
        else:
            continue
        yield PolicyChange(kind, loc.key, f"storage.locations[{i}]", detail, kinds, loc.description)
    for i, loc in enumerate(old.storage.locations):
        if loc.kind == "backup" and loc.key not in after:
            yield PolicyChange(
                ChangeKind.BACKUP_SHORTENED,
                loc.key,
                f"storage.locations[{i}]",
                f"copies are no longer kept in backups {loc.key!r}",
                _all_kinds(old),
                loc.description,
                side="old",
            )


def _promise_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    """Every rule of this module, in policy order."""
    yield from _product_changes(old, new)
    yield from _not_collected_changes(old, new)
    yield from _disclosure_condition_changes(old, new)
    yield from _backup_changes(old, new)
    yield from _identity_changes(old, new)
    yield from _signal_changes(old, new)
    yield from _automated_changes(old, new)
