"""Global Privacy Control: the ``Sec-GPC`` request header as an opt-out of sale or sharing.

Per the GPC specification a request carries the signal only when ``Sec-GPC`` is exactly ``1``
(surrounding whitespace, which HTTP does not count as part of a field value, aside). Whether the
signal *is* an opt-out depends on the law: California treats it as a valid request to opt out of
sale and sharing (CCPA regs 7025); the jurisdictions table says so with ``gpc_is_opt_out``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from ..model._jurisdictions import Jurisdiction, get_jurisdiction
from ..model._policy_rights import Right

__all__ = ["GpcDecision", "gpc_decision", "gpc_signal"]

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def gpc_signal(headers: Headers) -> bool:
    """Whether the request headers carry a Global Privacy Control signal.

    Header names are case-insensitive. A repeated ``Sec-GPC`` header counts only if every value
    is ``1``; any other value (``true``, ``01``, empty) is no signal.

    Example:
        >>> gpc_signal({"Sec-GPC": "1"}), gpc_signal({"sec-gpc": " 1 "}), gpc_signal({"Sec-GPC": "true"})
        (True, True, False)
        >>> gpc_signal([("Sec-GPC", "1"), ("Sec-GPC", "0")])
        False
    """
    items = headers.items() if isinstance(headers, Mapping) else headers
    values = [str(v).strip() for k, v in items if str(k).strip().lower() == "sec-gpc"]
    return bool(values) and all(v == "1" for v in values)


@attrs.frozen
class GpcDecision:
    """What a request's GPC signal means under one jurisdiction.

    Attributes:
        signal: the request carried ``Sec-GPC: 1``.
        jurisdiction: the jurisdiction key.
        opt_out: treat the request as an opt-out of sale or sharing.
        right: the right exercised (``opt_out_of_sale``) when ``opt_out``.
        reason: why, with the citation.
    """

    signal: bool
    jurisdiction: str
    opt_out: bool
    right: Right | None
    reason: str


def gpc_decision(headers: Headers, jurisdiction: str | Jurisdiction) -> GpcDecision:
    """Decide whether a request's GPC signal is an opt-out of sale/sharing in ``jurisdiction``.

    Raises:
        KeyError: for an unknown jurisdiction key (with a "did you mean" hint).

    Example:
        >>> gpc_decision({"Sec-GPC": "1"}, "ccpa").opt_out
        True
        >>> gpc_decision({"Sec-GPC": "1"}, "gdpr").opt_out
        False
        >>> gpc_decision({}, "ccpa").reason
        'no Global Privacy Control signal (Sec-GPC is not exactly "1")'
    """
    j = jurisdiction if isinstance(jurisdiction, Jurisdiction) else get_jurisdiction(jurisdiction)
    if not gpc_signal(headers):
        reason = 'no Global Privacy Control signal (Sec-GPC is not exactly "1")'
        return GpcDecision(
            signal=False, jurisdiction=j.key, opt_out=False, right=None, reason=reason
        )
    if j.gpc_is_opt_out:
        note = next((n for n in j.notes if "Global Privacy Control" in n), j.name)
        return GpcDecision(
            signal=True,
            jurisdiction=j.key,
            opt_out=True,
            right=Right.OPT_OUT_OF_SALE,
            reason=f"opt-out of sale/sharing: {note}",
        )
    return GpcDecision(
        signal=True,
        jurisdiction=j.key,
        opt_out=False,
        right=None,
        reason=f"{j.name} does not make the GPC signal an opt-out; record it as a preference",
    )
