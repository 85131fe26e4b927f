"""Jurisdictions as cited data: the regimes a policy can claim to follow.

Each :class:`Jurisdiction` carries its key (``gdpr``, ``ccpa``, ...), its name and the figures
privacy_kit computes with, each with the article it comes from, so that a deadline shown to a
user can always say where it comes from. The figures are those in the project's LAW_FACTS brief.

``global`` (:data:`GLOBAL`) is not a law: a policy that lists it promises the same rights to
everyone, wherever they live. It carries no legal deadline of its own; a request under it is due
when the policy's own ``requests.respond_within`` says, or has no deadline at all (and says so).
:func:`governing_jurisdiction` says which built-in law governs a requester in a given country.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import attrs

from .._errors import UnknownNameError, WrongTypeError
from .._types import Duration, closest
from ._countries import check_country
from ._jurisdiction_keys import GLOBAL

__all__ = [
    "GLOBAL",
    "Jurisdiction",
    "RequestDeadline",
    "get_jurisdiction",
    "governing_jurisdiction",
    "jurisdictions",
]


@attrs.frozen
class RequestDeadline:
    """How long a controller has to answer a data-subject request, and how it may be extended.

    Attributes:
        respond_within: the first deadline, counted from receipt.
        business_days: whether ``respond_within`` counts business days (Mon-Fri) instead of calendar days.
        extension: how much longer it may be extended (``None``: no extension).
        max_extensions: how many times it may be extended.
        notify_extension_within: by when the subject must be told of an extension.
        citation: where the rule comes from.
    """

    respond_within: Duration
    citation: str
    extension: Duration | None = None
    max_extensions: int = 0
    notify_extension_within: Duration | None = None
    business_days: bool = False


@attrs.frozen
class Jurisdiction:
    """A legal regime with the figures privacy_kit computes with.

    Example:
        >>> gdpr = get_jurisdiction("gdpr")
        >>> deadline = gdpr.request_deadline
        >>> deadline is not None and (str(deadline.respond_within), deadline.citation)
        ('P1M', 'GDPR Art. 12(3)')
    """

    key: str
    name: str
    region: str
    request_deadline: RequestDeadline | None
    """The law's deadline for requests (``None`` only for :data:`GLOBAL`, which is not a law)."""
    countries: frozenset[str] = attrs.field(default=frozenset(), repr=False)
    """ISO 3166 codes of the places whose residents the law governs (``US-CA``: a subdivision)."""
    breach_authority: str | None = None
    gpc_is_opt_out: bool = False
    notes: tuple[str, ...] = ()
    restricts_transfers: bool = False
    """Whether the law restricts moving personal data out of its area (data stored outside
    ``countries`` then needs a declared transfer mechanism)."""

    adequate: frozenset[str] = attrs.field(default=frozenset(), repr=False)
    """Countries outside ``countries`` to which the law lets data move without further safeguards
    (an adequacy finding, cited in ``adequacy_citation``); only the findings privacy_kit encodes."""
    adequacy_citation: str | None = None

    def allows_storage_in(self, country: str) -> bool:
        """Whether data under this law may be stored in ``country`` without a declared transfer
        mechanism: inside its area, or in a country its adequacy findings cover.

        Example:
            >>> uk = get_jurisdiction("uk_gdpr")
            >>> uk.allows_storage_in("GB"), uk.allows_storage_in("IE"), uk.allows_storage_in("US")
            (True, True, False)
        """
        return (
            not self.restricts_transfers or self.covers(country) or country.upper() in self.adequate
        )

    def covers(self, country: str) -> bool:
        """Whether ``country`` (ISO 3166-1 alpha-2, or a subdivision such as ``US-CA``) is
        within the regime's area; a country covers the subdivisions the law governs.

        Example:
            >>> get_jurisdiction("gdpr").covers("IE"), get_jurisdiction("gdpr").covers("US")
            (True, False)
            >>> get_jurisdiction("ccpa").covers("US")
            True
        """
        code = country.upper()
        return code in self.countries or any(c.split("-")[0] == code for c in self.countries)


# EU member states (Treaty on European Union Art. 52) and the EEA EFTA states (EEA Agreement)
_EEA = frozenset(
    {
        *("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE"),
        *("IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"),
        *("IS", "LI", "NO"),
    }
)

_ALL: tuple[Jurisdiction, ...] = (
    Jurisdiction(
        key="gdpr",
        name="EU General Data Protection Regulation",
        region="EU/EEA",
        restricts_transfers=True,
        adequate=frozenset({"GB"}),
        adequacy_citation="Commission Implementing Decision (EU) 2021/1772 (UK), renewed in 2025",
        countries=_EEA,
        request_deadline=RequestDeadline(
            respond_within=Duration(months=1),
            extension=Duration(months=2),
            max_extensions=1,
            notify_extension_within=Duration(months=1),
            citation="GDPR Art. 12(3)",
        ),
        breach_authority="the lead supervisory authority",
        notes=(
            "Free of charge; manifestly unfounded or excessive requests may be refused (Art. 12(5)).",
        ),
    ),
    Jurisdiction(
        key="uk_gdpr",
        name="UK GDPR and Data Protection Act 2018",
        region="UK",
        restricts_transfers=True,
        adequate=_EEA,
        adequacy_citation="The Data Protection (Adequacy) (United Kingdom Amendment) Regulations "
        "2021 and DPA 2018 s. 17A (EEA states)",
        countries=frozenset({"GB"}),
        request_deadline=RequestDeadline(
            respond_within=Duration(months=1),
            extension=Duration(months=2),
            max_extensions=1,
            notify_extension_within=Duration(months=1),
            citation="UK GDPR Art. 12(3)",
        ),
        breach_authority="the Information Commissioner's Office (ICO)",
        notes=("The Data (Use and Access) Act 2025 pauses the clock while identity is awaited.",),
    ),
    Jurisdiction(
        key="ccpa",
        name="California Consumer Privacy Act as amended by the CPRA",
        region="US-CA",
        countries=frozenset({"US-CA"}),
        request_deadline=RequestDeadline(
            respond_within=Duration(days=45),
            extension=Duration(days=45),
            max_extensions=1,
            notify_extension_within=Duration(days=45),
            citation="Cal. Civ. Code 1798.130(a)(2)",
        ),
        breach_authority="the California Attorney General (over 500 residents)",
        gpc_is_opt_out=True,
        notes=(
            "Confirm receipt within 10 business days (CCPA regs 7021).",
            "Opt-out of sale/sharing honoured within 15 business days (regs 7026(f)).",
            "Global Privacy Control is a valid opt-out signal (regs 7025).",
        ),
    ),
    Jurisdiction(
        key="lgpd",
        name="Brazil's Lei Geral de Proteção de Dados",
        region="BR",
        restricts_transfers=True,
        countries=frozenset({"BR"}),
        request_deadline=RequestDeadline(
            respond_within=Duration(days=15), citation="LGPD Art. 19 II"
        ),
        breach_authority="the ANPD",
    ),
    Jurisdiction(
        key="pipeda",
        name="Canada's Personal Information Protection and Electronic Documents Act",
        region="CA",
        countries=frozenset({"CA"}),
        request_deadline=RequestDeadline(
            respond_within=Duration(days=30),
            extension=Duration(days=30),
            max_extensions=1,
            notify_extension_within=Duration(days=30),
            citation="PIPEDA s. 8(3)-(4)",
        ),
        breach_authority="the Office of the Privacy Commissioner of Canada",
        notes=("No reply within the time limit is deemed a refusal (s. 8(5)).",),
    ),
)


_GLOBAL = Jurisdiction(
    key=GLOBAL,
    name="the same rights for everyone, wherever they live",
    region="*",
    request_deadline=None,
    notes=(
        (
            "Not a law: the policy's own promise. Requests are due when the policy's "
            "requests.respond_within says; without it they have no deadline."
        ),
    ),
)


@functools.cache
def _index() -> Mapping[str, Jurisdiction]:
    return {**{j.key: j for j in _ALL}, GLOBAL: _GLOBAL}


def jurisdictions() -> tuple[Jurisdiction, ...]:
    """Every built-in law (:data:`GLOBAL`, which is not a law, is not among them).

    Example:
        >>> [j.key for j in jurisdictions()]
        ['gdpr', 'uk_gdpr', 'ccpa', 'lgpd', 'pipeda']
    """
    return _ALL


def _normalise(key: str) -> str:
    return key.strip().casefold().replace("-", "_").replace(" ", "_")


def _region_matches(key: str) -> list[str]:
    """The jurisdictions whose region is (or contains) ``key``: ``us`` -> ccpa (region US-CA)."""
    wanted = _normalise(key).replace("_", "")
    exact, partial = [], []
    for j in _ALL:
        region = j.region.casefold()
        if region.replace("-", "").replace("/", "") == wanted:
            exact.append(j.key)
        elif wanted in region.replace("/", "-").split("-"):
            partial.append(j.key)
    return exact + partial


def get_jurisdiction(key: str) -> Jurisdiction:
    """The jurisdiction ``key``, found whatever its case (``"GDPR"``, ``"uk-gdpr"``).

    Raises:
        UnknownNameError: an unknown key (a ``KeyError`` too), with a "did you mean" hint (by
            spelling, or by region: ``"us"`` suggests ``'ccpa'``, whose region is US-CA) and the
            list of known keys.
        WrongTypeError: ``key`` is not a string.

    Example:
        >>> get_jurisdiction("lgpd").request_deadline.citation
        'LGPD Art. 19 II'
        >>> get_jurisdiction("GDPR").key
        'gdpr'
        >>> get_jurisdiction("us")
        Traceback (most recent call last):
        ...
        privacy_kit._errors.UnknownNameError: unknown jurisdiction 'us'; did you mean 'ccpa'? (known: gdpr, uk_gdpr, ccpa, lgpd, pipeda, global)
    """
    if not isinstance(key, str):
        raise WrongTypeError(f"a jurisdiction key must be a string, got {type(key).__name__}")
    found = _index().get(_normalise(key))
    if found is not None:
        return found
    keys = list(_index())
    hint = closest(_normalise(key), keys) or next(iter(_region_matches(key)), None)
    raise UnknownNameError("jurisdiction", key, hint=hint, known=keys)


def governing_jurisdiction(country: str) -> Jurisdiction | None:
    """The built-in law that governs a resident of ``country``, or ``None`` if none does.

    Args:
        country: an ISO 3166-1 alpha-2 code (``DE``), or an ISO 3166-2 subdivision (``US-CA``)
            where the law is a state's; case does not matter. ``US`` alone is governed by no
            built-in law (the CCPA covers California residents: give ``US-CA``).

    Raises:
        WrongTypeError: ``country`` is not a string.
        ConfigurationError: ``country`` is not an ISO 3166 code, or not an assigned one
            (``XX``, ``UK``: see :func:`~privacy_kit.model._countries.check_country`).

    Example:
        >>> governing_jurisdiction("de").key, governing_jurisdiction("US-CA").key
        ('gdpr', 'ccpa')
        >>> governing_jurisdiction("JP") is None, governing_jurisdiction("US") is None
        (True, True)
    """
    code = check_country(country)
    for j in _ALL:
        if code in j.countries or code.split("-")[0] in j.countries:
            return j
    return None
