"""The minimum age: the age of digital consent per jurisdiction, and whether a person may use the service.

The age of digital consent is kept as cited, versioned data (:func:`age_table`): the GDPR's
default of 16 (Art. 8(1)), each of the 30 EEA states with the national act that set its age (or
that makes no use of the opening clause, leaving 16), the UK's 13 (Data Protection Act 2018 s.9),
and the US COPPA threshold of 13 as a note. A rule whose figure was not confirmed against a
primary source says so in ``confirmed=False`` (none of the built-in rows today; a table of your
own may carry such rows, and every decision made with one says so). Rules may carry
``valid_from``/``valid_until`` dates, so a change in the law is a new row.

:func:`check_age` answers whether a person born on a given date may use the service on a given
date: the required age is the higher of the policy's ``children.minimum_age`` and the
jurisdiction's age, and the answer says why and cites where each figure comes from.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from typing import Literal
from zoneinfo import ZoneInfo

import attrs

from .._errors import ConfigurationError
from .._types import closest, require_aware
from ..model._policy import Policy

__all__ = [
    "AGE_DATA_VERSION",
    "AgeDecision",
    "AgeRule",
    "AgeTable",
    "age_on",
    "age_table",
    "check_age",
]

AGE_DATA_VERSION = "2025.2"
"""The version of the built-in age-of-consent data; every :class:`AgeDecision` carries it."""

Feb29 = Literal["march_1", "february_28"]


@attrs.frozen
class AgeRule:
    """The age of digital consent in one jurisdiction, with its source.

    Attributes:
        key: an ISO 3166-1 alpha-2 code (``FR``), or ``EU`` for the GDPR default.
        name: the jurisdiction's name.
        age: the age from which a person may consent on their own.
        citation: where the age comes from.
        regime: the law it comes under (``gdpr``, ``uk_gdpr``, ``coppa``).
        confirmed: whether the age was confirmed against a primary source.
        note: anything else worth knowing.
        valid_from: the first day the rule applies (``None``: since the law applied).
        valid_until: the first day it no longer applies (``None``: still in force).
    """

    key: str
    name: str
    age: int
    citation: str
    regime: str
    confirmed: bool = True
    note: str | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None

    def in_force(self, on: dt.date) -> bool:
        """Whether the rule applies on ``on``."""
        return (self.valid_from is None or on >= self.valid_from) and (
            self.valid_until is None or on < self.valid_until
        )


_GDPR_DEFAULT = "GDPR Art. 8(1) (default age of 16)"


def _member(code: str, name: str, age: int, act: str, *, sets_age: bool = True) -> AgeRule:
    """A member state's rule, citing the national act beside the figure.

    ``sets_age=False``: the national act makes no use of Art. 8(1)'s opening clause, so the
    GDPR's own default of 16 applies.
    """
    if not sets_age:
        citation = f"{_GDPR_DEFAULT}; no lower age in {name}'s {act}"
    elif age == 16:
        citation = f"GDPR Art. 8(1), set at 16 by {name}'s {act}"
    else:
        citation = f"GDPR Art. 8(1), as lowered by {name}'s national law to {age}: {act}"
    return AgeRule(code, name, age, citation, "gdpr")


# The ages are those of the project's LAW_FACTS brief (the 30 EEA states and the UK); the
# national provisions beside them name where each state set (or did not set) its age.
_RULES: tuple[AgeRule, ...] = (
    AgeRule("EU", "the European Union (GDPR default)", 16, _GDPR_DEFAULT, "gdpr"),
    _member("AT", "Austria", 14, "Datenschutzgesetz (DSG) s. 4(4)"),
    _member("BE", "Belgium", 13, "Law of 30 July 2018 on the protection of personal data, Art. 7"),
    _member("BG", "Bulgaria", 14, "Personal Data Protection Act, Art. 25c"),
    _member("HR", "Croatia", 16, "Act on the Implementation of the GDPR (NN 42/2018), Art. 19"),
    _member("CY", "Cyprus", 14, "Law 125(I)/2018, s. 8"),
    _member("CZ", "Czechia", 15, "Act No. 110/2019 Coll. on personal data processing, s. 7"),
    _member("DK", "Denmark", 13, "Data Protection Act (Act No. 502 of 23 May 2018), s. 6"),
    _member("EE", "Estonia", 13, "Personal Data Protection Act (2018), s. 8"),
    _member("FI", "Finland", 13, "Data Protection Act (1050/2018), s. 5"),
    _member(
        "FR", "France", 15, "Law No. 78-17 of 6 January 1978 (Informatique et Libertés), Art. 45"
    ),
    _member("DE", "Germany", 16, "Federal Data Protection Act (BDSG 2018)", sets_age=False),
    _member("GR", "Greece", 15, "Law 4624/2019, Art. 21"),
    _member("HU", "Hungary", 16, "Act CXII of 2011 (Infotv.)", sets_age=False),
    _member("IE", "Ireland", 16, "Data Protection Act 2018, s. 31"),
    _member(
        "IT",
        "Italy",
        14,
        "Personal Data Protection Code (Legislative Decree 196/2003), Art. 2-quinquies",
    ),
    _member("LV", "Latvia", 13, "Personal Data Processing Law, s. 33"),
    _member("LT", "Lithuania", 14, "Law on the Legal Protection of Personal Data, Art. 6"),
    _member(
        "LU",
        "Luxembourg",
        16,
        "Law of 1 August 2018 on the National Data Protection Commission",
        sets_age=False,
    ),
    _member("MT", "Malta", 13, "Data Protection Act (Cap. 586), S.L. 586.11, reg. 3"),
    _member("NL", "Netherlands", 16, "GDPR Implementation Act (UAVG), Art. 5"),
    _member(
        "PL", "Poland", 16, "Act of 10 May 2018 on the protection of personal data", sets_age=False
    ),
    _member("PT", "Portugal", 13, "Law 58/2019, Art. 16"),
    _member("RO", "Romania", 16, "Law 190/2018", sets_age=False),
    _member("SK", "Slovakia", 16, "Act No. 18/2018 Coll. on personal data protection, s. 15"),
    _member("SI", "Slovenia", 15, "Personal Data Protection Act (ZVOP-2, 2022), Art. 8"),
    _member("ES", "Spain", 14, "Organic Law 3/2018 (LOPDGDD), Art. 7"),
    _member(
        "SE", "Sweden", 13, "Act (2018:218) with supplementary provisions to the GDPR, ch. 2 s. 4"
    ),
    _member("IS", "Iceland", 13, "Act No. 90/2018 on data protection, Art. 10"),
    _member("LI", "Liechtenstein", 16, "Data Protection Act (DSG 2018)", sets_age=False),
    _member("NO", "Norway", 13, "Personal Data Act (LOV-2018-06-15-38), s. 5"),
    AgeRule(
        "GB", "the United Kingdom", 13, "UK GDPR Art. 8; Data Protection Act 2018 s.9", "uk_gdpr"
    ),
    AgeRule(
        "US",
        "the United States",
        13,
        "COPPA, 15 U.S.C. 6501-6506 (under 13: verifiable parental consent)",
        "coppa",
        note="COPPA is not an age of digital consent as such: it requires verifiable parental "
        "consent to collect personal information from children under 13",
    ),
)

_ALIASES: dict[str, str] = {
    "gdpr": "EU",
    "eu": "EU",
    "uk_gdpr": "GB",
    "uk": "GB",
    "ccpa": "US",
    "coppa": "US",
    "el": "GR",
}


@attrs.frozen
class AgeTable:
    """A versioned table of :class:`AgeRule` rows, with aliases (``gdpr`` → ``EU``, ``UK`` → ``GB``).

    Example:
        >>> t = age_table()
        >>> t.rule_for("fr", dt.date(2025, 1, 1)).age, t.rule_for("uk_gdpr", dt.date(2025, 1, 1)).age
        (15, 13)
        >>> t.rule_for("Portugal", dt.date(2025, 1, 1)).age, t.rule_for("EL", dt.date(2025, 1, 1)).age
        (13, 15)
    """

    version: str
    rules: tuple[AgeRule, ...]
    aliases: Mapping[str, str] = attrs.field(factory=dict)

    def _resolve(self, key: str) -> str:
        raw = key.strip()
        if raw.lower() in self.aliases:
            return self.aliases[raw.lower()]
        for rule in self.rules:
            if raw.upper() == rule.key or raw.lower() in (
                rule.name.lower(),
                rule.name.lower().removeprefix("the "),
            ):
                return rule.key
        choices = sorted({r.key for r in self.rules} | set(self.aliases))
        names = [r.name.removeprefix("the ") for r in self.rules]
        hint = (
            closest(raw.upper(), [r.key for r in self.rules])
            or closest(raw.lower(), self.aliases)
            or closest(raw, names)
        )
        suffix = f"; did you mean {hint!r}?" if hint else ""
        raise ConfigurationError(
            f"no age of digital consent is recorded for {key!r}{suffix} (known: "
            f"{', '.join(choices)}); pass an ISO country code, a jurisdiction key, or give "
            "check_age() a table with a rule for it"
        )

    def rule_for(self, key: str, on: dt.date) -> AgeRule:
        """The rule for a country code, country name or jurisdiction key, in force on ``on``.

        Raises:
            ConfigurationError: nothing is recorded for ``key`` (with a hint), or no rule for it
                is in force on ``on``.
        """
        code = self._resolve(key)
        rows = [r for r in self.rules if r.key == code]
        for rule in rows:
            if rule.in_force(on):
                return rule
        raise ConfigurationError(
            f"no age-of-consent rule for {code!r} is in force on {on.isoformat()} "
            f"(table version {self.version})"
        )


@functools.cache
def age_table() -> AgeTable:
    """The built-in age-of-digital-consent table (version :data:`AGE_DATA_VERSION`).

    Example:
        >>> rule = age_table().rule_for("BE", dt.date(2025, 6, 1))
        >>> rule.age, rule.citation
        (13, "GDPR Art. 8(1), as lowered by Belgium's national law to 13: Law of 30 July 2018 on the protection of personal data, Art. 7")
    """
    return AgeTable(AGE_DATA_VERSION, _RULES, dict(_ALIASES))


@attrs.frozen
class AgeDecision:
    """Whether a person may use the service, and why.

    Attributes:
        allowed: whether the person has reached the required age.
        age: the person's age in whole years on the date checked.
        required_age: the higher of the policy's minimum age and the jurisdiction's.
        reason: a readable explanation.
        citation: where the required age comes from.
        jurisdiction: the key of the jurisdiction's rule (``FR``, ``EU``, ...).
        on: the (local) date checked.
        confirmed: whether the jurisdiction's age was confirmed against a primary source.
        data_version: the version of the age table used.
    """

    allowed: bool
    age: int
    required_age: int
    reason: str
    citation: str
    jurisdiction: str
    on: dt.date
    confirmed: bool
    data_version: str


def age_on(birth_date: dt.date, on: dt.date, *, feb29: Feb29 = "march_1") -> int:
    """Age in whole years on ``on`` of a person born on ``birth_date``.

    A person born on 29 February has their birthday on 1 March in non-leap years by default
    (``feb29="february_28"`` for jurisdictions that count it on 28 February).

    Raises:
        ConfigurationError: ``birth_date`` is after ``on``.

    Example:
        >>> age_on(dt.date(2008, 2, 29), dt.date(2024, 2, 28)), age_on(dt.date(2008, 2, 29), dt.date(2024, 2, 29))
        (15, 16)
        >>> age_on(dt.date(2008, 2, 29), dt.date(2025, 2, 28)), age_on(dt.date(2008, 2, 29), dt.date(2025, 3, 1))
        (16, 17)
        >>> age_on(dt.date(2008, 2, 29), dt.date(2025, 2, 28), feb29="february_28")
        17
    """
    if birth_date > on:
        raise ConfigurationError(
            f"birth date {birth_date.isoformat()} is after the date checked ({on.isoformat()})"
        )
    birthday = (birth_date.month, birth_date.day)
    if birthday == (2, 29) and feb29 == "february_28" and not _leap(on.year):
        birthday = (2, 28)
    return on.year - birth_date.year - ((on.month, on.day) < birthday)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _local_date(on: dt.date | dt.datetime, tz: dt.tzinfo | str | None) -> dt.date:
    if isinstance(on, dt.datetime):
        require_aware(on, "on")
        if tz is None:
            return on.date()
        zone = tz
        if isinstance(tz, str):
            try:
                zone = ZoneInfo(tz)
            except (KeyError, ValueError) as exc:
                raise ConfigurationError(f"unknown time zone {tz!r}") from exc
        assert isinstance(zone, dt.tzinfo)
        return on.astimezone(zone).date()
    if tz is not None:
        raise ConfigurationError("tz applies only when 'on' is a datetime; 'on' is a date")
    return on


def check_age(
    birth_date: dt.date,
    *,
    policy: Policy | None,
    jurisdiction_or_country: str,
    on: dt.date | dt.datetime,
    tz: dt.tzinfo | str | None = None,
    feb29: Feb29 = "march_1",
    table: AgeTable | None = None,
) -> AgeDecision:
    """Whether a person born on ``birth_date`` may use the service on ``on``.

    The required age is the higher of ``policy.children.minimum_age`` and the age of digital
    consent of ``jurisdiction_or_country`` (only the latter when the policy has no ``children``
    section: it then sets no age of its own, and the reason says so). ``on`` is a date, or a timezone-aware datetime read in
    ``tz`` (the person's time zone; default: the datetime's own), so that a birthday begins at the
    person's local midnight.

    Args:
        birth_date: the person's date of birth.
        policy: the policy (``None``: only the jurisdiction's age applies).
        jurisdiction_or_country: an ISO country code (``FR``), a country name, or a jurisdiction
            key (``gdpr``, ``uk_gdpr``, ``ccpa``).
        on: the date (or instant) of the check.
        tz: the time zone in which ``on`` is read, when it is a datetime.
        feb29: when someone born on 29 February has their birthday in non-leap years.
        table: the age table (default: :func:`age_table`).

    Returns:
        An :class:`AgeDecision`.

    Raises:
        ConfigurationError: unknown country or jurisdiction (with a hint), ``birth_date`` after
            ``on``, ``birth_date`` given as a datetime, or ``tz`` with a plain date.
        ValueError: ``on`` is a naive datetime.

    Example:
        >>> import privacy_kit as pk
        >>> policy = pk.load_policy(pk.example_path())
        >>> d = check_age(dt.date(2010, 6, 1), policy=policy, jurisdiction_or_country="FR",
        ...               on=dt.date(2025, 6, 1))
        >>> d.allowed, d.age, d.required_age
        (False, 15, 16)
        >>> d.reason
        "aged 15, under the required age of 16 (the policy's minimum age)"
    """
    if isinstance(birth_date, dt.datetime):
        raise ConfigurationError("birth_date must be a date, not a datetime")
    local = _local_date(on, tz)
    rules = table or age_table()
    rule = rules.rule_for(jurisdiction_or_country, local)
    age = age_on(birth_date, local, feb29=feb29)
    minimum = (
        policy.children.minimum_age if policy is not None and policy.children is not None else None
    )
    sources: list[str] = []
    citations: list[str] = []
    required = rule.age if minimum is None else max(minimum, rule.age)
    if policy is not None and minimum == required:
        sources.append("the policy's minimum age")
        citations.append(f"policy {policy.version}: children.minimum_age")
    if rule.age == required:
        sources.append(f"the age of digital consent in {rule.name}")
        citations.append(rule.citation)
    allowed = age >= required
    verdict = "at or above" if allowed else "under"
    reason = f"aged {age}, {verdict} the required age of {required} ({' and '.join(sources)})"
    if not rule.confirmed:
        reason += f"; {rule.name}'s age is not confirmed against a primary source"
    if policy is not None and minimum is None:
        reason += f"; policy {policy.version} sets no minimum age of its own"
    return AgeDecision(
        allowed=allowed,
        age=age,
        required_age=required,
        reason=reason,
        citation="; ".join(citations),
        jurisdiction=rule.key,
        on=local,
        confirmed=rule.confirmed,
        data_version=rules.version,
    )
