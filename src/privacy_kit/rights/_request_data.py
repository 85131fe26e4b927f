"""The data a data-subject request holds and when it is due: :class:`RequestData`, the base of
:class:`~privacy_kit.DataSubjectRequest`, declares the fields (type, subject, identities,
jurisdiction, receipt, status, history, pauses, extensions, refusal, time zone), checks that they
agree with each other and with the jurisdiction's rule, and computes the deadline from them: the
end of the last day in the zone of receipt, moved by extensions and by the whole days the clock
stood still. A request under ``global`` (no law governs the requester, or none the policy lists)
is due within the policy's own ``respond_within``; without one it has no deadline, and says so
(:attr:`~RequestData.has_deadline`, :attr:`~RequestData.deadline_basis`): none is invented.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Iterable
from typing import Any, Self

from pydantic import UUID4, AwareDatetime, Field, field_validator, model_validator

from .._errors import RequestError
from .._types import Duration, Model, require_aware
from ..model._jurisdictions import (
    GLOBAL,
    RequestDeadline,
    get_jurisdiction,
    governing_jurisdiction,
)
from ..model._policy import Policy
from ..model._policy_rights import IdentityVerification, RefusalReason
from ._deadlines import STOP_THE_CLOCK, add_deadline
from ._request_states import (
    Extension,
    IdentityCheck,
    Outcome,
    Pause,
    RequestStatus,
    RequestType,
    Transition,
)

POLICY_DEADLINE = "the policy's own promise (requests.respond_within)"
"""The citation of a deadline that comes from the policy rather than a law."""

__all__ = ["RequestData", "jurisdiction_for"]


def jurisdiction_for(policy: Policy, country: str) -> tuple[str, Duration | None, str, str]:
    """The jurisdiction a request from ``country`` is recorded under, with the policy's own
    deadline (under ``global`` only), the reason, and the normalised country code.

    The law that governs a resident of ``country`` when the policy lists it; otherwise
    ``global`` (whether or not the policy lists it: a request is always recorded).

    Raises:
        ConfigurationError: ``country`` is not an ISO 3166 code.
    """
    law = governing_jurisdiction(country)
    code = country.strip().upper()
    if law is not None and law.key in policy.jurisdictions:
        return (
            law.key,
            None,
            f"{law.name} governs a requester in {code}, and the policy lists it",
            code,
        )
    if law is not None:
        note = f"{law.key} governs a requester in {code}, but the policy does not list it"
    else:
        listed = ", ".join(k for k in policy.jurisdictions if k != GLOBAL) or "none"
        note = f"no law the policy lists ({listed}) governs a requester in {code}"
    note += (
        "; the policy's own promises apply"
        if GLOBAL in policy.jurisdictions
        else "; the policy does not list 'global' either, so it promises this requester nothing "
        "beyond its requests section"
    )
    return GLOBAL, policy.requests.respond_within, note, code


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
    country: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$",
        description="Where the requester lives (ISO 3166), when known",
    )
    respond_within: Duration | None = Field(
        default=None,
        description="The policy's own deadline (requests.respond_within), for requests under global",
    )
    jurisdiction_note: str | None = Field(
        default=None, description="Why the request is under its jurisdiction"
    )
    identity_rules: IdentityVerification | None = Field(
        default=None, description="The policy's identity rules verification is held to"
    )
    by_agent: bool = Field(default=False, description="Made by an authorised agent")
    identity_check: IdentityCheck | None = Field(
        default=None, description="What was checked when the request was verified"
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
        if self.respond_within is not None:
            if self.jurisdiction != GLOBAL:
                raise ValueError(
                    "respond_within is the policy's own deadline for requests under 'global'; "
                    f"under {self.jurisdiction!r} the law's deadline applies"
                )
            if self.respond_within.is_zero():
                raise ValueError("respond_within must be positive")
        rule = self.deadline_rule
        allowed = 0 if rule is None else rule.max_extensions
        if len(self.extensions) > allowed:
            raise ValueError(
                f"{len(self.extensions)} extensions, but {self.deadline_basis} allows {allowed}"
            )
        return self

    # -- the rule and the deadline ----------------------------------------------------------
    @property
    def deadline_rule(self) -> RequestDeadline | None:
        """The deadline rule: the law's, or under ``global`` the policy's own (``None``: none)."""
        if self.jurisdiction != GLOBAL:
            return get_jurisdiction(self.jurisdiction).request_deadline
        if self.respond_within is None:
            return None
        return RequestDeadline(respond_within=self.respond_within, citation=POLICY_DEADLINE)

    @property
    def has_deadline(self) -> bool:
        """Whether the request has a deadline at all (one under ``global`` may not)."""
        return self.deadline_rule is not None

    @property
    def deadline_basis(self) -> str:
        """Where the deadline comes from, or why there is none.

        Example:
            >>> import datetime as dt
            >>> from privacy_kit import DataSubjectRequest
            >>> r = DataSubjectRequest.receive("access", "customer", {"email": "a@example.com"},
            ...     jurisdiction="global", received_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC))
            >>> r.has_deadline, r.deadline_basis
            (False, 'no deadline: no law the policy lists governs this request, and the policy sets no requests.respond_within')
        """
        rule = self.deadline_rule
        if rule is not None:
            return rule.citation
        return (
            "no deadline: no law the policy lists governs this request, and the policy sets no "
            "requests.respond_within"
        )

    @property
    def rule(self) -> RequestDeadline:
        """The deadline rule.

        Raises:
            RequestError: the request has no deadline (see :attr:`deadline_basis`).
        """
        rule = self.deadline_rule
        if rule is None:
            raise RequestError(f"request {self.id} has {self.deadline_basis}")
        return rule

    @property
    def citation(self) -> str:
        """Where the deadline comes from (or, without one, why there is none)."""
        return self.deadline_basis

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

    def _due_date(self, now: dt.datetime | None) -> dt.date | None:
        rule = self.deadline_rule
        if rule is None:
            return None
        try:
            day = add_deadline(
                self.received_local.date(), rule.respond_within, business_days=rule.business_days
            )
            for extension in self.extensions:
                day = add_deadline(day, extension.by, business_days=rule.business_days)
            return day + dt.timedelta(days=self.paused_days(now))
        except (ValueError, OverflowError) as exc:  # date arithmetic past the calendar's end
            raise RequestError(
                f"request {self.id}: its deadline (received {self.received_at.isoformat()}, "
                f"{len(self.extensions)} extension(s), {self.paused_days(now)} paused day(s)) "
                "falls after the year 9999, which no date can hold"
            ) from exc

    def _deadline_as_of(self, now: dt.datetime | None) -> dt.datetime | None:
        day = self._due_date(now)
        return None if day is None else self._end_of(day)

    @property
    def deadline(self) -> dt.datetime | None:
        """The end of the last day to respond, or ``None`` when the request has no deadline."""
        return self._deadline_as_of(None)

    @property
    def due_at(self) -> dt.datetime:
        """The end of the last day to respond (extensions and closed pauses included).

        While a pause is open the clock is stopped: use :meth:`due_at_as_of`.

        Raises:
            RequestError: the request has no deadline (:attr:`deadline` is then ``None``).
        """
        return self.due_at_as_of(None)

    def due_at_as_of(self, now: dt.datetime | None) -> dt.datetime:
        """The deadline, counting an open pause up to ``now``.

        Raises:
            RequestError: the request has no deadline.
        """
        found = self._deadline_as_of(now)
        if found is None:
            raise RequestError(f"request {self.id} has {self.deadline_basis}")
        return found

    @property
    def extension_notice_due_at(self) -> dt.datetime | None:
        """The end of the last day to tell the subject of an extension (``None``: no extension)."""
        rule = self.deadline_rule
        if rule is None or rule.extension is None:
            return None
        within = rule.notify_extension_within or rule.respond_within
        try:
            day = add_deadline(self.received_local.date(), within, business_days=rule.business_days)
            return self._end_of(day + dt.timedelta(days=self.paused_days()))
        except (ValueError, OverflowError) as exc:
            raise RequestError(
                f"request {self.id}: the day to tell the subject of an extension falls after "
                "the year 9999, which no date can hold"
            ) from exc

    def is_overdue(self, now: dt.datetime) -> bool:
        """Whether the request is still open after its deadline (never, without a deadline)."""
        deadline = self._deadline_as_of(require_aware(now))
        return deadline is not None and not self.status.terminal and now > deadline

    def time_left(self, now: dt.datetime) -> dt.timedelta:
        """Time until the deadline (negative once overdue; frozen while the clock is stopped).

        Raises:
            RequestError: the request has no deadline.
        """
        return self.due_at_as_of(require_aware(now)) - now

    @property
    def paused(self) -> bool:
        """Whether a pause is open."""
        return bool(self.pauses) and self.pauses[-1].ended_at is None

    # Views: the identities are personal data, so neither repr nor str nor the notebook view
    # shows their values (only which kinds were given).
    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        try:
            deadline: dt.datetime | str | None = self.deadline
        except RequestError:  # a repr never raises: say why there is no date
            deadline = "after 9999-12-31"
        return [
            ("id", str(self.id)),
            ("type", self.type.value),
            ("subject_kind", self.subject_kind),
            ("identities", sorted(self.identities)),
            ("status", self.status.value),
            ("jurisdiction", self.jurisdiction),
            ("received_at", self.received_at.isoformat()),
            ("deadline", deadline.isoformat() if isinstance(deadline, dt.datetime) else deadline),
        ]

    def _repr_html_(self) -> str:
        from .._html import html_table, join_html  # noqa: PLC0415

        facts: list[tuple[str, object]] = [
            (str(k).replace("_", " "), v) for k, v in self.__repr_args__()
        ]
        facts.append(("basis", self.deadline_basis))
        if self.refusal is not None:
            facts.append(("refusal", self.refusal))
        if self.outcome is not None:
            o = self.outcome
            found = "nothing held" if o.nothing_held else f"{o.records} record(s)"
            facts.append(("outcome", f"{found}; searched: {', '.join(o.searched) or 'nothing'}"))
        title = f"{self.type.value} request ({self.status.value})"
        rows = [tuple(r.values()) for r in self.to_records()]
        return join_html(
            html_table(title, ["", ""], facts, caption="identity values are not shown"),
            html_table("History", ["at", "from", "to", "note"], rows),
        )

    def to_pandas(self) -> Any:
        """:meth:`to_records` as a ``pandas.DataFrame`` (same columns, even with no rows).

        Raises:
            ConfigurationError: if pandas is not installed (``pip install pandas``).
        """
        from .._html import data_frame  # noqa: PLC0415
        from ._views import REQUEST_COLUMNS  # noqa: PLC0415

        return data_frame(REQUEST_COLUMNS, self.to_records(), of=type(self).__name__)

    def to_records(self) -> list[dict[str, object]]:
        """The request's history, one flat row per change of state (for a data frame).

        Columns: ``at`` (ISO 8601), ``from_status`` (``None`` for the first), ``to_status``,
        ``note``. The identities are never part of it.
        """
        from .._html import records  # noqa: PLC0415
        from ._views import REQUEST_COLUMNS  # noqa: PLC0415

        rows = [
            {"at": t.at, "from_status": t.from_status, "to_status": t.to_status, "note": t.note}
            for t in self.history
        ]
        return records(REQUEST_COLUMNS, rows)
