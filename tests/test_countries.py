"""Country codes are checked against ISO 3166-1 alpha-2 (package data), not only for their shape:
in requests' ``country``, ``governing_jurisdiction``, ``honour_gpc`` and the policy's storage
locations, transfers and recipients, each refusal naming the code, what is wrong and where."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.model._countries import check_country, country_problem
from strategies import minimal_policy_data


def _table() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        resources.files("privacy_kit").joinpath("data/iso3166.json").read_text("utf-8")
    )
    return data


def test_the_table_is_the_249_assigned_codes_and_each_is_accepted() -> None:
    assigned = _table()["assigned"]
    assert len(assigned) == len(set(assigned)) == 249
    assert {"DE", "GB", "GR", "US", "BR", "CA", "JP", "SS", "BQ", "AX"} <= set(assigned)
    assert not {"UK", "EL", "XK", "EU", "FX"} & set(assigned)
    for code in assigned:
        assert country_problem(code) is None, code
        assert check_country(code.lower()) == code


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("XX", "'XX' is user-assigned in ISO 3166-1 alpha-2"),
        ("QM", "user-assigned"),
        ("ZZ", "user-assigned"),
        ("AA", "user-assigned"),
        ("FX", "'FX' is not an assigned ISO 3166-1 alpha-2 code"),
        ("UK", "did you mean 'GB'?"),
        ("EL", "did you mean 'GR'?"),
        ("QQ-1", "'QQ' is user-assigned"),
        ("UK-ENG", "did you mean 'GB'?"),
    ],
)
def test_unassigned_codes_are_refused_saying_why(code: str, says: str) -> None:
    with pytest.raises(pk.ConfigurationError, match="ISO 3166") as info:
        pk.governing_jurisdiction(code)
    assert f"invalid country {code!r}: " in str(info.value)
    assert says in str(info.value)


def test_kosovo_is_the_user_assigned_code_accepted_on_purpose() -> None:
    assert pk.governing_jurisdiction("xk") is None  # accepted; no built-in law governs it
    assert check_country(" xk ") == "XK"
    assert "XK" in _table()["user_assigned"]


def test_a_subdivision_is_checked_for_its_country() -> None:
    found = pk.governing_jurisdiction("us-ca")
    assert found is not None
    assert found.key == "ccpa"
    assert pk.governing_jurisdiction("GB-SCT") is not None


def test_a_request_from_an_unassigned_country_is_refused() -> None:
    policy = pk.load_policy(minimal_policy_data())
    with pytest.raises(pk.ConfigurationError, match="'XX' is user-assigned"):
        pk.DataSubjectRequest.for_policy(
            policy, "access", "customer", {"email": "a@example.com"}, country="XX",
            received_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        )  # fmt: skip


def _problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(pk.PolicyError) as info:
        pk.load_policy(data)
    return {p.location: p.message for p in info.value.problems}


def test_policy_countries_are_checked_where_they_stand() -> None:
    data = minimal_policy_data()
    data["storage"]["locations"][0]["country"] = "XX"
    data["storage"]["transfers"] = [{"to_country": "EL", "mechanism": "scc"}]
    data["recipients"] = [
        {
            "key": "payments",
            "kind": "processor",
            "name": "Payments",
            "categories": ["user.contact.email"],
            "purposes": ["support"],
            "countries": ["US", "UK"],
        }
    ]
    found = _problems(data)
    assert "'XX' is user-assigned" in found["storage.locations[0].country"]
    assert "did you mean 'GR'?" in found["storage.transfers[0].to_country"]
    assert "did you mean 'GB'?" in found["recipients[0].countries[1]"]
    assert "recipients[0].countries[0]" not in found
