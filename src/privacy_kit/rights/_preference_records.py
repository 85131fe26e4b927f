"""The values behind subjects' choices: the Art. 18(1) :class:`RestrictionGround`, a
:class:`Decision` (allowed or refused, why, and under which article) and a
:class:`PreferenceRecord` (one objection, restriction or opt-out of one subject, with the time it
took effect and, once lifted, the time it ended), plus the small helpers that the registry
(:mod:`._preferences`), its snapshots (:mod:`._preference_store`) and the unsubscribe tokens
(:mod:`._unsubscribe`) share.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Literal

import attrs

from .._types import require_aware

__all__ = ["Decision", "PreferenceRecord", "RestrictionGround"]

RecordKind = Literal["objection", "compelling_grounds", "restriction", "opt_out", "sale_opt_out"]
_KINDS: tuple[str, ...] = (
    "objection",
    "compelling_grounds",
    "restriction",
    "opt_out",
    "sale_opt_out",
)


class RestrictionGround(enum.StrEnum):
    """The grounds of GDPR Art. 18(1) on which a subject may obtain restriction."""

    ACCURACY_CONTESTED = "accuracy_contested"
    """Art. 18(1)(a): for the time needed to check the data's accuracy."""
    UNLAWFUL_PROCESSING = "unlawful_processing"
    """Art. 18(1)(b): processing is unlawful and the subject prefers restriction to erasure."""
    LEGAL_CLAIMS = "legal_claims"
    """Art. 18(1)(c): the controller no longer needs the data but the subject needs it for legal claims."""
    OBJECTION_PENDING = "objection_pending"
    """Art. 18(1)(d): an objection is pending the check of the controller's grounds."""

    @property
    def citation(self) -> str:
        """The article of this ground."""
        letter = "abcd"[list(RestrictionGround).index(self)]
        return f"GDPR Art. 18(1)({letter})"


@attrs.frozen
class Decision:
    """Whether something may be done, why, and the article behind the answer.

    A decision is truthy when allowed.

    Example:
        >>> d = Decision(False, "objected to direct marketing", "GDPR Art. 21(3)")
        >>> bool(d), str(d)
        (False, 'refused: objected to direct marketing (GDPR Art. 21(3))')
    """

    allowed: bool
    reason: str
    citation: str | None = None

    def __bool__(self) -> bool:
        return self.allowed

    def __str__(self) -> str:
        verdict = "allowed" if self.allowed else "refused"
        cite = f" ({self.citation})" if self.citation else ""
        return f"{verdict}: {self.reason}{cite}"


def _allow(reason: str, citation: str | None = None) -> Decision:
    return Decision(allowed=True, reason=reason, citation=citation)


def _refuse(reason: str, citation: str | None = None) -> Decision:
    return Decision(allowed=False, reason=reason, citation=citation)


def _to_utc(value: dt.datetime, name: str) -> dt.datetime:
    return require_aware(value, name).astimezone(dt.UTC)


@attrs.frozen
class PreferenceRecord:
    """One recorded choice of one subject.

    Attributes:
        subject: the subject's reference.
        kind: ``objection``, ``compelling_grounds``, ``restriction``, ``opt_out`` or ``sale_opt_out``.
        key: the purpose key, restriction ground, communication key (or ``kind:promotional``),
            or ``sale``.
        at: when it took effect (UTC).
        ended_at: when it was lifted or withdrawn (UTC), or ``None``.
        note: free text (an objection's stated grounds, the controller's compelling grounds, ...).
        source: where it came from (``request``, ``unsubscribe``, ``gpc``, ...).
    """

    subject: str
    kind: str
    key: str
    at: dt.datetime
    ended_at: dt.datetime | None = None
    note: str | None = None
    source: str | None = None

    def active(self, now: dt.datetime) -> bool:
        """Whether it is in effect at ``now``."""
        return self.at <= now and (self.ended_at is None or self.ended_at > now)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "subject": self.subject,
            "kind": self.kind,
            "key": self.key,
            "at": self.at.isoformat(),
            "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
            "note": self.note,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str) -> PreferenceRecord:
        """Parse :meth:`to_dict` output; ``ValueError`` naming ``where`` and the bad field."""
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
        try:
            kind = data["kind"]
            if kind not in _KINDS:
                raise ValueError(f"kind {kind!r} is not one of {', '.join(_KINDS)}")
            for name in ("subject", "key"):
                if not isinstance(data[name], str) or not data[name]:
                    raise ValueError(f"{name} must be a non-empty string")
            at = _to_utc(dt.datetime.fromisoformat(data["at"]), "at")
            ended = data.get("ended_at")
            ended_at = (
                None if ended is None else _to_utc(dt.datetime.fromisoformat(ended), "ended_at")
            )
        except KeyError as exc:
            raise ValueError(f"{where}: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        return cls(
            subject=data["subject"],
            kind=kind,
            key=data["key"],
            at=at,
            ended_at=ended_at,
            note=data.get("note"),
            source=data.get("source"),
        )


def _covers(objected: str, purpose: str) -> bool:
    """An objection to ``marketing`` covers ``marketing.email`` (dotted purpose keys)."""
    return purpose == objected or purpose.startswith(objected + ".")
