"""The data map model: record types, fields, subject links, party roles and time fields."""

from __future__ import annotations

import pydantic
import pytest

import privacy_kit as pk
from privacy_kit import AnonymizationKind
from strategies import minimal_datamap_data

DATAMAP = pk.load_datamap(pk.example_path("datamap.yaml"))


def _problems(data: dict) -> dict[str, str]:  # type: ignore[type-arg]
    with pytest.raises(pk.PolicyError) as info:
        pk.load_datamap(data)
    return {p.location: p.message for p in info.value.problems}


def test_the_example_record_types() -> None:
    assert [r.name for r in DATAMAP.record_types] == [
        "users",
        "companies",
        "services",
        "bookings",
        "support_tickets",
        "payment_methods",
        "sessions",
        "usage_events",
    ]
    assert DATAMAP.stores == ("main",)
    assert DATAMAP.has_record_type("bookings")
    assert not DATAMAP.has_record_type("booking")
    with pytest.raises(KeyError, match="unknown record type 'booking'; did you mean 'bookings'"):
        DATAMAP.record_type("booking")


def test_multi_party_booking() -> None:
    bookings = DATAMAP.record_type("bookings")
    assert bookings.is_multi_party
    assert bookings.roles() == ("host", "invitee")
    host, invitee = bookings.link("host"), bookings.link("invitee")
    assert (host.kind, host.field, host.identity, host.owner) == (
        "customer",
        "host_id",
        "user_id",
        True,
    )
    assert (invitee.kind, invitee.field, invitee.identity, invitee.owner) == (
        "end_user",
        "invitee_email",
        "email",
        False,
    )
    assert {f.name for f in bookings.fields_of("invitee")} == {
        "invitee_email",
        "invitee_name",
        "invitee_phone",
        "invitee_notes",
    }
    assert {f.name for f in bookings.fields_of("host")} == {"host_id", "host_notes", "meeting_url"}
    assert bookings.field("start_at").party is None  # shared by both parties
    assert bookings.links_for("end_user") == (invitee,)
    with pytest.raises(KeyError, match="has no subject role 'guest'"):
        bookings.link("guest")
    assert not DATAMAP.record_type("users").is_multi_party


def test_fields_and_categories() -> None:
    users = DATAMAP.record_type("users")
    assert users.field_names[:3] == ("id", "name", "email")
    assert users.has_field("email")
    assert not users.has_field("mail")
    with pytest.raises(
        KeyError, match="record type 'users' has no field 'emial'; did you mean 'email'"
    ):
        users.field("emial")
    assert "user.contact.email" in users.categories
    assert users.field("created_at").personal is False
    anon = users.field("email").anonymize
    assert anon is not None
    assert anon.kind is AnonymizationKind.PSEUDONYM
    assert users.link("customer").extra_identities == {"email": "email"}
    assert users.link("customer").role_name == "customer"


def test_time_fields_and_account_links() -> None:
    users = DATAMAP.record_type("users")
    assert users.time_field("created") == "created_at"
    assert users.time_field("account_closed") == "closed_at"
    assert users.time_field("account_deactivated") == "deactivated_at"
    assert users.time_field("last_activity") == "last_seen_at"
    assert users.time_field("event") is None
    bookings = DATAMAP.record_type("bookings")
    assert bookings.time_field("event") == "end_at"
    assert bookings.account is not None
    assert bookings.account.record_type == "users"
    assert [r.name for r, _ in DATAMAP.linked_to("end_user")] == ["bookings"]
    assert len(list(DATAMAP.linked_to("customer"))) == 8


def test_table_name_defaults_to_the_name() -> None:
    data = minimal_datamap_data()
    assert pk.load_datamap(data).record_types[0].table_name == "users"
    data["record_types"][0]["table"] = "app_users"
    assert pk.load_datamap(data).record_types[0].table_name == "app_users"


def test_internal_references() -> None:
    data = minimal_datamap_data()
    rt = data["record_types"][0]
    rt["subjects"].append({"kind": "customer", "field": "id"})  # same role twice
    rt["subjects"][0]["extra_identities"] = {"email": "e_mail"}
    rt["fields"].append(
        {"name": "flags", "personal": False, "categories": ["user.account.settings"]}
    )
    rt["account"] = {"field": "account_id", "record_type": "users"}
    assert _problems(data) == {
        "record_types[0].subjects[0].extra_identities.email": "identity field 'e_mail' is not a field of 'users'; did you mean 'email'?",
        "record_types[0].subjects[1]": "duplicate subject role 'customer'; give each link a distinct 'role'",
        "record_types[0].fields[3]": "a field marked personal: false must not list categories",
        "record_types[0].account.field": "account field 'account_id' is not a field of 'users'",
    }


@pytest.mark.parametrize(
    ("anonymize", "fragment"),
    [
        ({"kind": "fixed"}, "strategy 'fixed' needs a 'value'"),
        ({"kind": "mask", "keep": -1}, "greater than or equal to 0"),
        ({"kind": "generalize_date", "granularity": "week"}, "'year', 'month' or 'day'"),
        ({"kind": "shred"}, "(got 'shred')"),
    ],
)
def test_anonymization_validation(anonymize: dict, fragment: str) -> None:  # type: ignore[type-arg]
    data = minimal_datamap_data()
    data["record_types"][0]["fields"][1]["anonymize"] = anonymize
    (message,) = _problems(data).values()
    assert fragment in message


def test_anonymization_models() -> None:
    assert pk.Anonymization(kind="fixed", value=0).value == 0
    with pytest.raises(pydantic.ValidationError, match="needs a 'value'"):
        pk.Anonymization(kind="fixed")


@pytest.mark.parametrize("name", ["1users", "user-s", "users table", ""])
def test_record_type_name_pattern(name: str) -> None:
    data = minimal_datamap_data()
    data["record_types"][0]["name"] = name
    assert "record_types[0].name" in _problems(data)


def test_datamap_json_schema() -> None:
    schema = pk.DataMap.model_json_schema()
    assert schema["required"] == ["record_types"]
    assert "RecordType" in schema["$defs"]
