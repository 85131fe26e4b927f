"""Identity verification before a data-subject request is acted on.

A :class:`Verifier` issues a challenge for a subject and later checks the answer. The built-in
:class:`CodeVerifier` sends (through the host) a short numeric code and hands back a signed
challenge id; the code is derived from the challenge with HMAC-SHA256, so nothing secret is
stored, while the state remembers attempts and used challenges so that each code works once,
expires, and locks after too many wrong tries. The state is per instance, or kept in a
:class:`~privacy_kit.audit.StateStore` (collection ``verification``) so that a code issued in one
process is checked in another, and works once across all of them. A challenge is found by its id
(a dictionary or store key), never by scanning the others. Codes are compared in constant time.
Time is always an argument.

:func:`identity_check` holds a verification to the policy's own rules (``requests.identity``):
how many pieces of information already held were matched, which ones must be among them, and
whether an authorised agent may ask and with which proof; what is missing is named, never waived.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import heapq
import hmac
import secrets
import threading
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

import attrs
import orjson

from .._errors import ConfigurationError, RequestError, VerificationError, WrongTypeError
from .._types import Duration, require_aware
from ..audit._state import StateStore
from ..model._policy_rights import AgentProof, IdentityVerification
from ._request_states import IdentityCheck

__all__ = ["Challenge", "CodeVerifier", "Verifier", "identity_check"]


def _names(values: object, what: str) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise WrongTypeError(f"{what} must be a list of names, got {type(values).__name__}")
    out: list[str] = []
    for v in values:
        if not isinstance(v, str) or not v.strip():
            raise WrongTypeError(f"{what} must be non-empty names, got {v!r}")
        out.append(v.strip())
    return tuple(dict.fromkeys(out))


def identity_check(
    rules: IdentityVerification | None,
    *,
    pieces: Iterable[str] = (),
    proofs: Iterable[AgentProof | str] = (),
    by_agent: bool = False,
) -> IdentityCheck:
    """Check a verification against the policy's identity rules; return what was checked.

    Args:
        rules: the policy's ``requests.identity`` (``None``: the policy declares no rule, and
            the check says so in ``rules_declared``).
        pieces: the names of the pieces of information already held that the requester matched
            (``email``, ``phone``, ``last_invoice``...).
        proofs: what an authorised agent showed (:class:`~privacy_kit.AgentProof` values).
        by_agent: whether an authorised agent made the request.

    Raises:
        RequestError: naming everything missing: fewer pieces than ``min_pieces``, a required
            piece not among them, an agent request when agents are not allowed (or not
            declared), or an agent without every declared proof.

    Example:
        >>> rules = IdentityVerification(min_pieces=2, required_pieces=["email"])
        >>> identity_check(rules, pieces=["email", "phone"]).pieces
        ('email', 'phone')
        >>> identity_check(rules, pieces=["phone"])
        Traceback (most recent call last):
        ...
        privacy_kit._errors.RequestError: identity not verified under the policy's rules: 1 piece(s) of information checked (phone), at least 2 required; required piece(s) not checked: email
    """
    checked = _names(pieces, "pieces")
    shown = _names(proofs, "proofs")
    try:
        proof_values = tuple(AgentProof(p) for p in shown)
    except ValueError:
        known = ", ".join(p.value for p in AgentProof)
        raise RequestError(f"unknown agent proof in {list(shown)}; known: {known}") from None
    missing: list[str] = []
    if rules is not None and rules.min_pieces is not None and len(checked) < rules.min_pieces:
        listed = f" ({', '.join(checked)})" if checked else ""
        missing.append(
            f"{len(checked)} piece(s) of information checked{listed}, at least "
            f"{rules.min_pieces} required"
        )
    if rules is not None:
        absent = [p for p in rules.required_pieces if p not in checked]
        if absent:
            missing.append(f"required piece(s) not checked: {', '.join(absent)}")
    if by_agent:
        agents = rules.agents if rules is not None else None
        if agents is None or not agents.allowed:
            missing.append(
                "the request was made by an authorised agent, but the policy "
                + ("does not allow agents" if agents is not None else "declares no agent rules")
            )
        else:
            lacking = [p.value for p in agents.proof if p not in proof_values]
            if lacking:
                missing.append(f"the agent has not shown: {', '.join(lacking)}")
    elif proof_values:
        missing.append("agent proof was given for a request not made by an agent")
    if missing:
        raise RequestError("identity not verified under the policy's rules: " + "; ".join(missing))
    return IdentityCheck(
        pieces=checked,
        proofs=proof_values,
        by_agent=by_agent,
        rules_declared=rules is not None,
    )


@attrs.frozen
class Challenge:
    """What :meth:`CodeVerifier.issue` returns.

    Attributes:
        challenge_id: the signed id to keep with the request (not secret).
        code: the code to send to the subject out of band (never log or store it).
        expires_at: when the code stops working.
    """

    challenge_id: str
    code: str = attrs.field(repr=False)
    expires_at: dt.datetime


@runtime_checkable
class Verifier(Protocol):
    """Issues a challenge for a subject and checks the answer."""

    def issue(self, subject_ref: str, *, now: dt.datetime) -> Challenge:
        """Start a verification for ``subject_ref``."""

    def check(self, challenge_id: str, answer: str, *, now: dt.datetime) -> str:
        """Return the verified subject reference, or raise :class:`VerificationError`."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


VERIFICATION = "verification"
"""The state store collection of the challenges (key: a hash of the challenge)."""
_FORGET_AFTER = dt.timedelta(days=1)
"""Challenges are forgotten a day after they expired: they then fail as expired on signature alone."""


class CodeVerifier:
    """Signed, expiring, single-use numeric codes with limited attempts.

    Args:
        secret: at least 16 bytes.
        ttl: how long a code is valid (15 minutes by default).
        max_attempts: wrong answers allowed before the challenge locks (5 by default).
        digits: code length, 6 to 8.
        state: a :class:`~privacy_kit.audit.StateStore` to keep the challenges in (see
            :meth:`shared`); ``None`` keeps them in this instance.

    Raises:
        ConfigurationError: a short secret, ``max_attempts < 1`` or ``digits`` outside 6-8.
        WrongTypeError: a secret that is not bytes or a ttl that is not a Duration.

    Example:
        >>> v = CodeVerifier(b"k" * 32, max_attempts=2)
        >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        >>> c = v.issue("subj_1", now=now)
        >>> len(c.code)
        6
        >>> v.check(c.challenge_id, c.code, now=now)
        'subj_1'
        >>> v.check(c.challenge_id, c.code, now=now)
        Traceback (most recent call last):
        ...
        privacy_kit._errors.VerificationError: reused: this code was already used
    """

    def __init__(
        self,
        secret: bytes,
        *,
        ttl: Duration = Duration(minutes=15),  # noqa: B008 - Duration is frozen, a safe default
        max_attempts: int = 5,
        digits: int = 6,
        state: StateStore | None = None,
    ) -> None:
        if not isinstance(secret, bytes):
            raise WrongTypeError(f"secret must be bytes, got {type(secret).__name__}")
        if not isinstance(ttl, Duration):
            raise WrongTypeError(f"ttl must be a Duration, got {type(ttl).__name__}")
        if len(secret) < 16:
            raise ConfigurationError("secret must be at least 16 bytes")
        if max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be at least 1, got {max_attempts}")
        if not 6 <= digits <= 8:
            raise ConfigurationError(f"digits must be between 6 and 8, got {digits}")
        if ttl.is_zero():
            raise ConfigurationError("ttl must be longer than zero")
        self._secret = secret
        self.ttl = ttl
        self.max_attempts = max_attempts
        self.digits = digits
        self.state = state
        self._states: dict[str, dict[str, Any]] = {}  # challenge key -> its state
        self._expiry: list[tuple[dt.datetime, str]] = []  # a heap: the next to forget first
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, store: StateStore, **options: Any) -> CodeVerifier:
        """A verifier whose challenges live in ``store``, keyed with the store's ``verification``
        secret: every process sharing the store checks the codes any of them issued, each code
        works once across all of them (an atomic ``update`` marks it used), and wrong attempts
        are counted across all of them.

        Example:
            >>> from privacy_kit.audit import MemoryStateStore
            >>> store, now = MemoryStateStore(), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            >>> c = CodeVerifier.shared(store).issue("subj_1", now=now)
            >>> CodeVerifier.shared(store).check(c.challenge_id, c.code, now=now)
            'subj_1'
            >>> CodeVerifier.shared(store).check(c.challenge_id, c.code, now=now)
            Traceback (most recent call last):
            ...
            privacy_kit._errors.VerificationError: reused: this code was already used
        """
        return cls(store.secret("verification"), state=store, **options)

    @staticmethod
    def _key(body: str) -> str:
        return hashlib.sha256(body.encode()).hexdigest()[:32]

    def _mac(self, purpose: bytes, body: str) -> bytes:
        return hmac.new(self._secret, purpose + b"\x00" + body.encode(), hashlib.sha256).digest()

    def _code(self, body: str) -> str:
        number = int.from_bytes(self._mac(b"code", body)[:8], "big") % 10**self.digits
        return f"{number:0{self.digits}d}"

    def issue(self, subject_ref: str, *, now: dt.datetime) -> Challenge:
        """Issue a challenge: keep ``challenge_id`` with the request, send ``code`` to the subject."""
        at = require_aware(now).astimezone(dt.UTC)
        if not isinstance(subject_ref, str):
            raise WrongTypeError(
                f"subject_ref must be a string, got {type(subject_ref).__name__} {subject_ref!r}"
            )
        if not subject_ref:
            raise ConfigurationError("subject_ref must not be empty")
        expires = self.ttl.after(at)
        payload = {"n": _b64(secrets.token_bytes(12)), "s": subject_ref, "e": expires.timestamp()}
        body = _b64(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS))
        challenge_id = f"{body}.{_b64(self._mac(b'challenge', body))}"
        key, state = (
            self._key(body),
            {"attempts": 0, "used": False, "expires_at": expires.isoformat()},
        )
        if self.state is not None:
            self.state.put(VERIFICATION, key, state, if_absent=True)
        else:
            with self._lock:
                self._forget(at)
                self._states[key] = state
                heapq.heappush(self._expiry, (expires, key))
        return Challenge(challenge_id, self._code(body), expires)

    def _forget(self, at: dt.datetime) -> int:
        # The heap gives the challenge that expired first: only those to forget are touched.
        count = 0
        while self._expiry and self._expiry[0][0] + _FORGET_AFTER < at:
            _expires, key = heapq.heappop(self._expiry)
            count += self._states.pop(key, None) is not None
        return count

    def purge(self, *, now: dt.datetime) -> int:
        """Forget the challenges that expired more than a day before ``now``; return how many.

        An instance does this itself as it issues codes; with a state store, run it from a
        periodic job (it reads every stored challenge). A forgotten challenge still fails, as
        ``expired``, on its signature alone.

        Example:
            >>> v, now = CodeVerifier(b"k" * 32), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            >>> _ = v.issue("subj_1", now=now)
            >>> v.purge(now=now), v.purge(now=now + dt.timedelta(days=2))
            (0, 1)
        """
        at = require_aware(now).astimezone(dt.UTC)
        if self.state is None:
            with self._lock:
                return self._forget(at)
        count = 0
        for found in self.state.items(VERIFICATION):
            expires = dt.datetime.fromisoformat(found.document["expires_at"])
            if expires + _FORGET_AFTER < at:
                count += self.state.delete(VERIFICATION, found.key, if_version=found.version)
        return count

    def check(self, challenge_id: str, answer: str, *, now: dt.datetime) -> str:
        """Check ``answer`` for ``challenge_id``; return the subject reference it was issued for.

        The answer must be the code as a string (``"042137"``): a number would lose leading
        zeros, so an ``int``, ``bytes`` or ``None`` is refused as ``malformed`` without touching
        the challenge (it is neither a success nor a counted attempt).

        Raises:
            VerificationError: starting with ``malformed``, ``tampered``, ``locked``, ``reused``,
                ``expired`` or ``wrong`` (with the attempts left), saying why.

        Example:
            >>> v = CodeVerifier(b"k" * 32)
            >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            >>> c = v.issue("subj_1", now=now)
            >>> v.check(c.challenge_id, int(c.code), now=now)
            Traceback (most recent call last):
            ...
            privacy_kit._errors.VerificationError: malformed: the code must be a string such as '042137', got int
            >>> v.check(c.challenge_id, c.code, now=now)
            'subj_1'
        """
        at = require_aware(now).astimezone(dt.UTC)
        if not isinstance(challenge_id, str):
            raise VerificationError(
                f"malformed: the challenge id must be a string, got {type(challenge_id).__name__}"
            )
        if not isinstance(answer, str):
            raise VerificationError(
                "malformed: the code must be a string such as '042137', "
                f"got {type(answer).__name__}"
            )
        if challenge_id.count(".") != 1:
            raise VerificationError("malformed: not a challenge id")
        body, signature = challenge_id.split(".")
        expected = _b64(self._mac(b"challenge", body))
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise VerificationError("tampered: the challenge id's signature does not match")
        try:
            payload = orjson.loads(_unb64(body))
            subject_ref = payload["s"]
            expires = dt.datetime.fromtimestamp(payload["e"], dt.UTC)
            if not isinstance(subject_ref, str):
                raise TypeError(subject_ref)
        except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise VerificationError("malformed: the challenge payload is unreadable") from None
        wrong: list[str] = []

        def attempt(state: dict[str, Any] | None) -> dict[str, Any]:
            wrong.clear()  # a store may call this again: the last call is the one kept
            if state is None:
                # Signed by us but unknown: forgotten, or issued by another verifier.
                if at >= expires:
                    raise VerificationError(f"expired: the code expired at {expires.isoformat()}")
                raise VerificationError(
                    "unknown: this challenge was not issued by this verifier (state is per "
                    "instance: see CodeVerifier.shared)"
                    if self.state is None
                    else "unknown: this challenge is not in the state store"
                )
            if state["used"]:
                raise VerificationError("reused: this code was already used")
            if state["attempts"] >= self.max_attempts:
                raise VerificationError(
                    f"locked: too many wrong attempts ({state['attempts']} of {self.max_attempts})"
                )
            if at >= expires:
                raise VerificationError(f"expired: the code expired at {expires.isoformat()}")
            if hmac.compare_digest(self._code(body).encode(), answer.strip().encode()):
                return {**state, "used": True}
            left = self.max_attempts - state["attempts"] - 1
            wrong.append(
                "wrong: the code does not match; the challenge is now locked"
                if left == 0
                else f"wrong: the code does not match ({left} attempt(s) left)"
            )
            return {**state, "attempts": state["attempts"] + 1}

        key = self._key(body)
        if self.state is not None:
            self.state.update(VERIFICATION, key, attempt)
        else:
            with self._lock:
                if key in self._states:
                    self._states[key] = attempt(self._states[key])
                else:
                    attempt(None)
        if wrong:
            raise VerificationError(wrong[0])
        return subject_ref
