"""Identity verification before a data-subject request is acted on.

A :class:`Verifier` issues a challenge for a subject and later checks the answer. The built-in
:class:`CodeVerifier` sends (through the host) a short numeric code and hands back a signed
challenge id; the code is derived from the challenge with HMAC-SHA256, so nothing secret is
stored, while the per-instance state remembers attempts and used challenges so that each code
works once, expires, and locks after too many wrong tries. Codes are compared in constant time.
Time is always an argument.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
import threading
from typing import Protocol, runtime_checkable

import attrs
import orjson

from .._errors import ConfigurationError, VerificationError, WrongTypeError
from .._types import Duration, require_aware

__all__ = ["Challenge", "CodeVerifier", "Verifier"]


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


@attrs.define
class _State:
    attempts: int = 0
    used: bool = False
    expires_at: dt.datetime | None = None


class CodeVerifier:
    """Signed, expiring, single-use numeric codes with limited attempts.

    Args:
        secret: at least 16 bytes.
        ttl: how long a code is valid (15 minutes by default).
        max_attempts: wrong answers allowed before the challenge locks (5 by default).
        digits: code length, 6 to 8.

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
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()

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
        with self._lock:
            self._purge(at)
            self._states[body] = _State(expires_at=expires)
        return Challenge(challenge_id, self._code(body), expires)

    def _purge(self, at: dt.datetime) -> None:
        # Forget challenges a day after they expired: they fail as "expired" on signature alone.
        stale = [
            k
            for k, s in self._states.items()
            if s.expires_at is not None and s.expires_at + dt.timedelta(days=1) < at
        ]
        for key in stale:
            del self._states[key]

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
        with self._lock:
            state = self._states.get(body)
            if state is None:
                # Signed by us but unknown to this instance: issued elsewhere or forgotten.
                if at >= expires:
                    raise VerificationError(f"expired: the code expired at {expires.isoformat()}")
                raise VerificationError(
                    "unknown: this challenge was not issued by this verifier (state is per instance)"
                )
            if state.used:
                raise VerificationError("reused: this code was already used")
            if state.attempts >= self.max_attempts:
                raise VerificationError(
                    f"locked: too many wrong attempts ({state.attempts} of {self.max_attempts})"
                )
            if at >= expires:
                raise VerificationError(f"expired: the code expired at {expires.isoformat()}")
            if not hmac.compare_digest(self._code(body).encode(), answer.strip().encode()):
                state.attempts += 1
                left = self.max_attempts - state.attempts
                if left == 0:
                    raise VerificationError(
                        "wrong: the code does not match; the challenge is now locked"
                    )
                raise VerificationError(f"wrong: the code does not match ({left} attempt(s) left)")
            state.used = True
        return subject_ref
