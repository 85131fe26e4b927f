"""What a data-subject request is made of: its :class:`RequestType`, the states it moves through
(:class:`RequestStatus`), the allowed moves between them (:data:`TRANSITIONS`, the state machine
that :meth:`DataSubjectRequest.transition <privacy_kit.DataSubjectRequest.transition>` enforces)
and the entries of its history: each :class:`Transition`, each :class:`Pause` while the subject is
awaited, and each :class:`Extension` of the deadline.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from pydantic import AwareDatetime, Field

from .._types import Duration, Model

__all__ = [
    "TRANSITIONS",
    "Extension",
    "Outcome",
    "Pause",
    "RequestStatus",
    "RequestType",
    "Transition",
]


class RequestType(enum.StrEnum):
    """What the subject asks for."""

    ACCESS = "access"
    PORTABILITY = "portability"
    ERASURE = "erasure"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"
    OBJECTION = "objection"
    OPT_OUT = "opt_out"


class RequestStatus(enum.StrEnum):
    """Where a request stands."""

    RECEIVED = "received"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REFUSED = "refused"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """Whether no move leaves this state.

        Example:
            >>> RequestStatus.COMPLETED.terminal, RequestStatus.VERIFIED.terminal
            (True, False)
        """
        return not TRANSITIONS[self]


_S = RequestStatus
#: The allowed moves: state -> the states it may go to.
TRANSITIONS: Mapping[RequestStatus, frozenset[RequestStatus]] = {
    _S.RECEIVED: frozenset({_S.VERIFIED, _S.REFUSED, _S.CANCELLED}),
    _S.VERIFIED: frozenset({_S.IN_PROGRESS, _S.COMPLETED, _S.REFUSED, _S.CANCELLED}),
    _S.IN_PROGRESS: frozenset({_S.COMPLETED, _S.REFUSED, _S.CANCELLED}),
    _S.COMPLETED: frozenset(),
    _S.REFUSED: frozenset(),
    _S.CANCELLED: frozenset(),
}


class Transition(Model):
    """One move of a request's state."""

    at: AwareDatetime
    from_status: RequestStatus | None
    to_status: RequestStatus
    note: str | None = None


class Pause(Model):
    """A span during which the request awaited the subject (identity, by default)."""

    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    reason: str = "awaiting_identity"


class Extension(Model):
    """An extension of the deadline, with the reason the subject was given."""

    at: AwareDatetime
    by: Duration
    reason: str = Field(min_length=1)


class Outcome(Model):
    """What carrying out a request found: how many records, and whether nothing was held.

    Recorded by :meth:`~privacy_kit.DataSubjectRequest.complete` from the export or erasure that
    answered the request, so "we hold nothing about you" is a recorded finding with what was
    searched, never an empty success.

    Example:
        >>> Outcome(nothing_held=True, searched=("bookings (invitee)",)).nothing_held
        True
    """

    nothing_held: bool
    records: int = Field(default=0, ge=0)
    searched: tuple[str, ...] = ()
