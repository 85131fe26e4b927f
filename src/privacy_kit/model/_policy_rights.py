"""The policy's promises to people: which rights they have and how to use them (request
channels, identity verification and authorised agents, grounds for refusal), whether decisions
are made about them by solely automated means, how fast a breach is reported, the minimum age,
which messages they can opt out of, and how policy changes are announced, as the frozen pydantic
models of those sections of a :class:`~privacy_kit.model.Policy`.
"""

import enum
from typing import Annotated, Literal

from pydantic import Field

from .._types import Duration, LocalizedText, Model

__all__ = [
    "AgentProof",
    "AgentRules",
    "AutomatedDecisions",
    "BreachPromise",
    "ChangeKind",
    "ChangePolicy",
    "Children",
    "Communication",
    "CommunicationKind",
    "IdentityVerification",
    "RefusalReason",
    "RequestChannel",
    "Requests",
    "Right",
    "RightOffer",
]


class Right(enum.StrEnum):
    """Rights a data subject can exercise."""

    ACCESS = "access"
    PORTABILITY = "portability"
    ERASURE = "erasure"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"
    OBJECTION = "objection"
    OPT_OUT = "opt_out"
    """Opt out of promotional communications."""
    OPT_OUT_OF_SALE = "opt_out_of_sale"
    """Opt out of sale or sharing (CCPA/CPRA)."""
    WITHDRAW_CONSENT = "withdraw_consent"
    COMPLAINT = "complaint"
    """Lodge a complaint with a supervisory authority."""
    NON_DISCRIMINATION = "non_discrimination"
    KNOW = "know"
    """Know what is collected, used, shared or sold, and why (CCPA, Cal. Civ. Code 1798.110)."""
    AUTOMATED_DECISIONS = "automated_decisions"
    """Not be subject to a decision based solely on automated processing (GDPR Art. 22)."""


class RefusalReason(enum.StrEnum):
    """Grounds on which a rights request may be refused or limited."""

    REVEALS_OTHER_USER_DATA = "reveals_other_user_data"
    LEGAL_PROHIBITION = "legal_prohibition"
    LEGAL_OBLIGATION = "legal_obligation"
    MANIFESTLY_UNFOUNDED = "manifestly_unfounded"
    IDENTITY_NOT_VERIFIED = "identity_not_verified"
    HELD_BY_THIRD_PARTY = "held_by_third_party"
    """Data shared with a third party at the subject's request: ask that party."""


class CommunicationKind(enum.StrEnum):
    """Promotional messages can be opted out of; transactional ones are needed to run the service."""

    PROMOTIONAL = "promotional"
    TRANSACTIONAL = "transactional"


class ChangeKind(enum.StrEnum):
    """Kinds of policy change, as :func:`privacy_kit.diff` reports them."""

    CATEGORY_ADDED = "category_added"
    CATEGORY_REMOVED = "category_removed"
    PURPOSE_ADDED = "purpose_added"
    PURPOSE_REMOVED = "purpose_removed"
    RECIPIENT_ADDED = "recipient_added"
    RECIPIENT_REMOVED = "recipient_removed"
    RECIPIENT_CHANGED = "recipient_changed"
    RETENTION_LENGTHENED = "retention_lengthened"
    RETENTION_SHORTENED = "retention_shortened"
    RETENTION_CHANGED = "retention_changed"
    RIGHT_ADDED = "right_added"
    RIGHT_REMOVED = "right_removed"
    TRANSFER_ADDED = "transfer_added"
    TRANSFER_REMOVED = "transfer_removed"
    STORAGE_CHANGED = "storage_changed"
    SECURITY_CHANGED = "security_changed"
    BREACH_PROMISE_CHANGED = "breach_promise_changed"
    MINIMUM_AGE_CHANGED = "minimum_age_changed"
    CONTROLLER_CHANGED = "controller_changed"
    TEXT_CHANGED = "text_changed"
    SIGNAL_WEAKENED = "signal_weakened"
    """A browser signal no longer honoured (or its honouring no longer stated)."""
    SIGNAL_CHANGED = "signal_changed"
    NOT_COLLECTED_ADDED = "not_collected_added"
    NOT_COLLECTED_REMOVED = "not_collected_removed"
    """A category the policy promised not to collect is no longer in that promise."""
    PRODUCT_ADDED = "product_added"
    PRODUCT_REMOVED = "product_removed"
    IDENTITY_WEAKENED = "identity_weakened"
    """Identity checks got weaker: fewer pieces, a required piece dropped, agents' proof dropped."""
    IDENTITY_CHANGED = "identity_changed"
    DISCLOSURE_CONDITION_WEAKENED = "disclosure_condition_weakened"
    """A condition on a disclosure dropped or loosened (legal process, telling the person)."""
    DISCLOSURE_CONDITION_CHANGED = "disclosure_condition_changed"
    AUTOMATED_DECISIONS_WEAKENED = "automated_decisions_weakened"
    """Solely automated decisions now made, or the promise of none withdrawn."""
    AUTOMATED_DECISIONS_CHANGED = "automated_decisions_changed"
    BACKUP_LENGTHENED = "backup_lengthened"
    """Copies kept in backups longer (a new backup, or a longer expiry)."""
    BACKUP_SHORTENED = "backup_shortened"


class RequestChannel(Model):
    """A way to make a data request."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["self_service", "support_tool", "email", "web_form", "postal", "phone"]
    description: LocalizedText
    requires_login: bool = False
    from_account_email: bool = Field(
        default=False, description="The request must come from the account's own e-mail address"
    )


class AgentProof(enum.StrEnum):
    """What an authorised agent must show to make a request for someone else."""

    WRITTEN_PERMISSION = "written_permission"
    """The holder's permission in writing."""
    SIGNED_PERMISSION = "signed_permission"
    """The holder's permission, signed by the holder."""
    POWER_OF_ATTORNEY = "power_of_attorney"
    """A power of attorney."""
    IDENTITY_OF_HOLDER = "identity_of_holder"
    """The holder confirms their own identity directly with the controller."""


class AgentRules(Model):
    """Whether authorised agents may make requests for someone else, and what they must show.

    Example:
        >>> AgentRules(allowed=True, proof=["written_permission", "signed_permission"]).proof[1]
        <AgentProof.SIGNED_PERMISSION: 'signed_permission'>
    """

    allowed: bool
    proof: tuple[AgentProof, ...] = Field(
        default=(), description="Every proof an agent must show (all of them)"
    )
    description: LocalizedText | None = None


_PIECE = r"^[a-z][a-z0-9_]*$"


class IdentityVerification(Model):
    """How identity is checked before a request is acted on.

    ``methods`` are alternatives (any one will do); ``min_pieces`` and ``required_pieces`` are
    conditions that all hold: at least that many pieces of information the controller already
    holds, among them every required one (identity names such as ``email``).

    Example:
        >>> rules = IdentityVerification(min_pieces=2, required_pieces=["email"])
        >>> rules.min_pieces, rules.required_pieces, rules.methods
        (2, ('email',), ())
    """

    required: bool = True
    methods: tuple[
        Literal["account_login", "account_email", "verification_code", "extra_proof"], ...
    ] = Field(default=(), description="Ways of checking identity; any one of them will do")
    extra_proof_may_be_required: bool = False
    min_pieces: int | None = Field(
        default=None,
        ge=1,
        description="How many pieces of information already held the requester must match",
    )
    required_pieces: tuple[Annotated[str, Field(pattern=_PIECE)], ...] = Field(
        default=(), description="Pieces of information that must be among them (e.g. email)"
    )
    agents: AgentRules | None = Field(
        default=None, description="Whether authorised agents may ask, and with what proof"
    )
    description: LocalizedText | None = None


class Requests(Model):
    """How data requests are made."""

    channels: tuple[RequestChannel, ...] = Field(min_length=1)
    identity: IdentityVerification | None = Field(
        default=None, description="How identity is checked; absent: the policy promises nothing"
    )
    respond_within: Duration | None = Field(
        default=None,
        description="The policy's own reply deadline, used when no listed law governs the requester",
    )
    automated_tools: bool = False
    free_of_charge: bool | None = Field(
        default=None,
        description="Whether requests are free (false: a reasonable fee may be charged); "
        "absent: the policy says nothing about a fee",
    )
    description: LocalizedText | None = None


class RightOffer(Model):
    """A right the policy offers: where it applies, how to use it, and when it may be refused."""

    right: Right
    jurisdictions: tuple[str, ...] = Field(default=(), description="Empty means all the policy's")
    subjects: tuple[str, ...] = Field(default=(), description="Empty means all")
    channels: tuple[str, ...] = Field(
        default=(), description="Request channel keys; empty means all"
    )
    description: LocalizedText
    refusal_reasons: tuple[RefusalReason, ...] = ()
    format: LocalizedText | None = Field(
        default=None, description="For access/portability: the format given, as text people read"
    )


class AutomatedDecisions(Model):
    """Whether decisions with legal or similarly significant effects are made by solely
    automated means (GDPR Art. 13(2)(f), 22), and if so, the logic involved.

    Example:
        >>> AutomatedDecisions(used=False, description={"en": "A person reviews every decision."}).used
        False
    """

    used: bool
    description: LocalizedText
    logic: LocalizedText | None = Field(
        default=None, description="Meaningful information about the logic involved (when used)"
    )


class BreachPromise(Model):
    """The policy's promise about breaches: whom it tells, within how long, about what."""

    notify_within: Duration
    notify: tuple[str, ...] = Field(
        default=(), description="Subject kinds told; empty: those affected, of any kind"
    )
    triggers: tuple[Literal["breach", "misconfiguration", "unauthorised_access"], ...] = ("breach",)
    from_awareness: bool | None = Field(
        default=None,
        description="The time counts from becoming aware (true) or from the incident (false); "
        "absent: the policy does not say (assessments count from awareness, and say so)",
    )
    channels: tuple[Literal["email", "in_service", "website", "phone"], ...] = Field(
        default=(), description="How people are told; empty: the notice names no channel"
    )
    description: LocalizedText


class Children(Model):
    """The minimum age and the promise about children's data."""

    minimum_age: int = Field(ge=0, le=21)
    knowingly_collects: bool | None = Field(
        default=None,
        description="Whether children's data is knowingly collected; absent: no statement",
    )
    description: LocalizedText


class Communication(Model):
    """A kind of message the service sends.

    ``channel`` and ``unsubscribe_link`` are statements the policy makes or not: absent, the
    notice names no channel and says nothing about unsubscribing.

    Example:
        >>> c = Communication(key="news", kind="promotional", purpose="marketing.email",
        ...                   description="News.")
        >>> c.channel, c.unsubscribe_link
        (None, None)
    """

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: CommunicationKind
    purpose: str
    channel: Literal["email", "sms", "push", "in_service"] | None = Field(
        default=None, description="How the messages are sent; absent: the notice names none"
    )
    unsubscribe_link: bool | None = Field(
        default=None,
        description="Whether every message has an unsubscribe link; absent: no statement",
    )
    description: LocalizedText


class ChangePolicy(Model):
    """How policy changes are published and announced."""

    posted_at: str | None = Field(default=None, description="Where changes are posted (a URL)")
    material: tuple[ChangeKind, ...] = Field(
        default=(
            ChangeKind.CATEGORY_ADDED,
            ChangeKind.PURPOSE_ADDED,
            ChangeKind.RECIPIENT_ADDED,
            ChangeKind.RETENTION_LENGTHENED,
            ChangeKind.RIGHT_REMOVED,
            ChangeKind.TRANSFER_ADDED,
            ChangeKind.MINIMUM_AGE_CHANGED,
            # Promises weakened:
            ChangeKind.SIGNAL_WEAKENED,
            ChangeKind.NOT_COLLECTED_REMOVED,
            ChangeKind.IDENTITY_WEAKENED,
            ChangeKind.DISCLOSURE_CONDITION_WEAKENED,
            ChangeKind.AUTOMATED_DECISIONS_WEAKENED,
            ChangeKind.BACKUP_LENGTHENED,
        ),
        description="Changes that count as material (significant)",
    )
    notify_channels: tuple[Literal["email", "in_service", "website"], ...] = Field(
        default=(),
        description="How significant changes are announced; empty: the notice names none",
    )
    notice_period: Duration | None = None
    prior_versions_available: bool = Field(
        default=False, description="Earlier versions are kept and given on request (a promise)"
    )
    description: LocalizedText
