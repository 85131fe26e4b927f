"""The data-subject request lifecycle: types, states, deadlines, extensions and pauses.

A :class:`DataSubjectRequest` is a frozen pydantic model (so it imports and exports as JSON);
every change returns a new request with the change appended to its history, and can be
recorded in an :class:`~privacy_kit.AuditLog`. The states and the moves between them::

    received ──> verified ──> in_progress ──> completed
       │            │  └──────────────────────> completed
       ├────────────┴─────────────┴──────────> refused (with a RefusalReason)
       └────────────┴─────────────┴──────────> cancelled

Any other move raises :class:`~privacy_kit.InvalidTransitionError` naming both states.

The due date comes from the jurisdiction's cited rule (``privacy_kit.model._jurisdictions``):
GDPR and UK GDPR one month from receipt (calendar months: received 31 January, due 28 or 29
February), extendable once by two months if the subject is told within the first month; CCPA 45
days, extendable once by 45; LGPD 15 days; PIPEDA 30 days, extendable by 30. A deadline runs to
the *end* of its last day, in the time zone ``received_at`` is expressed in (pass an aware
datetime in the zone that governs the request, e.g. ``Europe/London``; DST is handled by
:mod:`zoneinfo`, and the zone's name is kept in ``timezone`` so that it survives JSON). An extension is added to the original due date.

While identity is awaited (:meth:`DataSubjectRequest.await_identity`) the clock stops where the
regime says so (:data:`STOP_THE_CLOCK`), and the due date moves by the whole days paused.

:meth:`DataSubjectRequest.for_policy` records a request from anywhere: under the law that governs
the requester's country when the policy lists it, otherwise under ``global``, due within the
policy's own ``requests.respond_within`` or, without it, with no deadline (said, never invented).
It also carries the policy's identity rules, which :meth:`~DataSubjectRequest.verify` then holds
the verification to (pieces of information, required pieces, authorised agents and their proof).

The types, states and history entries are in :mod:`._request_states`, the fields and the
deadline computation in :mod:`._request_data`, pauses and extensions in :mod:`._request_clock`,
the deadline arithmetic in :mod:`._deadlines`.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from pydantic import ValidationError

from .._errors import InvalidTransitionError, RequestError
from .._types import Duration, require_aware
from ..audit._log import AuditLog
from ..model._policy import Policy
from ..model._policy_rights import AgentProof, IdentityVerification, RefusalReason
from ._request_clock import RequestClock, _hash
from ._request_data import jurisdiction_for
from ._request_states import (
    TRANSITIONS,
    IdentityCheck,
    Outcome,
    RequestStatus,
    RequestType,
    Transition,
)
from ._verification import identity_check

__all__ = ["DataSubjectRequest"]


class Answer(Protocol):
    """What answered a request: an export result, an erasure plan or report, an :class:`Outcome`."""

    @property
    def nothing_held(self) -> bool:
        """Whether nothing of the subject was found."""
        ...

    @property
    def searched(self) -> tuple[str, ...]:
        """Every record type and role that was searched."""
        ...


def _outcome(result: Answer) -> Outcome:
    if isinstance(result, Outcome):
        return result
    records = getattr(result, "total", None)
    if not isinstance(records, int):
        counts = [getattr(result, name, None) for name in ("deleted", "anonymised")]
        records = sum(sum(c.values()) for c in counts if isinstance(c, dict))
    return Outcome(
        nothing_held=bool(result.nothing_held), records=records, searched=tuple(result.searched)
    )


class DataSubjectRequest(RequestClock):
    """A data-subject request: what, whose, under which law, and where it stands.

    Build one with :meth:`receive`; every change returns a new request.

    Example:
        >>> import datetime as dt
        >>> received = dt.datetime(2024, 1, 31, 9, tzinfo=dt.UTC)
        >>> r = DataSubjectRequest.receive("access", "customer", {"email": "a@example.com"},
        ...                                jurisdiction="gdpr", received_at=received)
        >>> r.due_at.date(), r.citation
        (datetime.date(2024, 2, 29), 'GDPR Art. 12(3)')
        >>> r = r.verify(now=received).start(now=received)
        >>> r = r.extend("many records across systems", now=received + dt.timedelta(days=3))
        >>> r.due_at.date()
        datetime.date(2024, 4, 29)
        >>> r.status
        <RequestStatus.IN_PROGRESS: 'in_progress'>
    """

    # -- construction and I/O ---------------------------------------------------------------
    @classmethod
    def receive(
        cls,
        type: RequestType | str,  # noqa: A002 - the request's type, as the data names it
        subject_kind: str,
        identities: Mapping[str, str],
        *,
        jurisdiction: str,
        received_at: dt.datetime,
        audit: AuditLog | None = None,
        subject_ref: str | None = None,
        stop_the_clock: bool | None = None,
        id: uuid.UUID | None = None,  # noqa: A002 - the request's id, as the data names it
        country: str | None = None,
        respond_within: Duration | None = None,
        identity_rules: IdentityVerification | None = None,
        by_agent: bool = False,
        jurisdiction_note: str | None = None,
    ) -> DataSubjectRequest:
        """A newly received request (audited as ``request.received`` if ``audit`` is given).

        Args:
            type: what is asked for.
            subject_kind: the kind of subject asking.
            identities: how the subject is identified.
            jurisdiction: a law's key, or ``global`` (see :meth:`for_policy`, which chooses).
            received_at: when (aware; its zone is the zone the deadline is counted in).
            audit: where to record it.
            subject_ref: the subject's reference, for audit entries.
            stop_the_clock: override whether awaiting identity stops the clock.
            id: the request's id (default: a new one).
            country: where the requester lives (ISO 3166), when known.
            respond_within: the policy's own deadline, for a request under ``global``.
            identity_rules: the policy's identity rules :meth:`verify` holds the request to.
            by_agent: whether an authorised agent made the request.
            jurisdiction_note: why the request is under its jurisdiction.

        Raises:
            RequestError: an unknown type or jurisdiction, no identities, a naive time, a
                ``respond_within`` for a request under a law, or a time so close to the year
                9999 that the deadline cannot be computed.
        """
        require_aware(received_at, "received_at")
        zone = received_at.tzinfo
        data: dict[str, Any] = {
            "timezone": zone.key if isinstance(zone, zoneinfo.ZoneInfo) else None,
            "type": type,
            "subject_kind": subject_kind,
            "identities": dict(identities),
            "jurisdiction": jurisdiction,
            "received_at": received_at,
            "subject_ref": subject_ref,
            "stop_the_clock": stop_the_clock,
            "history": (
                Transition(at=received_at, from_status=None, to_status=RequestStatus.RECEIVED),
            ),
            "country": country.strip().upper() if isinstance(country, str) else country,
            "respond_within": respond_within,
            "identity_rules": identity_rules,
            "by_agent": by_agent,
            "jurisdiction_note": jurisdiction_note,
        }
        if id is not None:
            data["id"] = id
        request = cls._validated(data)
        try:
            deadline = request.deadline
        except RequestError as exc:  # date arithmetic past the calendar's end
            raise RequestError(
                f"invalid data-subject request: received at {received_at.isoformat()}: the "
                "request's deadline falls after the year 9999, which no date can hold"
            ) from exc.__cause__  # the date arithmetic's own error
        request._audit(
            audit,
            "request.received",
            received_at,
            {
                "due_at": None if deadline is None else deadline.isoformat(),
                "deadline_basis": request.deadline_basis,
                "country": request.country,
                "by_agent": request.by_agent,
            },
        )
        return request

    @classmethod
    def for_policy(
        cls,
        policy: Policy,
        type: RequestType | str,  # noqa: A002 - the request's type, as the data names it
        subject_kind: str,
        identities: Mapping[str, str],
        *,
        country: str,
        received_at: dt.datetime,
        by_agent: bool = False,
        audit: AuditLog | None = None,
        subject_ref: str | None = None,
        stop_the_clock: bool | None = None,
        id: uuid.UUID | None = None,  # noqa: A002 - the request's id, as the data names it
    ) -> DataSubjectRequest:
        """A request from a requester in ``country``, under the law the policy owes them.

        The law that governs a resident of ``country`` (:func:`~privacy_kit.governing_jurisdiction`)
        when the policy lists it; otherwise ``global``: due within the policy's own
        ``requests.respond_within``, or with no deadline when the policy sets none
        (:attr:`has_deadline` is then false and :attr:`deadline_basis` says why). The reason is
        kept in :attr:`jurisdiction_note`. The request also carries the policy's identity rules
        (``requests.identity``), which :meth:`verify` enforces.

        Raises:
            RequestError: an unknown type, no identities, a naive time.
            ConfigurationError: ``country`` is not an ISO 3166 code.

        Example:
            >>> import privacy_kit as pk
            >>> policy = pk.load_policy(pk.example_path())
            >>> t = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
            >>> r = DataSubjectRequest.for_policy(policy, "access", "customer",
            ...     {"email": "a@example.com"}, country="FR", received_at=t)
            >>> r.jurisdiction, r.citation
            ('gdpr', 'GDPR Art. 12(3)')
            >>> r = DataSubjectRequest.for_policy(policy, "access", "customer",
            ...     {"email": "a@example.com"}, country="JP", received_at=t)
            >>> r.jurisdiction, r.has_deadline
            ('global', False)
            >>> print(r.jurisdiction_note)
            no law the policy lists (gdpr, uk_gdpr, ccpa) governs a requester in JP; the policy does not list 'global' either, so it promises this requester nothing beyond its requests section
        """
        jurisdiction, respond_within, note, code = jurisdiction_for(policy, country)
        return cls.receive(
            type,
            subject_kind,
            identities,
            jurisdiction=jurisdiction,
            received_at=received_at,
            audit=audit,
            subject_ref=subject_ref,
            stop_the_clock=stop_the_clock,
            id=id,
            country=code,
            respond_within=respond_within,
            identity_rules=policy.requests.identity,
            by_agent=by_agent,
            jurisdiction_note=note,
        )

    @classmethod
    def _validated(cls, data: Any) -> DataSubjectRequest:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '<request>'}: {e['msg']}" for e in exc.errors()
            )
            raise RequestError(f"invalid data-subject request: {problems}") from None

    def to_json(self) -> bytes:
        """The request as JSON (round-trips through :meth:`from_json`)."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> DataSubjectRequest:
        """A request from :meth:`to_json` output.

        Raises:
            RequestError: naming each invalid field.
        """
        try:
            return cls._validated(cls.model_validate_json(data).model_dump())
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '<request>'}: {e['msg']}" for e in exc.errors()
            )
            raise RequestError(f"invalid data-subject request: {problems}") from None

    # -- changes ----------------------------------------------------------------------------
    def transition(
        self,
        to: RequestStatus | str,
        *,
        now: dt.datetime,
        note: str | None = None,
        refusal: RefusalReason | str | None = None,
        audit: AuditLog | None = None,
    ) -> DataSubjectRequest:
        """Move to state ``to``.

        Args:
            to: the new state.
            now: when.
            note: free text kept in the history (only its hash goes to the audit log).
            refusal: the reason, required when ``to`` is ``refused``.
            audit: where to record it (``request.transition``).

        A move to ``verified`` is held to the request's identity rules as :meth:`verify` (with
        no pieces checked) is: use :meth:`verify` to say what was checked.

        Raises:
            InvalidTransitionError: the move is not allowed from the current state.
            RequestError: a refusal without a reason, a reason without a refusal, a time
                before receipt, or a move to ``verified`` the identity rules refuse.

        Example:
            >>> r = DataSubjectRequest.receive("erasure", "end_user", {"email": "b@example.com"},
            ...     jurisdiction="ccpa", received_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
            >>> r.transition("completed", now=r.received_at)
            Traceback (most recent call last):
            ...
            privacy_kit._errors.InvalidTransitionError: cannot move request ... from 'received' to 'completed'; from 'received' it may go to: cancelled, refused, verified
        """
        return self._move(to, now=now, note=note, refusal=refusal, audit=audit, checked=None)

    def _move(
        self,
        to: RequestStatus | str,
        *,
        now: dt.datetime,
        note: str | None,
        refusal: RefusalReason | str | None,
        audit: AuditLog | None,
        checked: IdentityCheck | None,
    ) -> DataSubjectRequest:
        self._check_time(now)
        target = RequestStatus(to)
        if target not in TRANSITIONS[self.status]:
            allowed = (
                ", ".join(sorted(s.value for s in TRANSITIONS[self.status])) or "nowhere (final)"
            )
            raise InvalidTransitionError(
                f"cannot move request {self.id} from {self.status.value!r} to {target.value!r}; "
                f"from {self.status.value!r} it may go to: {allowed}"
            )
        reason = None if refusal is None else RefusalReason(refusal)
        if (target is RequestStatus.REFUSED) != (reason is not None):
            raise RequestError(
                "a refusal needs a reason (privacy_kit.RefusalReason)"
                if target is RequestStatus.REFUSED
                else f"a refusal reason was given for a move to {target.value!r}"
            )
        extra: dict[str, Any] = {}
        if target is RequestStatus.VERIFIED:
            if checked is None:
                checked = identity_check(self.identity_rules, by_agent=self.by_agent)
            extra = {
                "pieces_checked": list(checked.pieces),
                "proofs_checked": [p.value for p in checked.proofs],
                "by_agent": checked.by_agent,
                "rules_declared": checked.rules_declared,
            }
        pauses = self.pauses
        if self.paused:
            pauses = (*pauses[:-1], pauses[-1].model_copy(update={"ended_at": now}))
        updated = self.model_copy(
            update={
                "status": target,
                "refusal": reason,
                "pauses": pauses,
                "identity_check": checked or self.identity_check,
                "history": (
                    *self.history,
                    Transition(at=now, from_status=self.status, to_status=target, note=note),
                ),
            }
        )
        updated._audit(
            audit,
            "request.transition",
            now,
            {
                "from": self.status.value,
                "to": target.value,
                "refusal": None if reason is None else reason.value,
                "note_sha256": _hash(note),
                **extra,
            },
        )
        return updated

    def verify(
        self,
        *,
        now: dt.datetime,
        note: str | None = None,
        audit: AuditLog | None = None,
        pieces: Iterable[str] = (),
        proofs: Iterable[AgentProof | str] = (),
    ) -> DataSubjectRequest:
        """Identity confirmed: ``received`` -> ``verified`` (ends an open pause).

        The verification is held to the request's :attr:`identity_rules` (the policy's
        ``requests.identity``, set by :meth:`for_policy`): at least ``min_pieces`` pieces of
        information already held, every ``required_pieces`` among them, and for a request made
        by an authorised agent, agents allowed and every declared proof shown. What was checked
        is kept in :attr:`identity_check` and in the audit entry.

        Args:
            now: when.
            note: free text kept in the history.
            audit: where to record it (``request.transition``, with what was checked).
            pieces: the names of the pieces of information the requester matched.
            proofs: what an authorised agent showed (:class:`~privacy_kit.AgentProof`).

        Raises:
            RequestError: naming what is missing (the request stays ``received``).

        Example:
            >>> from privacy_kit import IdentityVerification
            >>> rules = IdentityVerification(min_pieces=2, required_pieces=["email"])
            >>> t = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
            >>> r = DataSubjectRequest.receive("erasure", "customer", {"email": "a@example.com"},
            ...     jurisdiction="gdpr", received_at=t, identity_rules=rules)
            >>> r.verify(now=t, pieces=["email"])
            Traceback (most recent call last):
            ...
            privacy_kit._errors.RequestError: identity not verified under the policy's rules: 1 piece(s) of information checked (email), at least 2 required
            >>> r.verify(now=t, pieces=["email", "last_invoice"]).identity_check.pieces
            ('email', 'last_invoice')
        """
        checked = identity_check(
            self.identity_rules, pieces=pieces, proofs=proofs, by_agent=self.by_agent
        )
        return self._move(
            RequestStatus.VERIFIED, now=now, note=note, refusal=None, audit=audit, checked=checked
        )

    def start(
        self, *, now: dt.datetime, note: str | None = None, audit: AuditLog | None = None
    ) -> DataSubjectRequest:
        """Work begins: ``verified`` -> ``in_progress``."""
        return self.transition(RequestStatus.IN_PROGRESS, now=now, note=note, audit=audit)

    def complete(
        self,
        *,
        now: dt.datetime,
        note: str | None = None,
        audit: AuditLog | None = None,
        result: Answer | None = None,
    ) -> DataSubjectRequest:
        """Done: -> ``completed``, recording what the answer found.

        Args:
            now: when.
            note: free text kept in the history.
            audit: where to record it (``request.transition``, with the outcome).
            result: the export result or erasure plan/report that answered the request; its
                ``nothing_held`` and ``searched`` become the request's :class:`Outcome`, so a
                request answered with "nothing held" says so, and where it looked.

        Example:
            >>> from privacy_kit.rights import Outcome
            >>> t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            >>> r = DataSubjectRequest.receive("access", "end_user", {"email": "b@example.com"},
            ...     jurisdiction="gdpr", received_at=t).verify(now=t).start(now=t)
            >>> done = r.complete(now=t, result=Outcome(nothing_held=True, searched=("bookings (invitee)",)))
            >>> done.outcome.nothing_held, done.outcome.searched
            (True, ('bookings (invitee)',))
        """
        outcome = None if result is None else _outcome(result)
        done = self.transition(RequestStatus.COMPLETED, now=now, note=note)
        done = done.model_copy(update={"outcome": outcome})
        last = done.history[-1]
        done._audit(
            audit,
            "request.transition",
            now,
            {
                "from": last.from_status.value if last.from_status else None,
                "to": RequestStatus.COMPLETED.value,
                "refusal": None,
                "note_sha256": _hash(note),
                **(
                    {}
                    if outcome is None
                    else {
                        "nothing_held": outcome.nothing_held,
                        "records": outcome.records,
                        "searched": list(outcome.searched),
                    }
                ),
            },
        )
        return done

    def refuse(
        self,
        reason: RefusalReason | str,
        *,
        now: dt.datetime,
        note: str | None = None,
        audit: AuditLog | None = None,
    ) -> DataSubjectRequest:
        """Refused with ``reason``: -> ``refused``."""
        return self.transition(
            RequestStatus.REFUSED, now=now, note=note, refusal=reason, audit=audit
        )

    def cancel(
        self, *, now: dt.datetime, note: str | None = None, audit: AuditLog | None = None
    ) -> DataSubjectRequest:
        """Withdrawn by the subject (or a duplicate): -> ``cancelled``."""
        return self.transition(RequestStatus.CANCELLED, now=now, note=note, audit=audit)
