"""The clock of a data-subject request: pauses while identity is awaited (the clock stops where
the regime says so), and extensions of the deadline as the regime allows, each recorded in the
request and, when an audit log is given, in the log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any, Self

from .._errors import RequestError
from .._types import require_aware
from ..audit._log import AuditLog
from ._observe import LOGGER
from ._request_data import RequestData
from ._request_states import Extension, Pause, RequestStatus

__all__: list[str] = []


def _hash(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


class RequestClock(RequestData):
    """Pauses and extensions (the base of :class:`~privacy_kit.DataSubjectRequest`)."""

    def _audit(
        self, audit: AuditLog | None, action: str, now: dt.datetime, extra: Mapping[str, Any]
    ) -> None:
        LOGGER.info("request %s (%s, %s): %s", self.id, self.type.value, self.jurisdiction, action)
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

    def await_identity(self, *, now: dt.datetime, audit: AuditLog | None = None) -> Self:
        """Ask the subject for proof of identity; the clock stops if the regime allows it.

        Raises:
            RequestError: the request is not ``received``, or already paused.

        Example:
            >>> import datetime as dt, zoneinfo
            >>> from privacy_kit import DataSubjectRequest
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

    def identity_received(self, *, now: dt.datetime, audit: AuditLog | None = None) -> Self:
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
        deadline = updated.deadline
        updated._audit(
            audit,
            "request.resumed",
            now,
            {"due_at": None if deadline is None else deadline.isoformat()},
        )
        return updated

    def extend(self, reason: str, *, now: dt.datetime, audit: AuditLog | None = None) -> Self:
        """Extend the deadline as the jurisdiction allows, telling the subject ``reason``.

        Raises:
            RequestError: the regime allows no (further) extension, the request is closed, no
                reason was given, or it is too late (the subject must be told within the
                first period, e.g. GDPR Art. 12(3): within one month of receipt).
        """
        self._check_time(now)
        if self.status.terminal:
            raise RequestError(f"request {self.id} is {self.status.value!r}: nothing to extend")
        rule = self.deadline_rule
        if rule is None:
            raise RequestError(f"request {self.id} has {self.deadline_basis}: nothing to extend")
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
