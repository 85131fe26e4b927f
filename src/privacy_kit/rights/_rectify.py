"""Rectification (GDPR Art. 16): a subject corrects their own fields, and only those.

:func:`rectify` works from the subject's scope: for each role the subject plays in the record
type, the fields that role may change; another party's fields, non-personal fields, the key and
the identifying field are refused before anything is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from .._errors import ConfigurationError
from .._scope import Scope
from .._types import require_aware
from ..adapters import Eq, Or, Selection
from ..audit._log import AuditLog
from ..model._datamap import FieldSpec, RecordType, SubjectLink

__all__ = ["rectify"]

_TYPE_CHECKS: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "integer": (int,),
    "real": (int, float),
    "boolean": (bool,),
    "date": (dt.date,),
    "timestamp": (dt.datetime,),
}


def _check_value(rt: RecordType, field: FieldSpec, value: Any) -> None:
    if value is None or field.type == "json":
        return
    expected = _TYPE_CHECKS[field.type]
    wrong = not isinstance(value, expected) or (
        field.type in ("integer", "real") and isinstance(value, bool)
    )
    if field.type == "date" and isinstance(value, dt.datetime):
        wrong = True
    if wrong:
        raise ConfigurationError(
            f"{rt.name}.{field.name} has type {field.type!r}; got {type(value).__name__} {value!r}"
        )
    if field.type == "timestamp":
        require_aware(value, f"{rt.name}.{field.name}")


def _refusal(rt: RecordType, link: SubjectLink, name: str) -> str | None:
    """Why the subject (in ``link``'s role) may not rectify field ``name`` (``None``: they may)."""
    field = rt.field(name)
    role = link.role_name
    if name == rt.primary_key:
        return "it is the record's key"
    if name == link.field:
        return f"it identifies the {role} (change the identity through the account instead)"
    if field.party is not None and field.party != role:
        return f"it belongs to the {field.party}, not to the {role}"
    if not field.personal:
        return "it is not personal data about the subject"
    if field.party is None and rt.is_multi_party and not link.owner:
        return (
            f"it is shared by every party of the record, and the {role} does not own it "
            "(ask its owner to correct it)"
        )
    return None


def rectify(
    scope: Scope,
    record_type: RecordType,
    changes: Mapping[str, Any],
    *,
    now: dt.datetime,
    key: Any = None,
    where: Selection | None = None,
    audit: AuditLog | None = None,
) -> int:
    """Correct the subject's own fields in their records of ``record_type`` (GDPR Art. 16).

    Only the subject's own personal fields may change: a field of another party, a field shared
    by every party of a record the subject does not own (a booking's start time, for its
    invitee), one that is not personal, the primary key or the field that identifies the
    subject is refused (before anything is written). Where the subject has several roles in the
    record type, each role's records get the changes that role may make.

    A correction is targeted: ``key`` names one record, ``where`` a selection of the subject's
    records; without either, the subject must hold exactly one record of the type (a correction
    is never spread silently over many records). The audit entry names the fields, never the
    values.

    Args:
        scope: the subject, resolved (``Engine.scope``): where their records are.
        record_type: the record type.
        changes: ``{field: new value}``.
        now: the time of the request (for the audit entry).
        key: the primary key of the one record to correct.
        where: a selection narrowing the subject's records to correct.
        audit: where ``rectification.completed`` is recorded (``None``: nowhere).

    Returns:
        How many records were updated.

    Raises:
        ConfigurationError: no changes, an unknown field (with a hint), a refused field, a value
            of the wrong type, a record type that does not hold the subject, no target where the
            subject holds several records, or a target that matches none of theirs.
        AdapterError: the store failed.

    Example:
        >>> import datetime as dt, privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
        >>> _ = mem.insert("users", [{"id": 7, "name": "Bo", "email": "bo@example.com"}])
        >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, verify=False)
        >>> now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        >>> engine.rectify(pk.Subject.of("customer", user_id=7), "users", {"name": "Bo Li"}, now=now)
        1
        >>> engine.rectify(pk.Subject.of("customer", user_id=7), "users", {"nmae": "X"}, now=now)
        Traceback (most recent call last):
        ...
        privacy_kit._errors.ConfigurationError: record type 'users' has no field 'nmae'; did you mean 'name'?
    """
    require_aware(now)
    rt = record_type
    if not changes:
        raise ConfigurationError("rectify needs at least one field to change")
    for name in changes:
        if not rt.has_field(name):
            try:
                rt.field(name)
            except KeyError as exc:
                raise ConfigurationError(str(exc.args[0])) from None
    subject = scope.subject
    entries = scope.for_record_type(rt)
    links = [(e.link, e.selection) for e in entries]
    if not links:
        raise ConfigurationError(
            f"record type {rt.name!r} holds no records of a {subject.kind} known by "
            f"{', '.join(k for k, _ in subject.identities)}"
        )
    allowed: list[tuple[Selection, dict[str, Any]]] = []
    refused: dict[str, str] = {}
    for link, sel in links:
        mine = {}
        for name, value in changes.items():
            why = _refusal(rt, link, name)
            if why is None:
                mine[name] = value
            else:
                refused.setdefault(name, why)
        if mine:
            allowed.append((sel, mine))
    permitted = {name for _, mine in allowed for name in mine}
    not_anywhere = {n: why for n, why in refused.items() if n not in permitted}
    if not_anywhere:
        detail = "; ".join(f"{n!r}: {why}" for n, why in not_anywhere.items())
        raise ConfigurationError(f"cannot rectify {rt.name} field(s): {detail}")
    for name, value in changes.items():
        _check_value(rt, rt.field(name), value)
    adapter = entries[0].adapter
    if key is not None and where is not None:
        raise ConfigurationError("rectify takes key= or where=, not both")
    target = Eq(rt.primary_key, key) if key is not None else where
    if target is not None:
        allowed = [(sel & target, mine) for sel, mine in allowed]
    matched = adapter.count(
        rt, Or(tuple(sel for sel, _ in allowed)) if len(allowed) > 1 else allowed[0][0]
    )
    if matched == 0:
        what = f"{rt.primary_key} = {key!r}" if key is not None else "the selection"
        raise ConfigurationError(
            f"no {rt.name} record of this {subject.kind} matches {what}; nothing was changed"
            if target is not None
            else f"this {subject.kind} holds no {rt.name} record; nothing was changed"
        )
    if target is None and matched > 1:
        raise ConfigurationError(
            f"this {subject.kind} holds {matched} {rt.name} records; pass key= (one record) or "
            "where= (a selection) to say which to correct"
        )
    updated = sum(adapter.update(rt, sel, mine, batch_size=1000) for sel, mine in allowed)
    if audit is not None:
        audit.record(
            "rectification.completed",
            now=now,
            subject=scope.reference,
            details={"record_type": rt.name, "fields": sorted(changes), "count": updated},
        )
    return updated
