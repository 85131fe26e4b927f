"""CodeVerifier: signed, expiring, single-use codes with a lock after too many wrong tries."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import privacy_kit as pk
from privacy_kit.rights._verification import Challenge, CodeVerifier, Verifier

SECRET = b"verification-secret-0123456789ab"
NOW = dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def test_is_a_verifier() -> None:
    assert isinstance(CodeVerifier(SECRET), Verifier)
    assert isinstance(pk.CodeVerifier(SECRET), pk.Verifier)


def test_code_shape_and_success() -> None:
    verifier = CodeVerifier(SECRET, digits=8)
    challenge = verifier.issue("subj_1", now=NOW)
    assert isinstance(challenge, Challenge)
    assert len(challenge.code) == 8
    assert challenge.code.isdigit()
    assert challenge.expires_at == NOW + dt.timedelta(minutes=15)
    assert challenge.code not in repr(challenge)
    assert "subj_1" not in challenge.code
    assert verifier.check(challenge.challenge_id, challenge.code, now=NOW) == "subj_1"


def test_single_use() -> None:
    verifier = CodeVerifier(SECRET)
    challenge = verifier.issue("subj_1", now=NOW)
    verifier.check(challenge.challenge_id, challenge.code, now=NOW)
    with pytest.raises(pk.VerificationError, match=r"^reused"):
        verifier.check(challenge.challenge_id, challenge.code, now=NOW)


def test_expiry() -> None:
    verifier = CodeVerifier(SECRET, ttl=pk.Duration(minutes=5))
    challenge = verifier.issue("subj_1", now=NOW)
    assert (
        verifier.check(
            challenge.challenge_id, challenge.code, now=NOW + dt.timedelta(minutes=4, seconds=59)
        )
        == "subj_1"
    )
    other = verifier.issue("subj_1", now=NOW)
    with pytest.raises(
        pk.VerificationError, match=r"^expired: the code expired at 2026-04-01T09:05:00"
    ):
        verifier.check(other.challenge_id, other.code, now=NOW + dt.timedelta(minutes=5))


def test_wrong_attempts_then_lock() -> None:
    verifier = CodeVerifier(SECRET, max_attempts=3)
    challenge = verifier.issue("subj_1", now=NOW)
    bad = wrong(challenge.code)
    with pytest.raises(pk.VerificationError, match=r"^wrong: .*\(2 attempt\(s\) left\)"):
        verifier.check(challenge.challenge_id, bad, now=NOW)
    with pytest.raises(pk.VerificationError, match=r"^wrong: .*\(1 attempt\(s\) left\)"):
        verifier.check(challenge.challenge_id, bad, now=NOW)
    with pytest.raises(pk.VerificationError, match=r"^wrong: .*now locked"):
        verifier.check(challenge.challenge_id, bad, now=NOW)
    # Even the right code no longer works.
    with pytest.raises(pk.VerificationError, match=r"^locked: too many wrong attempts \(3 of 3\)"):
        verifier.check(challenge.challenge_id, challenge.code, now=NOW)


def test_attempts_are_per_challenge() -> None:
    verifier = CodeVerifier(SECRET, max_attempts=1)
    first = verifier.issue("subj_1", now=NOW)
    second = verifier.issue("subj_1", now=NOW)
    with pytest.raises(pk.VerificationError, match=r"^wrong"):
        verifier.check(first.challenge_id, wrong(first.code), now=NOW)
    assert verifier.check(second.challenge_id, second.code, now=NOW) == "subj_1"


def test_tampered_and_malformed_challenge_ids() -> None:
    verifier = CodeVerifier(SECRET)
    challenge = verifier.issue("subj_1", now=NOW)
    _body, signature = challenge.challenge_id.split(".")
    other_body = verifier.issue("subj_2", now=NOW).challenge_id.split(".")[0]
    with pytest.raises(pk.VerificationError, match=r"^tampered"):
        verifier.check(f"{other_body}.{signature}", challenge.code, now=NOW)
    with pytest.raises(pk.VerificationError, match=r"^tampered"):
        CodeVerifier(b"another-secret-0123456789abcdefg").check(
            challenge.challenge_id, challenge.code, now=NOW
        )
    for bad in ("", "nodot", "a.b.c"):
        with pytest.raises(pk.VerificationError, match=r"^malformed"):
            verifier.check(bad, challenge.code, now=NOW)


def test_state_is_per_instance() -> None:
    one = CodeVerifier(SECRET)
    two = CodeVerifier(SECRET)
    challenge = one.issue("subj_1", now=NOW)
    with pytest.raises(pk.VerificationError, match=r"^unknown: .*per instance"):
        two.check(challenge.challenge_id, challenge.code, now=NOW)
    with pytest.raises(pk.VerificationError, match=r"^expired"):
        two.check(challenge.challenge_id, challenge.code, now=NOW + dt.timedelta(hours=1))


def test_old_state_is_purged_but_still_fails_as_expired() -> None:
    verifier = CodeVerifier(SECRET)
    old = verifier.issue("subj_1", now=NOW)
    verifier.issue("subj_2", now=NOW + dt.timedelta(days=3))  # triggers the purge
    assert len(verifier._states) == 1
    with pytest.raises(pk.VerificationError, match=r"^expired"):
        verifier.check(old.challenge_id, old.code, now=NOW + dt.timedelta(days=3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secret": b"short"}, "at least 16 bytes"),
        ({"max_attempts": 0}, "max_attempts must be at least 1"),
        ({"digits": 5}, "digits must be between 6 and 8"),
        ({"digits": 9}, "digits must be between 6 and 8"),
        ({"ttl": pk.Duration()}, "ttl must be longer than zero"),
    ],
)
def test_bad_configuration(kwargs: dict[str, object], message: str) -> None:
    args = {"secret": SECRET, **kwargs}
    secret = args.pop("secret")
    with pytest.raises(pk.ConfigurationError, match=message):
        CodeVerifier(secret, **args)  # type: ignore[arg-type]


def test_bad_arguments() -> None:
    verifier = CodeVerifier(SECRET)
    with pytest.raises(ValueError, match="timezone-aware"):
        verifier.issue("subj_1", now=dt.datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="must not be empty"):
        verifier.issue("", now=NOW)


def test_bad_arguments_are_privacy_kit_errors() -> None:
    verifier = CodeVerifier(SECRET)
    with pytest.raises(pk.NaiveDatetimeError, match="now must be a timezone-aware"):
        verifier.issue("subj_1", now=dt.datetime(2026, 1, 1))
    with pytest.raises(pk.ConfigurationError, match="must not be empty"):
        verifier.issue("", now=NOW)
    with pytest.raises(pk.WrongTypeError, match="subject_ref must be a string"):
        verifier.issue(7, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(pk.WrongTypeError, match="secret must be bytes"):
        CodeVerifier("s" * 32)  # type: ignore[arg-type]
    with pytest.raises(pk.WrongTypeError, match="ttl must be a Duration"):
        CodeVerifier(SECRET, ttl="PT15M")  # type: ignore[arg-type]


@pytest.mark.parametrize("as_type", [int, lambda code: None, str.encode, float])
def test_a_code_of_the_wrong_type_is_refused_and_never_verifies(as_type: object) -> None:
    verifier = CodeVerifier(SECRET, max_attempts=1)
    challenge = verifier.issue("subj_1", now=NOW)
    # the right code, but not as a string: refused as malformed, not an AttributeError
    answer = as_type(challenge.code)  # type: ignore[operator]
    with pytest.raises(pk.VerificationError, match=r"^malformed: the code must be a string"):
        verifier.check(challenge.challenge_id, answer, now=NOW)
    with pytest.raises(pk.VerificationError, match=r"^malformed: the code must be a string"):
        verifier.check(challenge.challenge_id, answer, now=NOW)
    # neither a success (the challenge is not used up) nor a counted attempt (max_attempts=1)
    assert verifier.check(challenge.challenge_id, challenge.code, now=NOW) == "subj_1"


def test_a_challenge_id_of_the_wrong_type_is_malformed() -> None:
    verifier = CodeVerifier(SECRET)
    challenge = verifier.issue("subj_1", now=NOW)
    for challenge_id in (None, 12, challenge.challenge_id.encode()):
        with pytest.raises(pk.VerificationError, match=r"^malformed: the challenge id"):
            verifier.check(challenge_id, challenge.code, now=NOW)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=30), st.integers(6, 8))
def test_codes_verify_for_any_subject(ref: str, digits: int) -> None:
    verifier = CodeVerifier(SECRET, digits=digits)
    challenge = verifier.issue(ref, now=NOW)
    assert len(challenge.code) == digits
    assert verifier.check(challenge.challenge_id, f" {challenge.code} ", now=NOW) == ref


def test_codes_look_random() -> None:
    verifier = CodeVerifier(SECRET)
    codes = {verifier.issue("subj_1", now=NOW).code for _ in range(200)}
    assert len(codes) > 190
