"""The engine's methods for the subject's recorded choices: objections, restrictions, opt-outs
(a Global Privacy Control signal among them).

:class:`Choices` is a base of :class:`~privacy_kit.Engine`; it keeps these methods apart from the
engine's plumbing and its destructive operations. Each method names the subject by the keyed
reference, records the choice in the engine's :class:`~privacy_kit.Preferences` and audits it;
the decisions themselves (:meth:`may_process`, :meth:`may_send`) are made in
:mod:`privacy_kit.rights`.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from .._errors import ConfigurationError
from .._types import Duration, closest, require_aware, unknown_name
from ..model._policy import Policy
from ..model._policy_rights import Communication, CommunicationKind
from ._collaborators import Collaborators

if TYPE_CHECKING:  # pragma: no cover - for type checkers only (the engine imports them on use)
    from .._scope import Subject
    from ..interop.gpc import GpcDecision, Headers
    from ..rights._preference_records import Decision, PreferenceRecord, RestrictionGround

__all__ = ["Choices"]

# rights._unsubscribe.DEFAULT_UNSUBSCRIBE_TTL (a test checks they are equal), spelt out here so
# that making an Engine does not import the token code: it is imported when a token is made.
_UNSUBSCRIBE_TTL = Duration(days=90)


class Choices(Collaborators):
    """Objections, restrictions, opt-outs and unsubscribe links (a base of the Engine)."""

    policy: Policy
    secret: bytes

    def reference(self, subject: Subject) -> str:  # pragma: no cover - the Engine defines it
        """The subject's keyed reference."""
        raise NotImplementedError

    def communication(self, key: str) -> Communication:
        """The policy's communication ``key``; ``KeyError`` with a "did you mean" hint if unknown."""
        for communication in self.policy.communications:
            if communication.key == key:
                return communication
        known = [c.key for c in self.policy.communications]
        raise unknown_name("communication", key, known, list_known=not closest(key, known))

    def _promotional(self, key: str, what: str) -> Communication:
        communication = self.communication(key)
        if communication.kind is not CommunicationKind.PROMOTIONAL:
            raise ConfigurationError(
                f"{what}: {key!r} is a transactional communication, needed to run the service; "
                "only promotional communications can be opted out of"
            )
        return communication

    def object_to(
        self,
        subject: Subject,
        purpose_key: str,
        *,
        now: datetime.datetime,
        reason: str | None = None,
    ) -> PreferenceRecord:
        """Record the subject's objection to a purpose (and the purposes beneath it).

        Recorded in the audit log as ``objection.recorded`` (the purpose, never the reason's text).

        Raises:
            KeyError: an unknown purpose, with a "did you mean" hint.

        Example:
            >>> import datetime as dt
            >>> import privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> policy = pk.load_policy(pk.example_path())
            >>> datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> engine = pk.Engine(policy, datamap, InMemoryAdapter({rt.table_name: [] for rt in datamap.record_types}))
            >>> ann, now = pk.Subject.of("customer", user_id=7), dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
            >>> _ = engine.object_to(ann, "marketing.email", now=now)
            >>> engine.may_process(ann, "marketing.email", now=now).citation
            'GDPR Art. 21(3)'
            >>> [e.action for e in engine.audit.entries()]
            ['objection.recorded']
        """
        purpose = self.policy.vocabulary.purpose(purpose_key)
        ref = self.reference(subject)
        record = self.preferences.object_to(ref, purpose.key, now=now, reason=reason)
        self.audit.record(
            "objection.recorded",
            now=now,
            subject=ref,
            details={
                "purpose": purpose.key,
                "legal_basis": purpose.legal_basis.value,
                "direct_marketing": purpose.direct_marketing,
                "reason_given": reason is not None,
            },
        )
        return record

    def restrict(
        self, subject: Subject, *, ground: RestrictionGround | str, now: datetime.datetime
    ) -> PreferenceRecord:
        """Restrict processing of the subject's data (Art. 18); audited as ``restriction.recorded``."""
        ref = self.reference(subject)
        record = self.preferences.restrict(ref, ground=ground, now=now)
        self.audit.record(
            "restriction.recorded", now=now, subject=ref, details={"ground": record.key}
        )
        return record

    def lift_restriction(
        self,
        subject: Subject,
        *,
        now: datetime.datetime,
        ground: RestrictionGround | str | None = None,
    ) -> tuple[PreferenceRecord, ...]:
        """Lift the subject's restriction(s); audited as ``restriction.lifted``.

        Art. 18(3): tell the subject before lifting a restriction.
        """
        ref = self.reference(subject)
        lifted = self.preferences.lift_restriction(ref, now=now, ground=ground)
        self.audit.record(
            "restriction.lifted",
            now=now,
            subject=ref,
            details={"grounds": [r.key for r in lifted]},
        )
        return lifted

    def opt_out(
        self, subject: Subject, communication_key: str, *, now: datetime.datetime
    ) -> PreferenceRecord:
        """Opt the subject out of a promotional communication; audited as ``opt_out.recorded``.

        Raises:
            KeyError: an unknown communication, with a "did you mean" hint.
            ConfigurationError: a transactional communication (those cannot be opted out of).
        """
        communication = self._promotional(communication_key, "opt_out")
        ref = self.reference(subject)
        record = self.preferences.opt_out(ref, communication.key, now=now, source="request")
        self.audit.record(
            "opt_out.recorded",
            now=now,
            subject=ref,
            details={"communication": communication.key, "via": "request"},
        )
        return record

    def honour_gpc(
        self, subject: Subject, headers: Headers, *, country: str, now: datetime.datetime
    ) -> GpcDecision:
        """Act on a request's Global Privacy Control signal (``Sec-GPC: 1``) for ``subject``.

        What the signal means is :func:`~privacy_kit.interop.gpc.gpc_decision`'s answer under
        the law that governs a resident of ``country`` (``global``, the policy's promise alone,
        where no law in the table does) and the policy's ``signals`` promise. When it is an
        opt-out, the opt-out of sale or sharing is recorded in :attr:`preferences` (source
        ``gpc``) and audited as ``sale_opt_out.recorded``, once: a signal on every later request
        finds it in effect and records nothing more. When it is not one, nothing is recorded and
        the decision's ``reason`` says why.

        Args:
            subject: who made the request.
            headers: the request's headers (a mapping or ``(name, value)`` pairs).
            country: where the subject lives (ISO 3166: ``US-CA``, ``FR``).
            now: when.

        Raises:
            ConfigurationError: ``country`` is not an ISO 3166 code.

        Example:
            >>> import datetime as dt, privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm,
            ...     InMemoryAdapter({rt.table_name: [] for rt in dm.record_types}),
            ...     secret=b"k" * 32)
            >>> ann, now = pk.Subject.of("customer", user_id=7), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            >>> engine.honour_gpc(ann, {"Sec-GPC": "1"}, country="US-CA", now=now).opt_out
            True
            >>> engine.preferences.may_sell(engine.reference(ann), now=now).reason
            'opted out of sale or sharing (via gpc)'
            >>> engine.honour_gpc(ann, {"Sec-GPC": "1"}, country="FR", now=now).opt_out
            False
            >>> [e.action for e in engine.audit.entries()]
            ['sale_opt_out.recorded']
        """
        from ..interop.gpc import gpc_decision  # noqa: PLC0415 - on use
        from ..model._jurisdictions import GLOBAL, governing_jurisdiction  # noqa: PLC0415

        law = governing_jurisdiction(country)
        decision = gpc_decision(headers, law or GLOBAL, policy=self.policy)
        if not decision.opt_out:
            return decision
        ref = self.reference(subject)
        at = require_aware(now, "now").astimezone(datetime.UTC)
        if not self.preferences.may_sell(ref, now=at):
            # Already in effect (this signal's on an earlier request, or another's): nothing to
            # record. Two first signals at the same moment in two processes record one opt-out
            # (the store's update is atomic) and may audit it twice.
            return decision
        self.preferences.opt_out_of_sale(ref, now=at, source="gpc")
        self.audit.record(
            "sale_opt_out.recorded",
            now=at,
            subject=ref,
            details={
                "via": "gpc",
                "jurisdiction": decision.jurisdiction,
                "country": country.strip().upper(),
                "policy_conflict": decision.conflict,
            },
        )
        return decision

    def may_process(
        self, subject: Subject, purpose_key: str, *, now: datetime.datetime
    ) -> Decision:
        """May the subject's data be processed for ``purpose_key`` now? (objections, restrictions)

        Raises:
            KeyError: an unknown purpose, with a "did you mean" hint.
        """
        purpose = self.policy.vocabulary.purpose(purpose_key)
        return self.preferences.may_process(self.reference(subject), purpose, now=now)

    def may_send(
        self, subject: Subject, communication_key: str, *, now: datetime.datetime
    ) -> Decision:
        """May the communication be sent to the subject now? (opt-outs, objections, restrictions)

        Raises:
            KeyError: an unknown communication, with a "did you mean" hint.
        """
        communication = self.communication(communication_key)
        vocabulary = self.policy.vocabulary
        purpose = (
            vocabulary.purpose(communication.purpose)
            if vocabulary.has_purpose(communication.purpose)
            else None
        )
        return self.preferences.may_send(
            self.reference(subject), communication, now=now, purpose=purpose
        )

    def unsubscribe_token(
        self,
        subject: Subject,
        communication_key: str,
        *,
        now: datetime.datetime,
        ttl: Duration = _UNSUBSCRIBE_TTL,
    ) -> str:
        """A signed, expiring token for the unsubscribe link of a promotional message.

        It carries the subject's reference, not their address, and is signed with the engine's
        secret (so tokens survive a restart only if the secret is passed in).

        Raises:
            KeyError: an unknown communication.
            ConfigurationError: a transactional communication.
        """
        from ..rights._unsubscribe import make_unsubscribe_token  # noqa: PLC0415 - on use

        communication = self._promotional(communication_key, "unsubscribe_token")
        return make_unsubscribe_token(
            self.secret, self.reference(subject), communication.key, now=now, ttl=ttl
        )

    def unsubscribe(self, token: str, *, now: datetime.datetime) -> PreferenceRecord:
        """Act on an unsubscribe link: check the token, record the opt-out, audit it.

        Raises:
            VerificationError: a malformed, tampered or expired token (saying which).
            KeyError: the token names a communication the policy no longer has.
        """
        from ..rights._unsubscribe import read_unsubscribe_token  # noqa: PLC0415 - on use

        claim = read_unsubscribe_token(self.secret, token, now=now)
        communication = self._promotional(claim.communication_key, "unsubscribe")
        record = self.preferences.opt_out(
            claim.subject_ref, communication.key, now=now, source="unsubscribe"
        )
        self.audit.record(
            "opt_out.recorded",
            now=now,
            subject=claim.subject_ref,
            details={"communication": communication.key, "via": "unsubscribe_token"},
        )
        return record
