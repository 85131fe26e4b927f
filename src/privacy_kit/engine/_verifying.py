"""The engine's identity verification: a challenge issued to a subject, the answer checked, audited.

:class:`Verifying` is a base of :class:`~privacy_kit.Engine`. It names the subject by its keyed
reference, asks the engine's :attr:`~privacy_kit.Engine.verifier` (a
:class:`~privacy_kit.CodeVerifier` by default, in the state store when the engine has one) and
records each step in the audit log: ``verification.issued``, ``verification.passed`` and
``verification.failed`` (with the reason's first word: ``wrong``, ``expired``, ``locked``, ...),
never the code.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from .._errors import VerificationError
from ._collaborators import Collaborators

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from .._scope import Subject
    from ..rights._verification import Challenge

__all__ = ["Verifying"]


class Verifying(Collaborators):
    """Issue a verification challenge to a subject and check the answer (a base of the Engine)."""

    def reference(self, subject: Subject) -> str:  # pragma: no cover - the Engine defines it
        """The subject's keyed reference."""
        raise NotImplementedError

    def issue_challenge(self, subject: Subject, *, now: datetime.datetime) -> Challenge:
        """Start verifying ``subject``: a :class:`~privacy_kit.Challenge` whose ``code`` the host
        sends to the subject out of band (an e-mail, a text message) and whose ``challenge_id``
        it keeps; audited as ``verification.issued`` (the expiry, never the code).

        Example:
            >>> import datetime as dt, privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm,
            ...     InMemoryAdapter({rt.table_name: [] for rt in dm.record_types}),
            ...     secret=b"k" * 32)
            >>> ann, now = pk.Subject.of("customer", user_id=7), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            >>> challenge = engine.issue_challenge(ann, now=now)
            >>> engine.check_challenge(ann, challenge.challenge_id, challenge.code, now=now)
            'subj_...'
            >>> [e.action for e in engine.audit.entries()]
            ['verification.issued', 'verification.passed']
        """
        ref = self.reference(subject)
        challenge = self.verifier.issue(ref, now=now)
        self.audit.record(
            "verification.issued",
            now=now,
            subject=ref,
            details={"expires_at": challenge.expires_at.isoformat()},
        )
        return challenge

    def check_challenge(
        self, subject: Subject, challenge_id: str, answer: str, *, now: datetime.datetime
    ) -> str:
        """Check ``answer`` to the challenge issued to ``subject``; return its reference.

        The challenge must have been issued to this subject: a right code for a challenge
        issued to someone else is refused (``mismatch``), and is used up all the same. Audited
        as ``verification.passed``, or ``verification.failed`` with the reason's first word.

        Raises:
            VerificationError: starting with why: ``malformed``, ``tampered``, ``unknown``,
                ``reused``, ``locked``, ``expired``, ``wrong`` (with the attempts left) or
                ``mismatch``.

        Example:
            >>> import datetime as dt, privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm,
            ...     InMemoryAdapter({rt.table_name: [] for rt in dm.record_types}),
            ...     secret=b"k" * 32)
            >>> ann, now = pk.Subject.of("customer", user_id=7), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            >>> challenge = engine.issue_challenge(ann, now=now)
            >>> engine.check_challenge(pk.Subject.of("customer", user_id=8), challenge.challenge_id,
            ...                        challenge.code, now=now)
            Traceback (most recent call last):
            ...
            privacy_kit._errors.VerificationError: mismatch: the challenge was issued to another subject
            >>> [e.details for e in engine.audit.entries()][-1]
            {'reason': 'mismatch'}
        """
        ref = self.reference(subject)
        try:
            verified = self.verifier.check(challenge_id, answer, now=now)
            if verified != ref:
                raise VerificationError("mismatch: the challenge was issued to another subject")
        except VerificationError as exc:
            reason = str(exc).split(":", 1)[0]
            self.audit.record(
                "verification.failed", now=now, subject=ref, details={"reason": reason}
            )
            raise
        self.audit.record("verification.passed", now=now, subject=ref, details={})
        return ref
