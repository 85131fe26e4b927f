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


# The ages of the project's LAW_FACTS brief: the 30 EEA states and the UK.
AGES = {
    13: ["BE", "DK", "EE", "FI", "LV", "MT", "PT", "SE", "IS", "NO", "GB"],
    14: ["AT", "BG", "CY", "IT", "LT", "ES"],
    15: ["CZ", "FR", "GR", "SI"],
    16: ["HR", "DE", "HU", "IE", "LU", "NL", "PL", "RO", "SK", "LI"],
}
EU = {
    *[
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
}
EEA = EU | {"IS", "LI", "NO"}
# Member states whose national act makes no use of Art. 8(1)'s opening clause.
DEFAULT_16 = {"DE", "HU", "LU", "PL", "RO", "LI"}
# The national act named in each citation (a distinctive part of it).
ACTS = {
    "AT": "DSG) s. 4(4)",
    "BE": "Law of 30 July 2018",
    "BG": "Art. 25c",
    "HR": "NN 42/2018",
    "CY": "125(I)/2018",
    "CZ": "110/2019",
    "DK": "Act No. 502",
    "EE": "Personal Data Protection Act (2018)",
    "FI": "1050/2018",
    "FR": "78-17",
    "DE": "BDSG",
    "GR": "4624/2019",
    "HU": "Infotv.",
    "IE": "Data Protection Act 2018, s. 31",
    "IT": "2-quinquies",
    "LV": "Personal Data Processing Law",
    "LT": "Law on the Legal Protection of Personal Data",
    "LU": "Law of 1 August 2018",
    "MT": "Cap. 586",
    "NL": "UAVG",
    "PL": "Act of 10 May 2018",
    "PT": "Law 58/2019",
    "RO": "Law 190/2018",
    "SK": "18/2018",
    "SI": "ZVOP-2",
    "ES": "Organic Law 3/2018 (LOPDGDD), Art. 7",
    "SE": "2018:218",
    "IS": "90/2018",
    "LI": "DSG 2018",
    "NO": "LOV-2018-06-15-38",
    "GB": "Data Protection Act 2018 s.9",
}


def test_every_eea_state_and_the_uk_is_in_the_table_once() -> None:
    listed = [code for codes in AGES.values() for code in codes]
    assert len(listed) == len(set(listed)) == 31
    assert set(listed) == EEA | {"GB"}
    assert len(EEA) == 30
    table = pk.age_table()
    countries = [r.key for r in table.rules if r.key not in {"EU", "US"}]
    assert sorted(countries) == sorted(listed)  # nothing more, nothing twice
    assert set(ACTS) == set(listed)


@pytest.mark.parametrize(
    ("code", "age"), [(code, age) for age, codes in AGES.items() for code in codes]
)
def test_ages_are_as_listed_and_cite_the_national_act(code: str, age: int) -> None:
    rule = pk.age_table().rule_for(code, dt.date(2025, 1, 1))
    assert rule.age == age
    assert rule.confirmed
    assert rule.note is None
    assert (rule.valid_from, rule.valid_until) == (None, None)
    assert "Art. 8" in rule.citation
    assert ACTS[code] in rule.citation
    if code == "GB":
        assert rule.citation == "UK GDPR Art. 8; Data Protection Act 2018 s.9"
        assert rule.regime == "uk_gdpr"
        return
    assert rule.regime == "gdpr"
    if code in DEFAULT_16:
        assert rule.citation.startswith("GDPR Art. 8(1) (default age of 16); no lower age in ")
    elif age == 16:
        assert rule.citation.startswith(f"GDPR Art. 8(1), set at 16 by {rule.name}'s ")
    else:
        assert f"lowered by {rule.name}'s national law to {age}: " in rule.citation


def test_a_row_marked_unconfirmed_says_so_in_every_decision() -> None:
    table = pk.AgeTable(
        "t", (pk.AgeRule("XC", "Checkland", 14, "Draft act s.2", "gdpr", confirmed=False),)
    )
    d = pk.check_age(
        dt.date(2010, 1, 1),
        policy=None,
        jurisdiction_or_country="XC",
        on=dt.date(2025, 1, 1),
        table=table,
    )
    assert (d.allowed, d.required_age, d.confirmed) == (True, 14, False)
    assert d.reason.endswith("; Checkland's age is not confirmed against a primary source")


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
    assert d.citation == (
        "policy 2024.1: children.minimum_age; GDPR Art. 8(1) (default age of 16); no lower age "
        "in Germany's Federal Data Protection Act (BDSG 2018)"
    )
    assert d.reason == (
        "aged 16, at or above the required age of 16 (the policy's minimum age and the age of "
        "digital consent in Germany)"
    )


def test_jurisdiction_above_the_policy_floor(lenient: pk.Policy) -> None:
    d = pk.check_age(
        dt.date(2011, 3, 15), policy=lenient, jurisdiction_or_country="FR", on=dt.date(2025, 3, 15)
    )
    assert (d.allowed, d.age, d.required_age) == (False, 14, 15)
    assert d.citation == (
        "GDPR Art. 8(1), as lowered by France's national law to 15: Law No. 78-17 of 6 January "
        "1978 (Informatique et Libertés), Art. 45"
    )
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
        dt.date(2012, 3, 15), policy=lenient, jurisdiction_or_country="PT", on=dt.date(2025, 3, 15)
    )
    assert (portugal.allowed, portugal.required_age, portugal.confirmed) == (True, 13, True)
    assert "Law 58/2019, Art. 16" in portugal.citation
    assert "not confirmed" not in portugal.reason
    greece = pk.check_age(
        dt.date(2011, 3, 16), policy=lenient, jurisdiction_or_country="EL", on=dt.date(2025, 3, 15)
    )
    assert (greece.allowed, greece.age, greece.required_age) == (False, 13, 15)


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
