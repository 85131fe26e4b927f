"""The consistency check: each finding fires on a minimal crafted case, and none on the example."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit import Severity
from privacy_kit.model._check import rule_for_record_type
from strategies import minimal_datamap_data, minimal_policy_data

Mutator = Callable[[dict[str, Any], dict[str, Any]], None]


def _report(mutate: Mutator | None = None, *, with_datamap: bool = True) -> pk.CheckReport:
    policy, datamap = minimal_policy_data(), minimal_datamap_data()
    if mutate is not None:
        mutate(policy, datamap)
    return pk.check(pk.load_policy(policy), pk.load_datamap(datamap) if with_datamap else None)


def _users(datamap: dict[str, Any]) -> dict[str, Any]:
    return datamap["record_types"][0]  # type: ignore[no-any-return]


def test_the_minimal_documents_have_no_finding() -> None:
    report = _report()
    assert report.findings == ()
    assert report.ok
    assert len(report) == 0


@pytest.fixture(scope="module")
def example_report() -> pk.CheckReport:
    policy = pk.load_policy(pk.example_path())
    return pk.check(policy, pk.load_datamap(pk.example_path("datamap.yaml"), policy=policy))


def _add_field(datamap: dict[str, Any], **field: Any) -> None:
    _users(datamap)["fields"].append(field)


CASES: dict[str, tuple[Mutator, Severity, str, str]] = {
    "undisclosed-category": (
        lambda p, d: _add_field(d, name="phone", categories=["user.contact.phone"]),
        Severity.ERROR,
        "datamap:record_types[0].fields[3].categories[0]",
        "users.phone stores 'user.contact.phone', which the policy does not disclose",
    ),
    "category-without-purpose": (
        lambda p, d: p["collection"][0].update(purposes=[]),
        Severity.WARNING,
        "policy:collection[0]",
        "'user.contact.email' is collected but no purpose uses it",
    ),
    "stored-without-retention": (
        lambda p, d: (
            p["collection"].append(
                {
                    "category": "user.device.ip_address",
                    "source": "automatic",
                    "purposes": ["security.fraud"],
                }
            ),
            _add_field(d, name="ip", categories=["user.device.ip_address"]),
        ),
        Severity.ERROR,
        "datamap:record_types[0].fields[3].categories[0]",
        "users.ip stores 'user.device.ip_address', which no retention rule covers",
    ),
    "category-without-retention": (
        lambda p, d: p["collection"].append(
            {
                "category": "user.device.ip_address",
                "source": "automatic",
                "purposes": ["security.fraud"],
            }
        ),
        Severity.WARNING,
        "policy:collection[1]",
        "no retention rule says how long 'user.device.ip_address' is kept",
    ),
    "recipient-undisclosed-category": (
        lambda p, d: p.update(
            recipients=[
                {
                    "key": "ads",
                    "kind": "service_providers",
                    "name": "Ad network",
                    "categories": ["user.device"],
                    "purposes": ["support"],
                }
            ]
        ),
        Severity.ERROR,
        "policy:recipients[0].categories[0]",
        "recipient 'ads' receives 'user.device', which the policy does not say is collected",
    ),
    "recipient-undeclared-purpose": (
        lambda p, d: p.update(
            recipients=[
                {
                    "key": "ads",
                    "kind": "service_providers",
                    "name": "Ad network",
                    "categories": ["user.contact.email"],
                    "purposes": ["marketing.advertising"],
                }
            ]
        ),
        Severity.WARNING,
        "policy:recipients[0].purposes[0]",
        "a purpose no collection declares",
    ),
    "record-type-without-subject": (
        lambda p, d: _users(d).update(subjects=[]),
        Severity.ERROR,
        "datamap:record_types[0]",
        "'users' holds personal data but no field links it to a data subject",
    ),
    "field-without-category": (
        lambda p, d: _add_field(d, name="notes"),
        Severity.WARNING,
        "datamap:record_types[0].fields[3]",
        "users.notes has no category",
    ),
    "subject-kind-not-covered": (
        lambda p, d: _users(d)["subjects"].append(
            {"kind": "end_user", "field": "email", "role": "guest"}
        ),
        Severity.ERROR,
        "datamap:record_types[0].subjects[1]",
        "subject kind 'end_user' is not among the subjects the policy covers",
    ),
    "trigger-without-time-field": (
        lambda p, d: _users(d).update(timestamps={}),
        Severity.ERROR,
        "datamap:record_types[0].timestamps",
        "rule 'contact' starts at created but 'users' declares no timestamps.created field",
    ),
    "unknown-reference": (
        lambda p, d: _users(d)["fields"][1].update(categories=["user.contact.emial"]),
        Severity.ERROR,
        "datamap:record_types[0].fields[1].categories[0]",
        "unknown category 'user.contact.emial'; did you mean 'user.contact.email'?",
    ),
    "missing-translation": (
        lambda p, d: p.update(languages=["en", "ar"], title={"en": "Notice", "ar": "إشعار"}),
        Severity.WARNING,
        "policy:subjects[0].description",
        "no 'ar' text",
    ),
    "special-category": (
        lambda p, d: p["collection"].append(
            {"category": "user.health", "source": "provided", "purposes": ["support"]}
        ),
        Severity.INFO,
        "policy:collection[1]",
        "special category (GDPR Art. 9)",
    ),
    "collected-not-stored": (
        lambda p, d: p["collection"].append(
            {"category": "user.contact.phone", "source": "provided", "purposes": ["support"]}
        ),
        Severity.INFO,
        "policy:collection[1]",
        "no record type in the data map stores it",
    ),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_finding_fires_on_a_crafted_case(code: str, example_report: pk.CheckReport) -> None:
    mutate, severity, location, fragment = CASES[code]
    report = _report(mutate)
    found = [f for f in report if f.code == code]
    assert found, f"{code} did not fire: {report.findings}"
    matching = [f for f in found if f.location == location]
    assert matching, [f.location for f in found]
    assert matching[0].severity is severity
    assert fragment in matching[0].message
    assert report.ok is (severity is not Severity.ERROR or not report.errors)
    if severity is Severity.ERROR:
        assert not report.ok
    # and the example is clean of it
    assert code not in example_report.codes()


def test_the_example_has_no_finding_at_all(example_report: pk.CheckReport) -> None:
    assert example_report.ok
    assert example_report.findings == ()


def test_the_policy_alone_is_checked_without_a_datamap() -> None:
    report = _report(lambda p, d: p["collection"][0].update(purposes=[]), with_datamap=False)
    assert report.codes() == {"category-without-purpose"}


def test_unknown_datamap_subject_kind_and_retention_rule_are_unknown_references() -> None:
    def mutate(p: dict[str, Any], d: dict[str, Any]) -> None:
        _users(d)["subjects"][0]["kind"] = "custmer"
        _users(d)["retention"] = "contacts"

    report = _report(mutate)
    refs = {f.location: f.message for f in report if f.code == "unknown-reference"}
    assert refs == {
        "datamap:record_types[0].subjects[0].kind": "unknown subject kind 'custmer'; did you mean 'customer'?",
        "datamap:record_types[0].retention": "unknown retention rule 'contacts'; did you mean 'contact'?",
    }


def test_trigger_account_closed_needs_a_closure_time() -> None:
    def no_account(p: dict[str, Any], d: dict[str, Any]) -> None:
        p["retention"][0]["trigger"] = "account_closed"
        del p["retention"][0]["duration"]

    report = _report(no_account)
    (finding,) = [f for f in report if f.code == "trigger-without-time-field"]
    assert finding.location == "datamap:record_types[0]"
    assert "neither an 'account' link nor its own closure time field" in finding.message

    def via_account(p: dict[str, Any], d: dict[str, Any]) -> None:
        no_account(p, d)
        _users(d)["account"] = {"field": "id", "record_type": "users"}

    (finding,) = [f for f in _report(via_account) if f.code == "trigger-without-time-field"]
    assert finding.location == "datamap:record_types[0].account"
    assert "'users' has no timestamps.closed" in finding.message

    def fixed(p: dict[str, Any], d: dict[str, Any]) -> None:
        via_account(p, d)
        _add_field(d, name="closed_at", type="timestamp", personal=False)
        _users(d)["timestamps"]["closed"] = "closed_at"

    assert _report(fixed).findings == ()


def test_a_field_marked_not_personal_needs_no_category() -> None:
    assert _report(lambda p, d: _add_field(d, name="flags", personal=False)).findings == ()


def test_a_datamap_retention_key_counts_as_retention() -> None:
    def mutate(p: dict[str, Any], d: dict[str, Any]) -> None:
        p["collection"].append(
            {
                "category": "user.device.ip_address",
                "source": "automatic",
                "purposes": ["security.fraud"],
            }
        )
        _add_field(d, name="ip", categories=["user.device.ip_address"])
        _users(d)["retention"] = "contact"

    codes = _report(mutate).codes()
    assert "stored-without-retention" not in codes
    assert "category-without-retention" in codes  # the policy itself still does not say


def test_report_helpers() -> None:
    def mutate(p: dict[str, Any], d: dict[str, Any]) -> None:
        _add_field(d, name="notes")
        _add_field(d, name="phone", categories=["user.contact.phone"])

    report = _report(mutate)
    assert [f.code for f in report.errors] == ["undisclosed-category"]
    assert [f.code for f in report.warnings] == ["field-without-category"]
    assert not report.ok
    assert len(report) == 2 == len(list(report))
    records = report.to_records()
    assert records[0].keys() == {"code", "severity", "location", "message"}
    assert {r["severity"] for r in records} == {"error", "warning"}
    line = str(report.errors[0])
    assert line.startswith("error   undisclosed-category")
    assert "datamap:record_types[0].fields[4].categories[0]: users.phone stores" in line


def test_rule_for_record_type() -> None:
    policy = pk.load_policy(pk.example_path())
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"), policy=policy)
    rules = {
        rt.name: getattr(rule_for_record_type(policy, rt), "key", None)
        for rt in datamap.record_types
    }
    assert rules == {
        "users": "account_data",
        "companies": "content",
        "services": "content",
        "bookings": "booking_data",
        "support_tickets": "account_data",
        "payment_methods": "payment_data",
        "sessions": "account_data",
        "usage_events": "account_data",
    }
