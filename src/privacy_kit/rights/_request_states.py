"""What a data-subject request is made of: its :class:`RequestType`, the states it moves through
(:class:`RequestStatus`), the allowed moves between them (:data:`TRANSITIONS`, the state machine
that :meth:`DataSubjectRequest.transition <privacy_kit.DataSubjectRequest.transition>` enforces)
and the entries of its history: each :class:`Transition`, each :class:`Pause` while the subject is
awaited, each :class:`Extension` of the deadline, and the :class:`IdentityCheck` made when it was
verified.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from pydantic import AwareDatetime, Field

from .._types import Duration, Model
from ..model._policy_rights import AgentProof

__all__ = [
    "TRANSITIONS",
    "Extension",
    "IdentityCheck",
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
    KNOW = "know"
    """What is collected, used, shared or sold, and why (CCPA right to know)."""
    AUTOMATED_DECISIONS = "automated_decisions"
    """Human review of, or not being subject to, a solely automated decision (GDPR Art. 22)."""


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


class IdentityCheck(Model):
    """What was checked when a request's identity was verified.

    Recorded on the request (and in the ``request.transition`` audit entry) by
    :meth:`~privacy_kit.DataSubjectRequest.verify`, so that "verified" always says against what.

    Attributes:
        pieces: the pieces of information already held that the requester matched.
        proofs: what an authorised agent showed.
        by_agent: whether an authorised agent made the request.
        rules_declared: whether the policy declared identity rules the check was held to.

    Example:
        >>> IdentityCheck(pieces=("email", "phone")).pieces
        ('email', 'phone')
    """

    pieces: tuple[str, ...] = ()
    proofs: tuple[AgentProof, ...] = ()
    by_agent: bool = False
    rules_declared: bool = True
