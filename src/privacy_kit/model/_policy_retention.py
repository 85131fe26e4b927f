"""The policy's retention section: how long each set of categories is kept, from which trigger,
what happens when the time is up, the range within which a customer may set their own retention,
and the exceptions that keep data longer, as the frozen pydantic models a
:class:`~privacy_kit.model.Policy` holds in its ``retention`` rules.

``duration: forever`` (on a rule or an exception) is kept at the model level: the ``duration``
stays a :class:`~privacy_kit.Duration` or ``None`` everywhere, and ``indefinite`` says that the
data is never expired. A document written back (``model_dump``) says ``duration: forever`` again.
"""

import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pydantic import (
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic import model_validator as _model_validator

from .._errors import Problem
from .._types import Duration, LocalizedText, Model

__all__ = [
    "FOREVER",
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
    BLIND = "blind"
    """Anonymise only the fields holding the rule's ``blind`` categories; keep the rest."""


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


FOREVER = "forever"
"""The ``duration`` that never ends: the data is kept indefinitely (a ``reason`` is required)."""

# Exception kinds the engine can keep "while the reason lasts" (no duration): legal claims through
# legal holds, shared content through the collaborators' own records. Any other reason needs an end.
OPEN_ENDED_KINDS = frozenset({ExceptionKind.LEGAL_CLAIMS, ExceptionKind.SHARED_CONTENT})


def _read_forever(data: Any) -> Any:
    """``duration: forever`` in the input becomes ``indefinite: true`` with no duration."""
    if isinstance(data, Mapping):
        if "indefinite" in data:
            # One way to say it: the field exists for the model's own use, never in documents.
            raise ValueError("write 'duration: forever' to keep data indefinitely")
        duration = data.get("duration")
        if isinstance(duration, str) and duration.strip().lower() == FOREVER:
            data = {**data, "duration": None, "indefinite": True}
    return data


def _hide_indefinite(schema: dict[str, Any]) -> None:
    """The JSON Schema shows ``duration: forever``, never the model's own ``indefinite`` flag."""
    schema.get("properties", {}).pop("indefinite", None)


_CONFIG = ConfigDict(**Model.model_config, json_schema_extra=_hide_indefinite)


def _write_forever(
    model: Any, handler: SerializerFunctionWrapHandler, info: SerializationInfo
) -> Any:
    out = handler(model)
    if isinstance(out, dict):
        indefinite = out.pop("indefinite", False)
        if indefinite:
            out["duration"] = FOREVER
    return out


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
    """A reason to keep data past its rule, with how long.

    ``duration: forever`` keeps the covered data indefinitely; no duration means "while the reason
    lasts", which only ``legal_claims`` (enforced through legal holds) and ``shared_content`` may
    say.

    Example:
        >>> e = RetentionException(kind="archiving", reason="Spam defence", duration="forever")
        >>> e.indefinite, e.duration, e.model_dump(mode="json")["duration"]
        (True, None, 'forever')
    """

    model_config = _CONFIG

    kind: ExceptionKind
    reason: LocalizedText
    duration: Duration | None = Field(
        default=None, description="How long past the rule, or 'forever' (kept indefinitely)"
    )
    categories: tuple[str, ...] = Field(default=(), description="Empty means the rule's categories")
    citation: str | None = None
    indefinite: bool = Field(
        default=False, description="Set by 'duration: forever'; never written in a document"
    )

    @_model_validator(mode="before")
    @classmethod
    def _forever_in(cls, data: Any) -> Any:
        return _read_forever(data)

    @model_serializer(mode="wrap")
    def _forever_out(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        return _write_forever(self, handler, info)


class RetentionRule(Model):
    """How long a set of categories is kept, from what trigger, and what happens then.

    ``duration`` is counted from ``trigger``; leave it out for "until the trigger" (e.g. for the
    life of the account: trigger ``account_closed``, no duration).
    """

    model_config = _CONFIG

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: LocalizedText
    categories: tuple[str, ...] = Field(min_length=1)
    trigger: Trigger
    event: LocalizedText | None = Field(
        default=None,
        description="The event in words ('the order is delivered') when the rule's trigger, or its "
        "override's, is 'event'; notices say it instead of a generic phrase",
    )
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
    reason: LocalizedText | None = Field(
        default=None, description="Why the data is kept (required with duration: forever)"
    )
    blind: tuple[str, ...] = Field(
        default=(), description="action: blind: the categories whose fields are anonymised"
    )
    indefinite: bool = Field(
        default=False, description="Set by 'duration: forever'; never written in a document"
    )

    @_model_validator(mode="before")
    @classmethod
    def _forever_in(cls, data: Any) -> Any:
        return _read_forever(data)

    @model_serializer(mode="wrap")
    def _forever_out(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        return _write_forever(self, handler, info)

    @property
    def effective_duration(self) -> Duration:
        """The duration, ``P0D`` when the rule ends at its trigger (or is kept indefinitely)."""
        return self.duration or Duration()

    @property
    def indefinite_exceptions(self) -> tuple[RetentionException, ...]:
        """The exceptions that keep (some of) the rule's data forever."""
        return tuple(e for e in self.exceptions if e.indefinite)


def retention_r1_problems(
    rules: Sequence[RetentionRule], category: Callable[[str, str], None]
) -> Iterator[Problem]:
    """Located problems of indefinite retention, open-ended exceptions and ``blind`` rules.

    ``category(location, key)`` checks a category reference (the policy's reference checker).
    """
    for i, rule in enumerate(rules):
        where = f"retention[{i}]"
        if rule.indefinite:
            if rule.reason is None:
                yield Problem(
                    f"{where}.reason",
                    "a rule kept forever needs a reason: say why the data is kept indefinitely",
                )
            if rule.override is not None:
                yield Problem(
                    f"{where}.override",
                    "a rule kept forever cannot offer a customer setting; give the rule a duration",
                )
            if rule.action is not RetentionAction.DELETE:
                yield Problem(
                    f"{where}.action",
                    f"a rule kept forever never reaches its action ({rule.action.value}); "
                    "leave the action out or give the rule a duration",
                )
        if rule.action is RetentionAction.BLIND:
            if not rule.blind:
                yield Problem(
                    f"{where}.blind",
                    "action: blind needs 'blind': the categories whose fields are anonymised",
                )
            for j, key in enumerate(rule.blind):
                category(f"{where}.blind[{j}]", key)
        elif rule.blind:
            yield Problem(
                f"{where}.blind",
                f"'blind' lists categories only for action: blind (this rule's action is "
                f"{rule.action.value})",
            )
        for j, kept in enumerate(rule.exceptions):
            if kept.duration is None and not kept.indefinite and kept.kind not in OPEN_ENDED_KINDS:
                yield Problem(
                    f"{where}.exceptions[{j}].duration",
                    f"a {kept.kind.value} exception needs a duration: give a duration or "
                    "'forever' (only legal_claims, kept through legal holds, and shared_content "
                    "may last while the reason lasts)",
                )
