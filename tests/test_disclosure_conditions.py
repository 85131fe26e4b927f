"""Conditions on disclosures: legal process for authorities, telling the person unless the law
forbids it (pending until settled), and notice before a business transfer; refused at load where
they cannot apply, rendered in the notice as declared."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.audit import MemoryStateStore
from strategies import minimal_policy_data

AT = dt.datetime(2026, 5, 4, 10, tzinfo=dt.UTC)

POLICE: dict[str, Any] = {
    "key": "police",
    "kind": "authorities",
    "name": "Public authorities",
    "categories": ["user.contact"],
    "purposes": ["legal.obligation"],
    "is_recipient_under_gdpr": False,
    "legal_process": ["warrant", "subpoena", "court_order"],
    "notify_subject": "unless_prohibited",
}
BUYER: dict[str, Any] = {
    "key": "acquirer",
    "kind": "business_transfer",
    "name": "A buyer of the business",
    "categories": ["user.contact"],
    "purposes": ["legal.obligation"],
    "notify_before_transfer": True,
}


def policy_data(*recipients: dict[str, Any]) -> dict[str, Any]:
    data = minimal_policy_data()
    data["recipients"] = list(recipients)
    return data


def make_log(*recipients: dict[str, Any], **kw: Any) -> pk.DisclosureLog:
    return pk.DisclosureLog(pk.load_policy(policy_data(*recipients)), **kw)


def disclose(log: pk.DisclosureLog, recipient: str = "police", **kw: Any) -> pk.Disclosure:
    return log.record(
        recipient=recipient,
        subject_ref="subj_1",
        subject_kind="customer",
        categories=["user.contact.email"],
        purpose="legal.obligation",
        at=AT,
        **kw,
    )


# --- legal process ----------------------------------------------------------------------------


def test_authorities_without_an_accepted_process_are_refused() -> None:
    log = make_log({**POLICE, "legal_process": ["warrant", "court_order"]})
    with pytest.raises(pk.DisclosureError, match=r"warrant, court_order.*no legal process"):
        disclose(log)
    with pytest.raises(pk.DisclosureError, match="got 'subpoena'"):
        disclose(log, legal_process="subpoena")
    with pytest.raises(pk.ConfigurationError, match="unknown legal process 'letter'"):
        disclose(log, legal_process="letter")
    assert len(log) == 0
    entry = disclose(log, legal_process="court_order", subject_notified_at=AT)
    assert entry.legal_process == "court_order"


def test_authorities_without_declared_process_are_not_held_to_one() -> None:
    log = make_log({**POLICE, "legal_process": [], "notify_subject": None})
    entry = disclose(log)
    assert entry.legal_process is None
    assert entry.notification is None


# --- telling the person -----------------------------------------------------------------------


def test_notification_pending_until_told_or_prohibited(tmp_path: Path) -> None:
    path = tmp_path / "disclosures.jsonl"
    log = make_log(POLICE, path=path)
    told = disclose(log, legal_process="warrant", subject_notified_at=AT)
    gagged = disclose(log, legal_process="subpoena", notification_prohibited="court gag order")
    pending = disclose(log, legal_process="warrant")
    assert (told.notification, gagged.notification, pending.notification) == (
        "notified",
        "prohibited",
        "pending",
    )
    assert gagged.prohibition == "court gag order"
    assert [e.seq for e in log.pending_notifications()] == [3]
    with pytest.raises(pk.ConfigurationError, match="not pending"):
        log.record_notification(1, at=AT, notified_at=AT)
    with pytest.raises(pk.ConfigurationError, match="exactly one"):
        log.record_notification(3, at=AT)
    settled = log.record_notification(3, at=AT, notified_at=AT + dt.timedelta(days=2))
    assert settled.outcome == "notified"
    assert settled.disclosure == 3
    assert log.pending_notifications() == ()
    # the file keeps both kinds of line, and reads back the same
    again = make_log(POLICE, path=path)
    assert again.entries == log.entries
    assert again.notifications == (settled,)
    assert again.pending_notifications() == ()
    assert again.entries[1].prohibition == "court gag order"


def test_notification_and_prohibition_are_exclusive_and_prohibition_needs_words() -> None:
    log = make_log(POLICE)
    with pytest.raises(pk.ConfigurationError, match="not both"):
        disclose(log, legal_process="warrant", subject_notified_at=AT, notification_prohibited="x")
    with pytest.raises(pk.ConfigurationError, match="must say what forbids"):
        disclose(log, legal_process="warrant", notification_prohibited="  ")
    disclose(log, legal_process="warrant")
    with pytest.raises(pk.ConfigurationError, match="must say what forbids"):
        log.record_notification(1, at=AT, prohibited=" ")


def test_always_tell_refuses_a_prohibition() -> None:
    log = make_log({**POLICE, "notify_subject": "always"})
    with pytest.raises(pk.DisclosureError, match="always tell"):
        disclose(log, legal_process="warrant", notification_prohibited="gag order")
    disclose(log, legal_process="warrant")
    with pytest.raises(pk.DisclosureError, match="always tell"):
        log.record_notification(1, at=AT, prohibited="gag order")
    assert [e.seq for e in log.pending_notifications()] == [1]


def test_never_tell_is_recorded_as_not_promised() -> None:
    log = make_log({**POLICE, "notify_subject": "never"})
    assert disclose(log, legal_process="warrant").notification == "not_promised"
    assert log.pending_notifications() == ()


def test_pending_notifications_are_shared_through_a_state_store() -> None:
    store = MemoryStateStore()
    first = make_log(POLICE, state=store)
    disclose(first, legal_process="warrant")
    second = make_log(POLICE, state=store)
    assert [e.seq for e in second.pending_notifications()] == [1]
    second.record_notification(1, at=AT, prohibited="statutory non-disclosure order")
    assert first.pending_notifications() == ()
    assert first.notifications[0].prohibition == "statutory non-disclosure order"


# --- business transfers -----------------------------------------------------------------------


def test_business_transfer_needs_its_notice_first() -> None:
    log = make_log(BUYER)
    with pytest.raises(pk.DisclosureError, match="give transfer_notice_sent_at"):
        disclose(log, "acquirer")
    with pytest.raises(pk.DisclosureError, match="after the disclosure"):
        disclose(log, "acquirer", transfer_notice_sent_at=AT + dt.timedelta(minutes=1))
    with pytest.raises(pk.NaiveDatetimeError):
        disclose(log, "acquirer", transfer_notice_sent_at=dt.datetime(2026, 1, 1))
    entry = disclose(log, "acquirer", transfer_notice_sent_at=AT - dt.timedelta(days=30))
    assert entry.transfer_notice_at == AT - dt.timedelta(days=30)


# --- the policy ------------------------------------------------------------------------------


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(pk.PolicyError) as info:
        pk.load_policy(data)
    return {p.location: p.message for p in info.value.problems}


def test_conditions_on_the_wrong_kind_of_recipient_are_refused() -> None:
    wrong = {**BUYER, "legal_process": ["warrant"], "key": "buyer2"}
    wrong_transfer = {**POLICE, "notify_before_transfer": True}
    found = problems(policy_data(wrong, wrong_transfer))
    assert "authorities" in found["recipients[0].legal_process"]
    assert "business_transfer" in found["recipients[1].notify_before_transfer"]
    dup = problems(policy_data({**POLICE, "legal_process": ["warrant", "warrant"]}))
    assert "twice" in dup["recipients[0].legal_process"]
    bad = problems(policy_data({**POLICE, "legal_process": ["letter"]}))
    assert "recipients[0].legal_process[0]" in bad


def test_notice_renders_the_conditions_as_declared() -> None:
    policy = pk.load_policy(policy_data(POLICE, BUYER))
    text = pk.render_notice(policy)
    assert "only when we receive a warrant, a subpoena or a court order" in text
    assert "We tell you about the disclosure unless the law forbids us to." in text
    assert "We tell you before your data is transferred." in text
    arabic = pk.render_notice(policy, lang="ar")
    assert "مذكرة قضائية" in arabic
    assert "نُبلغك قبل نقل بياناتك." in arabic
    plain = pk.render_notice(
        pk.load_policy(policy_data({**POLICE, "legal_process": [], "notify_subject": None}))
    )
    assert "warrant" not in plain
    assert "tell you about the disclosure" not in plain
