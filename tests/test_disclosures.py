"""The disclosure log: what the policy allows, what it refuses, the file, and the queries."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest

import privacy_kit as pk
from privacy_kit.lifecycle._disclosures import ERASURE_NOTICE_CITATION

UTC = dt.UTC
AT = dt.datetime(2025, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def policy() -> pk.Policy:
    return pk.load_policy(pk.example_path("policy.yaml"))


@pytest.fixture
def log(policy: pk.Policy) -> pk.DisclosureLog:
    return pk.DisclosureLog(policy, datamap=pk.load_datamap(pk.example_path("datamap.yaml")))


def share(log: pk.DisclosureLog, **overrides: Any) -> pk.Disclosure:
    args: dict[str, Any] = {
        "recipient": "integration_partners",
        "subject_ref": "subj_ann",
        "subject_kind": "customer",
        "categories": ["user.contact.email"],
        "record_types": ["users"],
        "purpose": "service.integrations",
        "at": AT,
    }
    args.update(overrides)
    return log.record(**args)


def test_records_an_allowed_disclosure(log: pk.DisclosureLog) -> None:
    entry = share(log)
    assert entry.seq == 1
    assert entry.recipient == "integration_partners"
    assert entry.recipient_kind == "integration_partners"
    assert entry.gdpr_recipient
    # The legal ground defaults to the purpose's basis in the taxonomy.
    assert entry.legal_ground is pk.LegalBasis("contract")
    assert entry.policy_version == "2024.1"
    assert log.entries == (entry,)
    assert len(log) == 1


def test_dotted_hierarchy_is_respected(log: pk.DisclosureLog) -> None:
    # service_providers receive user.contact: user.contact.email lies below it.
    entry = share(
        log,
        recipient="service_providers",
        categories=["user.contact.email", "user.device.ip_address"],
        purpose="support",
    )
    assert entry.categories == ("user.contact.email", "user.device.ip_address")
    # account_admins receive user.contact.email only, not the whole of user.contact.
    with pytest.raises(
        pk.DisclosureError, match=r"not declared to receive category 'user\.contact'"
    ):
        share(
            log,
            recipient="account_admins",
            categories=["user.contact"],
            purpose="service.administration",
        )


def test_refuses_what_the_policy_does_not_allow(log: pk.DisclosureLog) -> None:
    with pytest.raises(
        pk.DisclosureError,
        match=r"unknown recipient 'integrations'; did you mean 'integration_partners'\?.*does not declare it",
    ):
        share(log, recipient="integrations")
    with pytest.raises(
        pk.DisclosureError,
        match=r"recipient 'integration_partners' is not declared to receive category 'user\.device\.ip_address'",
    ):
        share(log, categories=["user.contact.email", "user.device.ip_address"])
    with pytest.raises(
        pk.DisclosureError, match=r"unknown category 'user\.contact\.emial'; did you mean"
    ):
        share(log, categories=["user.contact.emial"])
    with pytest.raises(
        pk.DisclosureError,
        match=r"purpose 'marketing.email' is not declared for recipient 'integration_partners' \(declared: service.integrations\)",
    ):
        share(log, purpose="marketing.email")
    with pytest.raises(pk.DisclosureError, match=r"unknown purpose 'marketing\.mail'"):
        share(log, purpose="marketing.mail")
    with pytest.raises(pk.DisclosureError, match="not declared to receive data about 'end_user'"):
        share(
            log,
            recipient="account_admins",
            subject_kind="end_user",
            purpose="service.administration",
        )
    with pytest.raises(pk.DisclosureError, match="subject kind 'visitor' is not covered"):
        share(log, subject_kind="visitor")
    assert len(log) == 0  # nothing refused was recorded


def test_bad_input(log: pk.DisclosureLog) -> None:
    with pytest.raises(ValueError, match="at must be a timezone-aware"):
        share(log, at=dt.datetime(2025, 3, 1))
    with pytest.raises(pk.ConfigurationError, match="at least one category"):
        share(log, categories=[])
    with pytest.raises(pk.ConfigurationError, match="needs a subject_ref, a subject_kind"):
        share(log, subject_ref=None, subject_kind=None)
    with pytest.raises(
        pk.ConfigurationError, match="unknown record type 'booking'; did you mean 'bookings'"
    ):
        share(log, record_types=["booking"])
    with pytest.raises(pk.ConfigurationError, match="unknown legal ground 'contrat'"):
        share(log, legal_ground="contrat")
    assert share(log, legal_ground="consent").legal_ground is pk.LegalBasis.CONSENT


def test_who_received_my_data(log: pk.DisclosureLog) -> None:
    later = AT + dt.timedelta(days=3)
    share(log)
    share(log, categories=["user.scheduling.booking"], record_types=["bookings"], at=later)
    share(log, subject_ref="subj_bob")
    # A disclosure about every customer (e.g. a nightly backup to the hosting provider).
    share(
        log,
        recipient="service_providers",
        subject_ref=None,
        categories=["user.account"],
        record_types=["users"],
        purpose="service.provide",
    )
    own = log.for_subject("subj_ann")
    assert [e.seq for e in own] == [1, 2]
    assert [e.seq for e in log.for_subject("subj_ann", kind="customer")] == [1, 2, 4]
    assert [e.seq for e in log.for_subject("subj_ann", kind="end_user")] == [1, 2]
    summary = {s.recipient: s for s in log.received_by("subj_ann", kind="customer")}
    partners = summary["integration_partners"]
    assert partners.categories == ("user.contact.email", "user.scheduling.booking")
    assert partners.record_types == ("bookings", "users")
    assert (partners.first, partners.last, partners.count) == (AT, later, 2)
    assert partners.name is not None
    assert partners.name.get_text("en") == "Integrations you connect"
    assert summary["service_providers"].purposes == ("service.provide",)


def test_recipients_to_notify_leave_out_authorities(log: pk.DisclosureLog) -> None:
    share(log)
    share(
        log,
        recipient="authorities",
        categories=["user.device.ip_address"],
        purpose="legal.obligation",
        record_types=["sessions"],
    )
    received = {s.recipient for s in log.received_by("subj_ann")}
    assert received == {"integration_partners", "authorities"}
    # GDPR Art. 4(9): an authority receiving data in a particular inquiry is not a recipient.
    assert [s.recipient for s in log.recipients_to_notify("subj_ann")] == ["integration_partners"]
    assert log.recipients_to_notify("subj_nobody") == ()
    assert ERASURE_NOTICE_CITATION == "GDPR Art. 17(2), Art. 19"


def test_file_backed_log_is_append_only_and_reloads(policy: pk.Policy, tmp_path: Path) -> None:
    path = tmp_path / "disclosures.jsonl"
    log = pk.DisclosureLog(policy, path=path)
    share(log)
    share(
        log,
        subject_ref="subj_bob",
        at=dt.datetime(2025, 3, 2, 9, tzinfo=dt.timezone(dt.timedelta(hours=3))),
    )
    lines = path.read_bytes().splitlines()
    assert len(lines) == 2
    assert orjson.loads(lines[1])["at"] == "2025-03-02T09:00:00+03:00"
    again = pk.DisclosureLog(policy, path=path)
    assert again.entries == log.entries
    share(again, subject_ref="subj_cy")
    assert len(path.read_bytes().splitlines()) == 3
    with pytest.raises(pk.DisclosureError):
        share(again, recipient="nobody")
    assert len(path.read_bytes().splitlines()) == 3  # a refusal writes nothing
    assert not hasattr(again, "remove")


def test_edited_or_malformed_files_are_refused(policy: pk.Policy, tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    log = pk.DisclosureLog(policy, path=path)
    share(log)
    share(log)
    first, second = path.read_bytes().splitlines()
    path.write_bytes(second + b"\n" + first + b"\n")
    with pytest.raises(pk.ConfigurationError, match=r"log.jsonl:1: entry has seq 2, expected 1"):
        pk.DisclosureLog(policy, path=path)
    path.write_bytes(first + b"\n{not json\n")
    with pytest.raises(pk.ConfigurationError, match=r"log.jsonl:2: malformed disclosure entry"):
        pk.DisclosureLog(policy, path=path)
    broken = orjson.loads(first)
    del broken["purpose"]
    path.write_bytes(orjson.dumps(broken) + b"\n")
    with pytest.raises(pk.ConfigurationError, match="missing field 'purpose'"):
        pk.DisclosureLog(policy, path=path)
    broken = dict(orjson.loads(first), at="2025-03-01T12:00:00")
    path.write_bytes(orjson.dumps(broken) + b"\n")
    with pytest.raises(pk.ConfigurationError, match="timezone-aware"):
        pk.DisclosureLog(policy, path=path)
