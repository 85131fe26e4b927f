"""The data a data-subject request holds and when it is due: :class:`RequestData`, the base of
:class:`~privacy_kit.DataSubjectRequest`, declares the fields (type, subject, identities,
jurisdiction, receipt, status, history, pauses, extensions, refusal, time zone), checks that they
agree with each other and with the jurisdiction's rule, and computes the deadline from them: the
end of the last day in the zone of receipt, moved by extensions and by the whole days the clock
stood still.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from typing import Self

from pydantic import UUID4, AwareDatetime, Field, field_validator, model_validator

from .._errors import RequestError
from .._types import Model, require_aware
from ..model._jurisdictions import RequestDeadline, get_jurisdiction
from ..model._policy_rights import RefusalReason
from ._deadlines import STOP_THE_CLOCK, add_deadline
from ._request_states import Extension, Outcome, Pause, RequestStatus, RequestType, Transition

__all__ = ["RequestData"]


class RequestData(Model):
    """The fields of a data-subject request, their checks, and its deadline.

    Not used on its own: :class:`~privacy_kit.DataSubjectRequest` adds construction, JSON
    input and output, and the changes of state.
    """

    id: UUID4 = Field(default_factory=uuid.uuid4)
    type: RequestType
    subject_kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    identities: dict[str, str] = Field(min_length=1)
    jurisdiction: str
    received_at: AwareDatetime
    status: RequestStatus = RequestStatus.RECEIVED
    history: tuple[Transition, ...] = ()
    pauses: tuple[Pause, ...] = ()
    extensions: tuple[Extension, ...] = ()
    refusal: RefusalReason | None = None
    outcome: Outcome | None = Field(
        default=None, description="What answering the request found (set when it is completed)"
    )
    stop_the_clock: bool | None = Field(
        default=None, description="Override whether awaiting identity stops the clock"
    )
    subject_ref: str | None = Field(
        default=None, description="The subject's reference, for audit entries"
    )
    timezone: str | None = Field(
        default=None,
        description="IANA zone the deadline is counted in (default: received_at's own zone)",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"unknown time zone {value!r} (expected an IANA name such as 'Europe/London')"
                ) from None
        return value

    @field_validator("jurisdiction")
    @classmethod
    def _known_jurisdiction(cls, value: str) -> str:
        try:
            get_jurisdiction(value)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.history and self.history[-1].to_status is not self.status:
            raise ValueError(
                f"status {self.status.value!r} does not match the last transition "
                f"({self.history[-1].to_status.value!r})"
            )
        if (self.status is RequestStatus.REFUSED) != (self.refusal is not None):
            raise ValueError("a refused request needs a refusal reason, and only a refused one")
        if any(p.ended_at is None for p in self.pauses[:-1]):
            raise ValueError("only the last pause may still be open")
        rule = self.rule
        if len(self.extensions) > rule.max_extensions:
            raise ValueError(
                f"{len(self.extensions)} extensions, but {rule.citation} allows {rule.max_extensions}"
            )
        return self

    # -- the rule and the deadline ----------------------------------------------------------
    @property
    def rule(self) -> RequestDeadline:
        """The jurisdiction's deadline rule."""
        return get_jurisdiction(self.jurisdiction).request_deadline

    @property
    def citation(self) -> str:
        """Where the deadline comes from."""
        return self.rule.citation

    @property
    def clock_stops(self) -> bool:
        """Whether awaiting identity stops the clock for this request."""
        if self.stop_the_clock is not None:
            return self.stop_the_clock
        return STOP_THE_CLOCK.get(self.jurisdiction, (False, ""))[0]

    @property
    def zone(self) -> dt.tzinfo:
        """The zone deadlines are counted in: :attr:`timezone`, else ``received_at``'s own."""
        if self.timezone is not None:
            return zoneinfo.ZoneInfo(self.timezone)
        zone = self.received_at.tzinfo
        if zone is None:  # AwareDatetime makes this unreachable; kept for the type checker
            raise RequestError("received_at must be timezone-aware")
        return zone

    @property
    def received_local(self) -> dt.datetime:
        """``received_at`` in :attr:`zone`."""
        return self.received_at.astimezone(self.zone)

    def paused_days(self, now: dt.datetime | None = None) -> int:
        """Whole days the clock stood still (an open pause counts up to ``now`` if given)."""
        if not self.clock_stops:
            return 0
        zone = self.zone
        total = 0
        for pause in self.pauses:
            end = pause.ended_at
            if end is None:
                if now is None:
                    continue
                end = max(require_aware(now), pause.started_at)
            total += (end.astimezone(zone).date() - pause.started_at.astimezone(zone).date()).days
        return total

    def _end_of(self, day: dt.date) -> dt.datetime:
        # The end of that day in the zone of receipt (zoneinfo gives the right DST offset).
        return dt.datetime.combine(day, dt.time.max, tzinfo=self.zone)

    def _due_date(self, now: dt.datetime | None) -> dt.date:
        rule = self.rule
        day = add_deadline(
            self.received_local.date(), rule.respond_within, business_days=rule.business_days
        )
        for extension in self.extensions:
            day = add_deadline(day, extension.by, business_days=rule.business_days)
        return day + dt.timedelta(days=self.paused_days(now))

    @property
    def due_at(self) -> dt.datetime:
        """The end of the last day to respond (extensions and closed pauses included).

        While a pause is open the clock is stopped: use :meth:`due_at_as_of`.
        """
        return self._end_of(self._due_date(None))

    def due_at_as_of(self, now: dt.datetime) -> dt.datetime:
        """The deadline, counting an open pause up to ``now``."""
        return self._end_of(self._due_date(now))

    @property
    def extension_notice_due_at(self) -> dt.datetime | None:
        """The end of the last day to tell the subject of an extension (``None``: no extension)."""
        rule = self.rule
        if rule.extension is None:
            return None
        within = rule.notify_extension_within or rule.respond_within
        day = add_deadline(self.received_local.date(), within, business_days=rule.business_days)
        return self._end_of(day + dt.timedelta(days=self.paused_days()))

    def is_overdue(self, now: dt.datetime) -> bool:
        """Whether the request is still open after its deadline."""
        return not self.status.terminal and require_aware(now) > self.due_at_as_of(now)

    def time_left(self, now: dt.datetime) -> dt.timedelta:
        """Time until the deadline (negative once overdue; frozen while the clock is stopped)."""
        return self.due_at_as_of(now) - require_aware(now)

    @property
    def paused(self) -> bool:
        """Whether a pause is open."""
        return bool(self.pauses) and self.pauses[-1].ended_at is None
