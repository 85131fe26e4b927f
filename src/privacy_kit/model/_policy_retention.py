"""The policy's retention section: how long each set of categories is kept, from which trigger,
what happens when the time is up, the range within which a customer may set their own retention,
and the exceptions that keep data longer, as the frozen pydantic models a
:class:`~privacy_kit.model.Policy` holds in its ``retention`` rules.
"""

from __future__ import annotations

import enum

from pydantic import Field

from .._types import Duration, LocalizedText, Model

__all__ = [
    "ExceptionKind",
    "OverrideRange",
    "RetentionAction",
    "RetentionException",
    "RetentionRule",
    "Trigger",
]


class Trigger(enum.StrEnum):
    """What starts a retention clock."""

    CREATED = "created"
    """The record was created."""
    EVENT = "event"
    """An event time on the record, e.g. a booking's end."""
    ACCOUNT_CLOSED = "account_closed"
    """The owning account was closed ("for the life of the account")."""
    ACCOUNT_DEACTIVATED = "account_deactivated"
    """The owning account was deactivated."""
    LAST_ACTIVITY = "last_activity"
    """The subject's last activity."""


class RetentionAction(enum.StrEnum):
    """What happens when retention expires."""

    DELETE = "delete"
    ANONYMIZE = "anonymize"


class ExceptionKind(enum.StrEnum):
    """Why data may be kept beyond its rule (GDPR Art. 17(3) and the policy's own reasons)."""

    LEGAL_OBLIGATION = "legal_obligation"
    """Art. 17(3)(b): a legal obligation, e.g. tax records."""
    LEGAL_CLAIMS = "legal_claims"
    """Art. 17(3)(e): establishment, exercise or defence of legal claims (disputes)."""
    SHARED_CONTENT = "shared_content"
    """Content kept so collaborators can keep using the service."""
    ARCHIVING = "archiving"
    """Art. 17(3)(d): archiving, research or statistics."""
    FREEDOM_OF_EXPRESSION = "freedom_of_expression"
    """Art. 17(3)(a)."""
    PUBLIC_HEALTH = "public_health"
    """Art. 17(3)(c)."""


class OverrideRange(Model):
    """The range within which a customer may set their own retention for a rule."""

    minimum: Duration
    maximum: Duration
    trigger: Trigger | None = Field(
        default=None, description="Trigger of the customer's setting; defaults to the rule's"
    )
    configurable_by: str = "customer"
    description: LocalizedText | None = None


class RetentionException(Model):
    """A reason to keep data past its rule, with how long (``None``: while the reason lasts)."""

    kind: ExceptionKind
    reason: LocalizedText
    duration: Duration | None = None
    categories: tuple[str, ...] = Field(default=(), description="Empty means the rule's categories")
    citation: str | None = None


class RetentionRule(Model):
    """How long a set of categories is kept, from what trigger, and what happens then.

    ``duration`` is counted from ``trigger``; leave it out for "until the trigger" (e.g. for the
    life of the account: trigger ``account_closed``, no duration).
    """

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: LocalizedText
    categories: tuple[str, ...] = Field(min_length=1)
    trigger: Trigger
    duration: Duration | None = None
    action: RetentionAction = RetentionAction.DELETE
    override: OverrideRange | None = None
    legal_minimum: Duration | None = Field(
        default=None, description="A minimum the law requires; the rule must not be shorter"
    )
    exceptions: tuple[RetentionException, ...] = ()
    purge_within: Duration | None = Field(
        default=None,
        description="After the action is due, it is carried out on live systems within this "
        "(staged deletion); backups then roll off within their storage location's expiry",
    )
    products: tuple[str, ...] = Field(default=(), description="Product keys; empty means all")

    @property
    def effective_duration(self) -> Duration:
        """The duration, ``P0D`` when the rule ends at its trigger."""
        return self.duration or Duration()
