"""Objections, restrictions, opt-outs, unsubscribe tokens, and the engine's methods for them."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter
from privacy_kit.rights._preference_records import RestrictionGround
from privacy_kit.rights._preferences import Preferences
from privacy_kit.rights._unsubscribe import make_unsubscribe_token, read_unsubscribe_token

NOW = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=1)
REF = "subj_0123456789abcdef"


def purpose(key: str, basis: str, *, dm: bool = False) -> pk.Purpose:
    return pk.Purpose(key=key, name=key, legal_basis=basis, direct_marketing=dm)


MARKETING = purpose("marketing.email", "consent", dm=True)
MARKETING_LI = purpose("marketing.post", "legitimate_interests", dm=True)
RESEARCH = purpose("product.research", "legitimate_interests")
PUBLIC = purpose("public.register", "public_task")
NEWSLETTER_CONSENT = purpose("analytics.optional", "consent")
SERVICE = purpose("service.provide", "contract")
LEGAL = purpose("legal.obligation", "legal_obligation")
CLAIMS = purpose("legal.claims", "legitimate_interests")
STORAGE = purpose("storage", "legal_obligation")
NEWS = pk.Communication(
    key="newsletter", kind="promotional", purpose="marketing.email", description="n"
)
OFFERS = pk.Communication(
    key="offers", kind="promotional", purpose="marketing.email", description="o"
)
RECEIPT = pk.Communication(key="receipts", kind="transactional", purpose="billing", description="r")


# -- objections ----------------------------------------------------------------------------------
def test_no_choices_allows_everything() -> None:
    prefs = Preferences()
    for p in (MARKETING, RESEARCH, SERVICE):
        decision = prefs.may_process(REF, p, now=NOW)
        assert decision.allowed
        assert decision.reason == "no objection or restriction recorded"


def test_direct_marketing_objection_is_absolute_even_with_compelling_grounds() -> None:
    prefs = Preferences()
    prefs.object_to(REF, "marketing.post", now=NOW)
    prefs.record_compelling_grounds(REF, "marketing.post", "we really want to", now=NOW)
    decision = prefs.may_process(REF, MARKETING_LI, now=NOW)
    assert not decision.allowed
    assert decision.citation == "GDPR Art. 21(3)"
    assert "absolute" in decision.reason


def test_objection_to_parent_purpose_covers_children_only() -> None:
    prefs = Preferences()
    prefs.object_to(REF, "marketing", now=NOW)
    assert not prefs.may_process(REF, MARKETING, now=NOW)
    assert prefs.may_process(REF, purpose("marketingfoo", "consent"), now=NOW)


@pytest.mark.parametrize("p", [RESEARCH, PUBLIC])
def test_objection_to_legitimate_interests_or_public_task(p: pk.Purpose) -> None:
    prefs = Preferences()
    prefs.object_to(REF, p.key, now=NOW, reason="my particular situation")
    refused = prefs.may_process(REF, p, now=NOW)
    assert not refused.allowed
    assert refused.citation == "GDPR Art. 21(1)"
    assert "no compelling legitimate grounds" in refused.reason
    with pytest.raises(ValueError, match="must be stated"):
        prefs.record_compelling_grounds(REF, p.key, "  ", now=NOW)
    prefs.record_compelling_grounds(REF, p.key, "security of the service", now=NOW)
    allowed = prefs.may_process(REF, p, now=NOW)
    assert allowed.allowed
    assert "compelling legitimate grounds" in allowed.reason


def test_objection_to_consent_purpose_is_withdrawal() -> None:
    prefs = Preferences()
    prefs.object_to(REF, "analytics.optional", now=NOW)
    decision = prefs.may_process(REF, NEWSLETTER_CONSENT, now=NOW)
    assert not decision.allowed
    assert decision.citation == "GDPR Art. 7(3)"
    assert "consent withdrawn" in decision.reason


@pytest.mark.parametrize("p", [SERVICE, LEGAL])
def test_objection_without_legal_effect(p: pk.Purpose) -> None:
    prefs = Preferences()
    prefs.object_to(REF, p.key, now=NOW)
    decision = prefs.may_process(REF, p, now=NOW)
    assert decision.allowed
    assert "not open to objection" in decision.reason


def test_objection_times_and_withdrawal() -> None:
    prefs = Preferences()
    prefs.object_to(REF, "product.research", now=NOW)
    assert prefs.may_process(REF, RESEARCH, now=NOW - dt.timedelta(seconds=1)).allowed  # before it
    assert not prefs.may_process(REF, RESEARCH, now=NOW).allowed
    ended = prefs.withdraw_objection(REF, "product.research", now=LATER)
    assert ended is not None
    assert ended.ended_at == LATER
    assert not prefs.may_process(REF, RESEARCH, now=LATER - dt.timedelta(seconds=1)).allowed
    assert prefs.may_process(REF, RESEARCH, now=LATER).allowed
    assert prefs.withdraw_objection(REF, "product.research", now=LATER) is None


def test_objection_is_idempotent() -> None:
    prefs = Preferences()
    first = prefs.object_to(REF, "product.research", now=NOW)
    second = prefs.object_to(REF, "product.research", now=LATER)
    assert first == second
    assert len(list(prefs.records(REF))) == 1


def test_subjects_are_independent() -> None:
    prefs = Preferences()
    prefs.object_to(REF, "marketing", now=NOW)
    assert prefs.may_process("subj_other", MARKETING, now=NOW).allowed
    assert Preferences().may_process(REF, MARKETING, now=NOW).allowed  # per instance


def test_naive_time_and_empty_ref_rejected() -> None:
    prefs = Preferences()
    with pytest.raises(ValueError, match="timezone-aware"):
        prefs.object_to(REF, "marketing", now=dt.datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="non-empty reference"):
        prefs.object_to("", "marketing", now=NOW)


# -- restriction ---------------------------------------------------------------------------------
@pytest.mark.parametrize("ground", list(RestrictionGround))
def test_restriction_blocks_all_but_storage_and_legal_claims(ground: RestrictionGround) -> None:
    prefs = Preferences()
    prefs.restrict(REF, ground=ground, now=NOW)
    for p in (SERVICE, RESEARCH, MARKETING, LEGAL):
        decision = prefs.may_process(REF, p, now=NOW)
        assert not decision.allowed, p.key
        assert decision.citation == "GDPR Art. 18(2)"
        assert ground.value in decision.reason
    assert prefs.may_process(REF, STORAGE, now=NOW).allowed
    assert prefs.may_process(REF, CLAIMS, now=NOW).allowed
    assert ground.citation.startswith("GDPR Art. 18(1)(")


def test_restriction_ground_validated() -> None:
    with pytest.raises(ValueError, match="unknown restriction ground 'because'"):
        Preferences().restrict(REF, ground="because", now=NOW)


def test_lifting_restrictions() -> None:
    prefs = Preferences()
    prefs.restrict(REF, ground="accuracy_contested", now=NOW)
    prefs.restrict(REF, ground=RestrictionGround.LEGAL_CLAIMS, now=NOW)
    assert len(prefs.restrictions(REF, now=NOW)) == 2
    lifted = prefs.lift_restriction(REF, now=LATER, ground="accuracy_contested")
    assert [r.key for r in lifted] == ["accuracy_contested"]
    assert not prefs.may_process(REF, SERVICE, now=LATER).allowed
    lifted = prefs.lift_restriction(REF, now=LATER)
    assert [r.key for r in lifted] == ["legal_claims"]
    assert prefs.may_process(REF, SERVICE, now=LATER).allowed
    assert prefs.lift_restriction(REF, now=LATER) == ()


def test_custom_storage_purposes() -> None:
    prefs = Preferences(storage_purposes=("archive",), legal_claims_purposes=())
    prefs.restrict(REF, ground="objection_pending", now=NOW)
    assert prefs.may_process(REF, purpose("archive.backup", "legal_obligation"), now=NOW)
    assert not prefs.may_process(REF, CLAIMS, now=NOW)


# -- communications ------------------------------------------------------------------------------
def test_promotional_blocked_after_opt_out_transactional_still_sent() -> None:
    prefs = Preferences()
    assert prefs.may_send(REF, NEWS, now=NOW).allowed
    prefs.opt_out(REF, "newsletter", now=NOW)
    assert not prefs.may_send(REF, NEWS, now=NOW).allowed
    assert prefs.may_send(REF, OFFERS, now=NOW).allowed  # a different communication
    assert prefs.may_send(REF, RECEIPT, now=NOW).allowed
    prefs.opt_in(REF, "newsletter", now=LATER)
    assert prefs.may_send(REF, NEWS, now=LATER).allowed


def test_opt_out_of_a_whole_kind() -> None:
    prefs = Preferences()
    prefs.opt_out(REF, pk.CommunicationKind.PROMOTIONAL, now=NOW)
    decision = prefs.may_send(REF, OFFERS, now=NOW)
    assert not decision.allowed
    assert "all promotional messages" in decision.reason
    with pytest.raises(pk.ConfigurationError, match="transactional messages cannot be opted out"):
        prefs.opt_out(REF, pk.CommunicationKind.TRANSACTIONAL, now=NOW)
    prefs.opt_in(REF, pk.CommunicationKind.PROMOTIONAL, now=LATER)
    assert prefs.may_send(REF, OFFERS, now=LATER).allowed


def test_marketing_objection_blocks_promotional_sends_when_purpose_given() -> None:
    prefs = Preferences()
    prefs.object_to(REF, "marketing", now=NOW)
    assert not prefs.may_send(REF, NEWS, now=NOW, purpose=MARKETING).allowed
    assert prefs.may_send(REF, NEWS, now=NOW).allowed  # no purpose given: opt-outs only


def test_restriction_and_transactional_messages() -> None:
    prefs = Preferences()
    prefs.restrict(REF, ground="accuracy_contested", now=NOW)
    transactional = prefs.may_send(REF, RECEIPT, now=NOW)
    assert transactional.allowed
    assert "despite the restriction" in transactional.reason
    assert not prefs.may_send(REF, NEWS, now=NOW).allowed
    strict = Preferences(restriction_blocks_transactional=True)
    strict.restrict(REF, ground="accuracy_contested", now=NOW)
    assert not strict.may_send(REF, RECEIPT, now=NOW).allowed


# -- sale / GPC ----------------------------------------------------------------------------------
@pytest.mark.parametrize("header", [None, "", "0", "true", " 1", "1 ", "yes"])
def test_gpc_only_exactly_one_is_an_opt_out(header: str | None) -> None:
    prefs = Preferences()
    assert prefs.record_gpc(REF, header, now=NOW) is None
    assert prefs.may_sell(REF, now=NOW).allowed


def test_gpc_and_request_opt_out_of_sale() -> None:
    prefs = Preferences()
    record = prefs.record_gpc(REF, "1", now=NOW)
    assert record is not None
    assert record.source == "gpc"
    assert not prefs.may_sell(REF, now=NOW).allowed
    other = Preferences()
    other.opt_out_of_sale(REF, now=NOW)
    assert "via request" in other.may_sell(REF, now=NOW).reason


# -- persistence ---------------------------------------------------------------------------------
def _populated() -> Preferences:
    prefs = Preferences()
    prefs.object_to(REF, "product.research", now=NOW, reason="situation")
    prefs.record_compelling_grounds(REF, "product.research", "fraud", now=NOW)
    prefs.restrict(REF, ground="legal_claims", now=NOW)
    prefs.lift_restriction(REF, now=LATER)
    prefs.opt_out(REF, "newsletter", now=NOW, source="unsubscribe")
    prefs.record_gpc("subj_b", "1", now=NOW)
    return prefs


def _answers(prefs: Preferences, now: dt.datetime) -> list[bool]:
    return [
        prefs.may_process(REF, RESEARCH, now=now).allowed,
        prefs.may_process(REF, SERVICE, now=now).allowed,
        prefs.may_send(REF, NEWS, now=now).allowed,
        prefs.may_sell("subj_b", now=now).allowed,
    ]


def test_json_round_trip(tmp_path: Path) -> None:
    prefs = _populated()
    path = tmp_path / "prefs.json"
    prefs.save_json(path)
    loaded = Preferences.load_json(path)
    assert list(loaded.records()) == list(prefs.records())
    for when in (NOW, LATER):
        assert _answers(loaded, when) == _answers(prefs, when)


def test_sqlite_round_trip(tmp_path: Path) -> None:
    prefs = _populated()
    path = tmp_path / "prefs.db"
    prefs.save_sqlite(path)
    prefs.save_sqlite(path)  # a second save replaces, not duplicates
    loaded = Preferences.load_sqlite(path)
    assert list(loaded.records()) == list(prefs.records())
    conn = sqlite3.connect(":memory:")
    prefs.save_sqlite(conn, table="prefs")
    assert list(Preferences.load_sqlite(conn, table="prefs").records()) == list(prefs.records())
    assert list(Preferences.load_sqlite(sqlite3.connect(":memory:")).records()) == []
    with pytest.raises(ValueError, match="invalid table name"):
        prefs.save_sqlite(conn, table="bad name")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{oops", "not valid JSON"),
        (b"[]", "expected an object with a 'records' list"),
        (b'{"records": [1]}', r"records\[0\]: expected an object"),
        (
            b'{"records": [{"subject": "s", "kind": "x", "key": "k", "at": "2026-01-01T00:00:00+00:00"}]}',
            "kind 'x' is not one of",
        ),
        (b'{"records": [{"subject": "s", "kind": "opt_out", "key": "k"}]}', "missing field 'at'"),
        (
            b'{"records": [{"subject": "s", "kind": "opt_out", "key": "k", "at": "2026-01-01"}]}',
            "timezone-aware",
        ),
    ],
)
def test_load_json_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        Preferences.load_json(path)


# -- unsubscribe tokens --------------------------------------------------------------------------
SECRET = b"0123456789abcdef0123456789abcdef"


def test_token_round_trip_and_expiry() -> None:
    token = make_unsubscribe_token(SECRET, REF, "newsletter", now=NOW, ttl=pk.Duration(days=30))
    claim = read_unsubscribe_token(SECRET, token, now=NOW + dt.timedelta(days=29))
    assert (claim.subject_ref, claim.communication_key) == (REF, "newsletter")
    assert claim.expires_at == NOW + dt.timedelta(days=30)
    assert "@" not in token
    with pytest.raises(pk.VerificationError, match=r"^expired"):
        read_unsubscribe_token(SECRET, token, now=NOW + dt.timedelta(days=30))


def test_token_tampering_detected() -> None:
    token = make_unsubscribe_token(SECRET, REF, "newsletter", now=NOW)
    body, signature = token.split(".")
    forged_body = make_unsubscribe_token(SECRET, "subj_someone_else", "newsletter", now=NOW).split(
        "."
    )[0]
    for bad in (f"{forged_body}.{signature}", f"{body}.{signature[:-2]}AA", f"{body}x.{signature}"):
        with pytest.raises(pk.VerificationError, match=r"^tampered"):
            read_unsubscribe_token(SECRET, bad, now=NOW)
    with pytest.raises(pk.VerificationError, match=r"^tampered"):
        read_unsubscribe_token(b"another secret, 32 bytes long...", token, now=NOW)
    for bad in ("", "abc", "a.b.c"):
        with pytest.raises(pk.VerificationError, match=r"^malformed"):
            read_unsubscribe_token(SECRET, bad, now=NOW)


def test_token_with_valid_signature_but_garbage_payload() -> None:
    from privacy_kit.rights._unsubscribe import _sign

    body = "bm90IGpzb24"  # base64url("not json")
    with pytest.raises(pk.VerificationError, match=r"^malformed"):
        read_unsubscribe_token(SECRET, f"{body}.{_sign(SECRET, body)}", now=NOW)


def test_token_secret_must_be_long_enough() -> None:
    with pytest.raises(pk.ConfigurationError, match="at least 16 bytes"):
        make_unsubscribe_token(b"short", REF, "newsletter", now=NOW)


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=20), st.integers(1, 400))
def test_any_token_round_trips(ref: str, key: str, days: int) -> None:
    token = make_unsubscribe_token(SECRET, ref, key, now=NOW, ttl=pk.Duration(days=days))
    claim = read_unsubscribe_token(SECRET, token, now=NOW)
    assert (claim.subject_ref, claim.communication_key) == (ref, key)


# -- the engine ----------------------------------------------------------------------------------
@pytest.fixture
def engine() -> pk.Engine:
    policy = pk.load_policy(pk.example_path())
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
    return pk.Engine(
        policy,
        datamap,
        InMemoryAdapter({rt.table_name: [] for rt in datamap.record_types}),
        secret=SECRET,
    )


ANN = pk.Subject.of("customer", user_id=7)


def test_engine_objection_and_audit(engine: pk.Engine) -> None:
    engine.object_to(ANN, "marketing.email", now=NOW, reason="I said so, ann@example.com")
    assert not engine.may_process(ANN, "marketing.email", now=NOW).allowed
    assert engine.may_process(
        pk.Subject.of("customer", user_id=8), "marketing.email", now=NOW
    ).allowed
    [entry] = list(engine.audit.entries())
    assert entry.action == "objection.recorded"
    assert entry.subject == engine.reference(ANN)
    assert entry.details == {
        "purpose": "marketing.email",
        "legal_basis": "consent",
        "direct_marketing": True,
        "reason_given": True,
    }
    assert engine.audit.verify().ok


def test_engine_unknown_keys_have_hints(engine: pk.Engine) -> None:
    with pytest.raises(KeyError, match=r"did you mean 'marketing\.email'"):
        engine.object_to(ANN, "marketing.emial", now=NOW)
    with pytest.raises(KeyError, match="did you mean 'newsletter'"):
        engine.may_send(ANN, "newsleter", now=NOW)
    with pytest.raises(KeyError, match="did you mean 'newsletter'"):
        engine.opt_out(ANN, "newsleter", now=NOW)
    with pytest.raises(KeyError, match="known: newsletter"):
        engine.communication("zzzzzz")


def test_engine_restriction(engine: pk.Engine) -> None:
    engine.restrict(ANN, ground="accuracy_contested", now=NOW)
    assert not engine.may_process(ANN, "service.provide", now=NOW).allowed
    assert engine.may_process(ANN, "legal.claims", now=NOW).allowed
    assert engine.may_send(ANN, "booking_notifications", now=NOW).allowed
    assert not engine.may_send(ANN, "newsletter", now=NOW).allowed
    engine.lift_restriction(ANN, now=LATER)
    assert engine.may_process(ANN, "service.provide", now=LATER).allowed
    actions = [(e.action, dict(e.details)) for e in engine.audit.entries()]
    assert actions == [
        ("restriction.recorded", {"ground": "accuracy_contested"}),
        ("restriction.lifted", {"grounds": ["accuracy_contested"]}),
    ]


def test_engine_opt_out_and_transactional_refusal(engine: pk.Engine) -> None:
    engine.opt_out(ANN, "newsletter", now=NOW)
    assert not engine.may_send(ANN, "newsletter", now=NOW).allowed
    assert engine.may_send(ANN, "account_notices", now=NOW).allowed
    with pytest.raises(pk.ConfigurationError, match="'account_notices' is a transactional"):
        engine.opt_out(ANN, "account_notices", now=NOW)
    with pytest.raises(pk.ConfigurationError, match="transactional"):
        engine.unsubscribe_token(ANN, "booking_notifications", now=NOW)
    assert [e.action for e in engine.audit.entries()] == ["opt_out.recorded"]


def test_engine_may_send_honours_a_marketing_objection(engine: pk.Engine) -> None:
    engine.object_to(ANN, "marketing", now=NOW)
    decision = engine.may_send(ANN, "newsletter", now=NOW)
    assert not decision.allowed
    assert decision.citation == "GDPR Art. 21(3)"


def test_engine_unsubscribe_link(engine: pk.Engine) -> None:
    token = engine.unsubscribe_token(ANN, "newsletter", now=NOW, ttl=pk.Duration(days=7))
    assert engine.may_send(ANN, "newsletter", now=NOW).allowed
    record = engine.unsubscribe(token, now=NOW + dt.timedelta(days=1))
    assert record.source == "unsubscribe"
    assert not engine.may_send(ANN, "newsletter", now=NOW + dt.timedelta(days=1)).allowed
    entry = list(engine.audit.entries())[-1]
    assert entry.action == "opt_out.recorded"
    assert entry.details == {"communication": "newsletter", "via": "unsubscribe_token"}
    with pytest.raises(pk.VerificationError, match=r"^expired"):
        engine.unsubscribe(token, now=NOW + dt.timedelta(days=8))
    with pytest.raises(pk.VerificationError, match=r"^tampered"):
        engine.unsubscribe(token[:-3] + "AAA", now=NOW)


def test_engine_uses_given_preferences(engine: pk.Engine) -> None:
    assert isinstance(engine.preferences, pk.Preferences)
    prefs = Preferences()
    prefs.object_to(engine.reference(ANN), "marketing", now=NOW)
    again = pk.Engine(
        engine.policy, engine.datamap, engine.adapters, secret=SECRET, preferences=prefs
    )
    assert again.preferences is prefs
    assert not again.may_process(ANN, "marketing.email", now=NOW).allowed
