"""Country codes checked for membership, not only shape: ISO 3166-1 alpha-2 from package data.

``data/iso3166.json`` lists the 249 assigned alpha-2 codes. A code outside them is refused with
what it is: a user-assigned code (``AA``, ``QM``-``QZ``, ``XA``-``XZ``, ``ZZ``) means whatever
its user decides, so only ``XK`` (Kosovo, as the European Commission and many states use it) is
accepted, on purpose; a reserved code gets a hint (``UK`` -> ``GB``, the EU's ``EL`` -> ``GR``);
anything else (``XX``, ``FX``) is simply not assigned. A subdivision (``US-CA``) is checked for
its country; its own part, ISO 3166-2's thousands of codes, only for its shape. The tables of
minimum ages (:mod:`privacy_kit.lifecycle`) keep their own keys (``EL``, user-assigned codes) on
purpose and are not checked here. The table is read on first use, never at import.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from importlib import resources
from typing import Annotated, Any

import attrs
from pydantic import AfterValidator

from .._errors import ConfigurationError, WrongTypeError

__all__ = ["CountryCode", "check_country", "country_problem"]

_SHAPE = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


@attrs.frozen
class _Table:
    assigned: frozenset[str]
    accepted: Mapping[str, str]  # user-assigned codes taken on purpose, with why
    hints: Mapping[str, str]  # reserved codes and the assigned code meant


@functools.cache
def _table() -> _Table:
    raw = resources.files("privacy_kit").joinpath("data/iso3166.json").read_bytes()
    data: Mapping[str, Any] = json.loads(raw)  # package data: orjson is not needed for it
    return _Table(frozenset(data["assigned"]), dict(data["user_assigned"]), dict(data["hints"]))


def _user_assigned(code: str) -> bool:
    return code in ("AA", "ZZ") or (code[0] == "Q" and code[1] >= "M") or code[0] == "X"


def country_problem(code: str) -> str | None:
    """What is wrong with ``code`` (upper case, two letters) as a country, or ``None``.

    Example:
        >>> country_problem("DE") is None, country_problem("XK") is None
        (True, True)
        >>> country_problem("UK")
        "'UK' is reserved, not assigned, in ISO 3166-1 alpha-2; did you mean 'GB'?"
        >>> country_problem("XX")
        "'XX' is user-assigned in ISO 3166-1 alpha-2 (privacy_kit accepts only 'XK', Kosovo)"
    """
    table = _table()
    if code in table.assigned or code in table.accepted:
        return None
    if code in table.hints:
        return (
            f"{code!r} is reserved, not assigned, in ISO 3166-1 alpha-2; "
            f"did you mean {table.hints[code]!r}?"
        )
    if _user_assigned(code):
        accepted = ", ".join(f"{c!r}, {why.split(':')[0]}" for c, why in table.accepted.items())
        return (
            f"{code!r} is user-assigned in ISO 3166-1 alpha-2 (privacy_kit accepts only {accepted})"
        )
    return f"{code!r} is not an assigned ISO 3166-1 alpha-2 code"


def check_country(value: object, *, what: str = "country") -> str:
    """``value`` as a country code, stripped and upper-cased: an assigned ISO 3166-1 alpha-2 code
    (``DE``) or a subdivision of one (``US-CA``).

    Args:
        value: the code given.
        what: what the value is, for the error (``"country"``, ``"storage.locations[0].country"``).

    Raises:
        WrongTypeError: ``value`` is not a string.
        ConfigurationError: ``value`` is not shaped like an ISO 3166 code, or its country is not
            assigned (see :func:`country_problem`).

    Example:
        >>> check_country(" us-ca ")
        'US-CA'
        >>> check_country("QQ-1", what="country")
        Traceback (most recent call last):
        ...
        privacy_kit._errors.ConfigurationError: invalid country 'QQ-1': 'QQ' is user-assigned in ISO 3166-1 alpha-2 (privacy_kit accepts only 'XK', Kosovo)
    """
    if not isinstance(value, str):
        raise WrongTypeError(f"a {what} must be a string, got {type(value).__name__}")
    code = value.strip().upper()
    if not _SHAPE.match(code):
        raise ConfigurationError(
            f"invalid {what} {value!r}: expected an ISO 3166 code such as 'DE' or 'US-CA'"
        )
    problem = country_problem(code[:2])
    if problem is not None:
        raise ConfigurationError(f"invalid {what} {value!r}: {problem}")
    return code


def _assigned(value: str) -> str:
    problem = country_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


CountryCode = Annotated[str, AfterValidator(_assigned)]
"""A field holding an ISO 3166-1 alpha-2 code (shape checked by the field's ``pattern``), checked
to be assigned; a pydantic ``ValueError`` the loader locates (file, path) otherwise."""
