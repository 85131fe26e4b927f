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

The types, states and history entries are in :mod:`._request_states`, the fields and the
deadline computation in :mod:`._request_data`, the deadline arithmetic in :mod:`._deadlines`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
import zoneinfo
from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import ValidationError

from .._errors import InvalidTransitionError, RequestError
from .._types import require_aware
from ..audit._log import AuditLog
from ..model._policy_rights import RefusalReason
from ._request_data import RequestData
from ._request_states import (
    TRANSITIONS,
    Extension,
    Outcome,
    Pause,
    RequestStatus,
    RequestType,
    Transition,
)

__all__ = ["DataSubjectRequest"]


def _hash(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


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


class DataSubjectRequest(RequestData):
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
    ) -> DataSubjectRequest:
        """A newly received request (audited as ``request.received`` if ``audit`` is given).

        Raises:
            RequestError: an unknown type or jurisdiction, no identities, a naive time, or a
                time so close to the year 9999 that the deadline cannot be computed.
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
        }
        if id is not None:
            data["id"] = id
        request = cls._validated(data)
        try:
            due_at = request.due_at
        except (ValueError, OverflowError) as exc:  # date arithmetic past the calendar's end
            raise RequestError(
                f"invalid data-subject request: received at {received_at.isoformat()}: the "
                "request's deadline falls after the year 9999, which no date can hold"
            ) from exc
        request._audit(audit, "request.received", received_at, {"due_at": due_at.isoformat()})
        return request

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
    def _audit(
        self, audit: AuditLog | None, action: str, now: dt.datetime, extra: Mapping[str, Any]
    ) -> None:
        if audit is None:
            return
        details = {
            "request_id": str(self.id),
            "type": self.type.value,
            "jurisdiction": self.jurisdiction,
            **extra,
        }
        audit.record(action, now=now, subject=self.subject_ref, details=details)

    def _check_time(self, now: dt.datetime) -> dt.datetime:
        require_aware(now)
        if now < self.received_at:
            raise RequestError(
                f"request {self.id}: {now.isoformat()} is before the request was received "
                f"({self.received_at.isoformat()})"
            )
        return now

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

        Raises:
            InvalidTransitionError: the move is not allowed from the current state.
            RequestError: a refusal without a reason, a reason without a refusal, or a time
                before receipt.

        Example:
            >>> r = DataSubjectRequest.receive("erasure", "end_user", {"email": "b@example.com"},
            ...     jurisdiction="ccpa", received_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
            >>> r.transition("completed", now=r.received_at)
            Traceback (most recent call last):
            ...
            privacy_kit._errors.InvalidTransitionError: cannot move request ... from 'received' to 'completed'; from 'received' it may go to: cancelled, refused, verified
        """
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
        pauses = self.pauses
        if self.paused:
            pauses = (*pauses[:-1], pauses[-1].model_copy(update={"ended_at": now}))
        updated = self.model_copy(
            update={
                "status": target,
                "refusal": reason,
                "pauses": pauses,
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
            },
        )
        return updated

    def verify(
        self, *, now: dt.datetime, note: str | None = None, audit: AuditLog | None = None
    ) -> DataSubjectRequest:
        """Identity confirmed: ``received`` -> ``verified`` (ends an open pause)."""
        return self.transition(RequestStatus.VERIFIED, now=now, note=note, audit=audit)

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

    def await_identity(
        self, *, now: dt.datetime, audit: AuditLog | None = None
    ) -> DataSubjectRequest:
        """Ask the subject for proof of identity; the clock stops if the regime allows it.

        Raises:
            RequestError: the request is not ``received``, or already paused.

        Example:
            >>> import zoneinfo
            >>> london = zoneinfo.ZoneInfo("Europe/London")
            >>> r = DataSubjectRequest.receive("access", "customer", {"user_id": "7"},
            ...     jurisdiction="uk_gdpr", received_at=dt.datetime(2026, 3, 2, 10, tzinfo=london))
            >>> r = r.await_identity(now=dt.datetime(2026, 3, 3, 9, tzinfo=london))
            >>> r = r.verify(now=dt.datetime(2026, 3, 8, 16, tzinfo=london))
            >>> r.due_at.isoformat()  # 2 April, plus the 5 days paused
            '2026-04-07T23:59:59.999999+01:00'
        """
        self._check_time(now)
        if self.status is not RequestStatus.RECEIVED:
            raise RequestError(
                f"request {self.id} is {self.status.value!r}; identity is awaited only while 'received'"
            )
        if self.paused:
            raise RequestError(f"request {self.id} is already awaiting identity")
        updated = self.model_copy(update={"pauses": (*self.pauses, Pause(started_at=now))})
        updated._audit(audit, "request.paused", now, {"clock_stops": self.clock_stops})
        return updated

    def identity_received(
        self, *, now: dt.datetime, audit: AuditLog | None = None
    ) -> DataSubjectRequest:
        """End the open pause without deciding yet (the clock runs again).

        Raises:
            RequestError: no pause is open.
        """
        self._check_time(now)
        if not self.paused:
            raise RequestError(f"request {self.id} is not awaiting identity")
        if now < self.pauses[-1].started_at:
            raise RequestError("a pause cannot end before it started")
        pauses = (*self.pauses[:-1], self.pauses[-1].model_copy(update={"ended_at": now}))
        updated = self.model_copy(update={"pauses": pauses})
        updated._audit(audit, "request.resumed", now, {"due_at": updated.due_at.isoformat()})
        return updated

    def extend(
        self, reason: str, *, now: dt.datetime, audit: AuditLog | None = None
    ) -> DataSubjectRequest:
        """Extend the deadline as the jurisdiction allows, telling the subject ``reason``.

        Raises:
            RequestError: the regime allows no (further) extension, the request is closed, no
                reason was given, or it is too late (the subject must be told within the
                first period, e.g. GDPR Art. 12(3): within one month of receipt).
        """
        self._check_time(now)
        rule = self.rule
        if self.status.terminal:
            raise RequestError(f"request {self.id} is {self.status.value!r}: nothing to extend")
        if rule.extension is None:
            raise RequestError(
                f"{self.jurisdiction} allows no extension of the deadline ({rule.citation})"
            )
        if len(self.extensions) >= rule.max_extensions:
            raise RequestError(
                f"request {self.id} was already extended; {rule.citation} allows "
                f"{rule.max_extensions} extension(s)"
            )
        if not reason or not reason.strip():
            raise RequestError("an extension needs a reason to give the subject")
        notice_by = self.extension_notice_due_at
        if notice_by is not None and now > notice_by:
            raise RequestError(
                f"too late to extend request {self.id}: the subject had to be told by "
                f"{notice_by.isoformat()} ({rule.citation})"
            )
        updated = self.model_copy(
            update={
                "extensions": (
                    *self.extensions,
                    Extension(at=now, by=rule.extension, reason=reason),
                )
            }
        )
        updated._audit(
            audit,
            "request.extended",
            now,
            {
                "by": str(rule.extension),
                "due_at": updated.due_at.isoformat(),
                "reason_sha256": _hash(reason),
            },
        )
        return updated
