"""Global Privacy Control: the ``Sec-GPC`` request header as an opt-out of sale or sharing.

Per the GPC specification a request carries the signal only when ``Sec-GPC`` is exactly ``1``
(surrounding whitespace, which HTTP does not count as part of a field value, aside). Whether the
signal *is* an opt-out depends on the law: California treats it as a valid request to opt out of
sale and sharing (CCPA regs 7025); the jurisdictions table says so with ``gpc_is_opt_out``.
Whether the *service promises* to honour it is the policy's ``signals`` section: given the policy,
:func:`gpc_decision` applies its promise too, and says so when the policy makes none (it never
reads silence as a promise).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from ..model._jurisdictions import Jurisdiction, get_jurisdiction
from ..model._policy import Policy
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
    """What a request's GPC signal means under one jurisdiction (and the policy, when given).

    Attributes:
        signal: the request carried ``Sec-GPC: 1``.
        jurisdiction: the jurisdiction key.
        opt_out: treat the request as an opt-out of sale or sharing.
        right: the right exercised (``opt_out_of_sale``) when ``opt_out``.
        reason: why, with the citation (and the policy's promise, or its absence).
        policy_promise: the policy's declared answer: ``True`` honoured, ``False`` not honoured,
            ``None`` when the policy makes no GPC promise (or no policy was given).
        conflict: the policy says it does not honour GPC where the law makes it an opt-out (the
            law wins; fix the policy).
    """

    signal: bool
    jurisdiction: str
    opt_out: bool
    right: Right | None
    reason: str
    policy_promise: bool | None = None
    conflict: bool = False


def gpc_decision(
    headers: Headers, jurisdiction: str | Jurisdiction, *, policy: Policy | None = None
) -> GpcDecision:
    """Decide whether a request's GPC signal is an opt-out of sale/sharing in ``jurisdiction``.

    Without ``policy`` only the law decides. With it, the policy's ``signals`` entry for ``gpc``
    counts too: honoured, the signal is an opt-out wherever the policy applies; not honoured, it
    is one only where the law requires it (``conflict`` is then set); no entry, only the law
    decides and the reason says that the policy makes no GPC promise.

    Raises:
        KeyError: for an unknown jurisdiction key (with a "did you mean" hint).

    Example:
        >>> gpc_decision({"Sec-GPC": "1"}, "ccpa").opt_out
        True
        >>> gpc_decision({"Sec-GPC": "1"}, "gdpr").opt_out
        False
        >>> gpc_decision({}, "ccpa").reason
        'no Global Privacy Control signal (Sec-GPC is not exactly "1")'
        >>> import privacy_kit as pk
        >>> d = gpc_decision({"Sec-GPC": "1"}, "gdpr", policy=pk.load_policy(pk.example_path()))
        >>> d.opt_out, d.policy_promise, d.reason.split(";")[0]
        (False, None, 'the policy makes no Global Privacy Control promise')
    """
    j = jurisdiction if isinstance(jurisdiction, Jurisdiction) else get_jurisdiction(jurisdiction)
    declared = policy.signal("gpc") if policy is not None else None
    promise = declared.honoured if declared is not None else None
    if not gpc_signal(headers):
        reason = 'no Global Privacy Control signal (Sec-GPC is not exactly "1")'
        return GpcDecision(
            signal=False,
            jurisdiction=j.key,
            opt_out=False,
            right=None,
            reason=reason,
            policy_promise=promise,
        )
    law = None
    if j.gpc_is_opt_out:
        note = next((n for n in j.notes if "Global Privacy Control" in n), j.name)
        law = f"opt-out of sale/sharing: {note}"

    def decided(opt_out: bool, reason: str, *, conflict: bool = False) -> GpcDecision:
        return GpcDecision(
            signal=True,
            jurisdiction=j.key,
            opt_out=opt_out,
            right=Right.OPT_OUT_OF_SALE if opt_out else None,
            reason=reason,
            policy_promise=promise,
            conflict=conflict,
        )

    not_opt_out = f"{j.name} does not make the GPC signal an opt-out; record it as a preference"
    if policy is None:
        return (
            decided(opt_out=True, reason=law)
            if law is not None
            else decided(opt_out=False, reason=not_opt_out)
        )
    if promise is True:
        reason = f"opt-out of sale/sharing: policy {policy.version} promises to honour GPC"
        if law is not None:
            reason += f"; the law agrees ({law.removeprefix('opt-out of sale/sharing: ')})"
        return decided(opt_out=True, reason=reason)
    said = (
        f"policy {policy.version} says it does not honour Global Privacy Control"
        if promise is False
        else "the policy makes no Global Privacy Control promise"
    )
    if law is not None:
        return decided(
            opt_out=True,
            reason=f"{said}; {law} (the law applies whatever the policy says)",
            conflict=promise is False,
        )
    return decided(opt_out=False, reason=f"{said}; {not_opt_out}")
