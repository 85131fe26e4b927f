"""Minimum age: the cited age table, birthdays, 29 February, time zones and bad input."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

import privacy_kit as pk
from privacy_kit.lifecycle._age import AGE_DATA_VERSION

UTC = dt.UTC


@pytest.fixture(scope="module")
def policy() -> pk.Policy:
    return pk.load_policy(pk.example_path("policy.yaml"))


@pytest.fixture(scope="module")
def lenient(policy: pk.Policy) -> pk.Policy:
    """The example policy with a floor of 13, so the jurisdiction's age decides."""
    children = dict(policy.model_dump(mode="python")["children"], minimum_age=13)
    return policy.replace(children=children)


CONFIRMED = {
    13: ["BE", "DK", "FI", "SE", "GB"],
    14: ["AT", "IT", "ES"],
    15: ["CZ", "FR"],
    16: ["DE", "HU", "IE", "NL", "PL", "SK"],
}


@pytest.mark.parametrize(
    ("code", "age"), [(code, age) for age, codes in CONFIRMED.items() for code in codes]
)
def test_confirmed_ages_are_cited(code: str, age: int) -> None:
    rule = pk.age_table().rule_for(code, dt.date(2025, 1, 1))
    assert rule.age == age
    assert rule.confirmed
    assert "Art. 8" in rule.citation
    if code == "GB":
        assert rule.citation == "UK GDPR Art. 8; Data Protection Act 2018 s.9"
    elif age == 16:
        assert rule.citation == "GDPR Art. 8(1) (default age of 16)"
    else:
        assert f"lowered by {rule.name}'s national law to {age}" in rule.citation


@pytest.mark.parametrize("code", ["PT", "GR", "NO", "BG"])
def test_unconfirmed_countries_default_to_16(code: str) -> None:
    rule = pk.age_table().rule_for(code, dt.date(2025, 1, 1))
    assert rule.age == 16
    assert not rule.confirmed
    assert rule.note is not None
    assert "not confirmed" in rule.note


def test_jurisdiction_keys_names_and_aliases() -> None:
    table = pk.age_table()
    on = dt.date(2025, 1, 1)
    assert table.rule_for("gdpr", on).citation == "GDPR Art. 8(1) (default age of 16)"
    assert table.rule_for("uk_gdpr", on).key == "GB"
    assert table.rule_for("UK", on).key == "GB"
    assert table.rule_for(" france ", on).key == "FR"
    assert table.rule_for("EL", on).key == "GR"
    us = table.rule_for("ccpa", on)
    assert (us.key, us.age, us.regime) == ("US", 13, "coppa")
    assert us.note is not None
    assert "COPPA" in us.citation
    assert table.version == AGE_DATA_VERSION


def test_unknown_country_is_a_clear_error(policy: pk.Policy) -> None:
    with pytest.raises(
        pk.ConfigurationError, match=r"no age of digital consent is recorded for 'JP'.*known:"
    ):
        pk.check_age(
            dt.date(2000, 1, 1), policy=policy, jurisdiction_or_country="JP", on=dt.date(2025, 1, 1)
        )
    with pytest.raises(pk.ConfigurationError, match="did you mean 'uk_gdpr'"):
        pk.age_table().rule_for("uk-gdpr", dt.date(2025, 1, 1))
    with pytest.raises(pk.ConfigurationError, match="did you mean 'Germany'"):
        pk.age_table().rule_for("Germani", dt.date(2025, 1, 1))


def test_policy_floor_is_the_maximum(policy: pk.Policy) -> None:
    # France's age is 15, the policy's 16: the policy decides.
    d = pk.check_age(
        dt.date(2010, 6, 1), policy=policy, jurisdiction_or_country="FR", on=dt.date(2026, 5, 31)
    )
    assert (d.allowed, d.age, d.required_age) == (False, 15, 16)
    assert d.citation == "policy 2024.1: children.minimum_age"
    assert d.jurisdiction == "FR"
    assert d.data_version == AGE_DATA_VERSION
    # Germany's 16 equals the policy's: both are cited.
    d = pk.check_age(
        dt.date(2010, 6, 1), policy=policy, jurisdiction_or_country="DE", on=dt.date(2026, 6, 1)
    )
    assert d.allowed
    assert d.citation == "policy 2024.1: children.minimum_age; GDPR Art. 8(1) (default age of 16)"
    assert d.reason == (
        "aged 16, at or above the required age of 16 (the policy's minimum age and the age of "
        "digital consent in Germany)"
    )


def test_jurisdiction_above_the_policy_floor(lenient: pk.Policy) -> None:
    d = pk.check_age(
        dt.date(2011, 3, 15), policy=lenient, jurisdiction_or_country="FR", on=dt.date(2025, 3, 15)
    )
    assert (d.allowed, d.age, d.required_age) == (False, 14, 15)
    assert d.citation == "GDPR Art. 8(1), as lowered by France's national law to 15"
    assert "the age of digital consent in France" in d.reason
    uk = pk.check_age(
        dt.date(2012, 3, 15),
        policy=lenient,
        jurisdiction_or_country="uk_gdpr",
        on=dt.date(2025, 3, 15),
    )
    assert uk.allowed
    assert uk.required_age == 13
    portugal = pk.check_age(
        dt.date(2011, 3, 15), policy=lenient, jurisdiction_or_country="PT", on=dt.date(2025, 3, 15)
    )
    assert not portugal.allowed
    assert not portugal.confirmed
    assert "not confirmed" in portugal.reason


def test_no_policy_uses_the_jurisdiction_only() -> None:
    d = pk.check_age(
        dt.date(2012, 1, 1), policy=None, jurisdiction_or_country="SE", on=dt.date(2025, 1, 1)
    )
    assert (d.allowed, d.required_age) == (True, 13)


@pytest.mark.parametrize(
    ("on", "allowed"),
    [
        (dt.date(2025, 6, 14), False),  # the day before the 16th birthday
        (dt.date(2025, 6, 15), True),  # the birthday itself
        (dt.date(2025, 6, 16), True),
    ],
)
def test_birthday_edges(policy: pk.Policy, on: dt.date, allowed: bool) -> None:
    d = pk.check_age(dt.date(2009, 6, 15), policy=policy, jurisdiction_or_country="IE", on=on)
    assert d.allowed is allowed


@pytest.mark.parametrize(
    ("on", "age"),
    [
        (dt.date(2024, 2, 28), 15),
        (dt.date(2024, 2, 29), 16),  # a leap year: the birthday exists
        (dt.date(2025, 2, 28), 16),
        (dt.date(2025, 3, 1), 17),  # non-leap year: the birthday is taken as 1 March
        (dt.date(2100, 2, 28), 91),  # 2100 is not a leap year
        (dt.date(2100, 3, 1), 92),
    ],
)
def test_feb_29_birthdays(on: dt.date, age: int) -> None:
    assert pk.age_on(dt.date(2008, 2, 29), on) == age


def test_feb_29_counted_on_feb_28_when_asked(policy: pk.Policy) -> None:
    born = dt.date(2009, 2, 29 - 1)  # 28 Feb 2009, for contrast
    assert pk.age_on(born, dt.date(2025, 2, 28)) == 16
    leapling = dt.date(2008, 2, 29)
    strict = pk.check_age(
        leapling, policy=policy, jurisdiction_or_country="DE", on=dt.date(2025, 2, 28)
    )
    assert strict.age == 16  # turned 16 on 1 March 2024
    assert pk.age_on(leapling, dt.date(2025, 2, 28), feb29="february_28") == 17
    assert pk.age_on(leapling, dt.date(2024, 2, 28), feb29="february_28") == 15
    assert pk.age_on(dt.date(2008, 3, 31), dt.date(2024, 3, 31)) == 16  # month end


def test_time_zones_decide_the_local_date(policy: pk.Policy) -> None:
    born = dt.date(2009, 6, 15)
    instant = dt.datetime(2025, 6, 14, 23, 30, tzinfo=UTC)
    # Still 14 June in London? No: 00:30 BST on the 15th. Still the 14th in New York.
    london = pk.check_age(
        born, policy=policy, jurisdiction_or_country="GB", on=instant, tz="Europe/London"
    )
    assert london.on == dt.date(2025, 6, 15)
    assert london.allowed
    new_york = pk.check_age(
        born,
        policy=policy,
        jurisdiction_or_country="US",
        on=instant,
        tz=ZoneInfo("America/New_York"),
    )
    assert new_york.on == dt.date(2025, 6, 14)
    assert not new_york.allowed
    own = pk.check_age(
        born,
        policy=policy,
        jurisdiction_or_country="IE",
        on=dt.datetime(2025, 6, 15, 0, 5, tzinfo=ZoneInfo("Europe/Dublin")),
    )
    assert own.on == dt.date(2025, 6, 15)
    assert own.allowed


def test_bad_input(policy: pk.Policy) -> None:
    with pytest.raises(ValueError, match="on must be a timezone-aware"):
        pk.check_age(
            dt.date(2000, 1, 1),
            policy=policy,
            jurisdiction_or_country="FR",
            on=dt.datetime(2025, 1, 1),
        )
    with pytest.raises(pk.ConfigurationError, match="tz applies only"):
        pk.check_age(
            dt.date(2000, 1, 1),
            policy=policy,
            jurisdiction_or_country="FR",
            on=dt.date(2025, 1, 1),
            tz="UTC",
        )
    with pytest.raises(pk.ConfigurationError, match="unknown time zone"):
        pk.check_age(
            dt.date(2000, 1, 1),
            policy=policy,
            jurisdiction_or_country="FR",
            on=dt.datetime(2025, 1, 1, tzinfo=UTC),
            tz="Nowhere/Town",
        )
    with pytest.raises(pk.ConfigurationError, match="is after the date checked"):
        pk.check_age(
            dt.date(2026, 1, 1), policy=policy, jurisdiction_or_country="FR", on=dt.date(2025, 1, 1)
        )
    with pytest.raises(pk.ConfigurationError, match="birth_date must be a date"):
        pk.check_age(
            dt.datetime(2000, 1, 1, tzinfo=UTC),
            policy=policy,
            jurisdiction_or_country="FR",
            on=dt.date(2025, 1, 1),
        )


def test_versioned_rules_follow_the_date() -> None:
    # A table in which a country lowers its age on 1 January 2026.
    table = pk.AgeTable(
        "test.1",
        (
            pk.AgeRule(
                "XA", "Exampleland", 16, "Example Act s.1", "gdpr", valid_until=dt.date(2026, 1, 1)
            ),
            pk.AgeRule(
                "XA",
                "Exampleland",
                14,
                "Example Act s.1 (2025 amendment)",
                "gdpr",
                valid_from=dt.date(2026, 1, 1),
            ),
        ),
    )
    born = dt.date(2011, 6, 1)
    before = pk.check_age(
        born, policy=None, jurisdiction_or_country="XA", on=dt.date(2025, 12, 31), table=table
    )
    after = pk.check_age(
        born, policy=None, jurisdiction_or_country="XA", on=dt.date(2026, 1, 1), table=table
    )
    assert (before.allowed, before.required_age, before.citation) == (False, 16, "Example Act s.1")
    assert (after.allowed, after.required_age) == (True, 14)
    assert after.citation == "Example Act s.1 (2025 amendment)"
    assert after.data_version == "test.1"
    gap = pk.AgeTable(
        "t", (pk.AgeRule("XB", "Gapland", 16, "c", "gdpr", valid_from=dt.date(2030, 1, 1)),)
    )
    with pytest.raises(pk.ConfigurationError, match="no age-of-consent rule for 'XB' is in force"):
        gap.rule_for("XB", dt.date(2025, 1, 1))
