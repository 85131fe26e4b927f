"""The kinds an erasure plan speaks in: what a step does (:class:`ErasureAction`) and why something
is kept despite the request (:class:`KeepReason`); re-exported by :mod:`._erasure`.
"""

from __future__ import annotations

import enum

from ..model._policy_retention import ExceptionKind

__all__ = ["ErasureAction", "KeepReason"]


class ErasureAction(enum.StrEnum):
    """What a step of an erasure does to its records."""

    DELETE = "delete"
    ANONYMIZE = "anonymize"


class KeepReason(enum.StrEnum):
    """Why something is kept despite an erasure request.

    The first six are the policy's retention exceptions (:class:`~privacy_kit.ExceptionKind`,
    GDPR Art. 17(3)); ``legal_hold`` is an active hold (``engine.holds``); ``other_party`` is a
    record that belongs to another party (the subject's own fields in it are anonymised).
    """

    LEGAL_OBLIGATION = "legal_obligation"
    LEGAL_CLAIMS = "legal_claims"
    SHARED_CONTENT = "shared_content"
    ARCHIVING = "archiving"
    FREEDOM_OF_EXPRESSION = "freedom_of_expression"
    PUBLIC_HEALTH = "public_health"
    LEGAL_HOLD = "legal_hold"
    OTHER_PARTY = "other_party"

    @property
    def exception_kind(self) -> ExceptionKind | None:
        """The policy exception kind, for the first six reasons."""
        try:
            return ExceptionKind(self.value)
        except ValueError:
            return None
