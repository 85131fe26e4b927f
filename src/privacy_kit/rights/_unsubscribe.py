"""Signed, expiring tokens for unsubscribe links: :func:`make_unsubscribe_token` makes
``base64url(payload).base64url(HMAC-SHA256(secret, payload))``, whose payload holds the subject's
*reference* (never an address), the communication key and the expiry, and
:func:`read_unsubscribe_token` checks one and says what it holds (an :class:`UnsubscribeToken`),
or why it is refused (malformed, tampered or expired).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac

import attrs
import orjson

from .._errors import ConfigurationError, VerificationError
from .._types import Duration
from ._preference_records import _to_utc

__all__ = ["UnsubscribeToken", "make_unsubscribe_token", "read_unsubscribe_token"]

_TOKEN_VERSION = 1
DEFAULT_UNSUBSCRIBE_TTL = Duration(days=90)


@attrs.frozen
class UnsubscribeToken:
    """What an unsubscribe token says: whose, for which communication, and its validity."""

    subject_ref: str
    communication_key: str
    issued_at: dt.datetime
    expires_at: dt.datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, b"unsubscribe\x00" + body.encode(), hashlib.sha256).digest())


def _check_secret(secret: bytes) -> None:
    if len(secret) < 16:
        raise ConfigurationError("secret must be at least 16 bytes")


def make_unsubscribe_token(
    secret: bytes,
    subject_ref: str,
    communication_key: str,
    *,
    now: dt.datetime,
    ttl: Duration = DEFAULT_UNSUBSCRIBE_TTL,
) -> str:
    """A signed, expiring token for an unsubscribe link.

    The token is ``base64url(payload).base64url(HMAC-SHA256(secret, payload))``; the payload
    holds the subject's *reference* (not an address), the communication key and the expiry.

    Args:
        secret: at least 16 bytes, kept by the host.
        subject_ref: the subject's reference.
        communication_key: the communication to stop.
        now: when the token is issued.
        ttl: how long it stays valid (90 days by default).

    Raises:
        ConfigurationError: a short secret.

    Example:
        >>> secret = b"s" * 32
        >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        >>> token = make_unsubscribe_token(secret, "subj_1", "newsletter", now=now)
        >>> read_unsubscribe_token(secret, token, now=now).communication_key
        'newsletter'
    """
    _check_secret(secret)
    issued = _to_utc(now, "now")
    expires = ttl.after(issued)
    payload = {
        "v": _TOKEN_VERSION,
        "s": subject_ref,
        "c": communication_key,
        "i": int(issued.timestamp()),
        "e": int(expires.timestamp()),
    }
    body = _b64(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS))
    return f"{body}.{_sign(secret, body)}"


def read_unsubscribe_token(secret: bytes, token: str, *, now: dt.datetime) -> UnsubscribeToken:
    """Check and decode a token made by :func:`make_unsubscribe_token`.

    Raises:
        VerificationError: ``malformed`` (not a token), ``tampered`` (the signature does not
            match: altered, or signed with another secret) or ``expired`` (saying when).

    Example:
        >>> secret = b"s" * 32
        >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        >>> token = make_unsubscribe_token(secret, "subj_1", "newsletter", now=now, ttl=Duration(days=1))
        >>> read_unsubscribe_token(secret, token, now=now + dt.timedelta(days=2))
        Traceback (most recent call last):
        ...
        privacy_kit._errors.VerificationError: expired: the unsubscribe token expired at 2026-01-02T00:00:00+00:00
    """
    _check_secret(secret)
    at = _to_utc(now, "now")
    if token.count(".") != 1:
        raise VerificationError("malformed: not an unsubscribe token")
    body, signature = token.split(".")
    if not hmac.compare_digest(_sign(secret, body).encode(), signature.encode("utf-8", "replace")):
        raise VerificationError("tampered: the unsubscribe token's signature does not match")
    try:
        payload = orjson.loads(_unb64(body))
        subject_ref = payload["s"]
        key = payload["c"]
        issued = dt.datetime.fromtimestamp(payload["i"], dt.UTC)
        expires = dt.datetime.fromtimestamp(payload["e"], dt.UTC)
        if (
            payload["v"] != _TOKEN_VERSION
            or not isinstance(subject_ref, str)
            or not isinstance(key, str)
        ):
            raise ValueError("unsupported payload")
    except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise VerificationError(
            "malformed: the unsubscribe token's payload is unreadable"
        ) from None
    if at >= expires:
        raise VerificationError(f"expired: the unsubscribe token expired at {expires.isoformat()}")
    return UnsubscribeToken(subject_ref, key, issued, expires)
