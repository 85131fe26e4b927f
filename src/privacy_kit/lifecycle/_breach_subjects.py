"""Who must be told of an incident: :func:`subjects_to_notify` finds the people concerned through
the data map (the record types holding the affected categories) and the adapters (reading only
the subject-link fields, in batches, over the records that could have been exposed), working on a
:class:`privacy_kit._scope.Catalog` rather than the engine, and yields each person once as an
:class:`AffectedSubject`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import attrs

from .._errors import AdapterError, ConfigurationError, PrivacyKitError
from .._scope import Catalog, Subject
from .._types import require_aware
from ..adapters import Selection, where
from ..model._datamap import RecordType, SubjectLink
from ..model._taxonomy import is_within
from ._incident import Incident, _check_categories

__all__ = ["AffectedSubject", "subjects_to_notify"]


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
