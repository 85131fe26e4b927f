"""Global Privacy Control: exactly "1" is a signal; an opt-out only where the law says so."""

from __future__ import annotations

import pytest

import privacy_kit as pk
from privacy_kit.interop.gpc import gpc_decision, gpc_signal


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Sec-GPC": "1"}, True),
        ({"sec-gpc": "1"}, True),
        ({"SEC-GPC": " 1\t"}, True),
        ({"Sec-GPC": "0"}, False),
        ({"Sec-GPC": "true"}, False),
        ({"Sec-GPC": "01"}, False),
        ({"Sec-GPC": "1.0"}, False),
        ({"Sec-GPC": ""}, False),
        ({"Sec-GPC": "1, 1"}, False),
        ({"DNT": "1"}, False),
        ({}, False),
        ([("Sec-GPC", "1"), ("Sec-GPC", "1")], True),
        ([("Sec-GPC", "1"), ("sec-gpc", "2")], False),
    ],
)
def test_signal(headers: object, expected: bool) -> None:
    assert gpc_signal(headers) is expected  # type: ignore[arg-type]


def test_decision_follows_the_jurisdiction() -> None:
    for j in pk.jurisdictions():
        decision = gpc_decision({"Sec-GPC": "1"}, j.key)
        assert decision.signal
        assert decision.opt_out is j.gpc_is_opt_out
        assert decision.jurisdiction == j.key
    ccpa = gpc_decision({"Sec-GPC": "1"}, pk.get_jurisdiction("ccpa"))
    assert ccpa.right is pk.Right.OPT_OUT_OF_SALE
    assert "regs 7025" in ccpa.reason
    gdpr = gpc_decision({"Sec-GPC": "1"}, "gdpr")
    assert gdpr.right is None
    assert "does not make the GPC signal an opt-out" in gdpr.reason
    none = gpc_decision({"Sec-GPC": "yes"}, "ccpa")
    assert (none.signal, none.opt_out, none.right) == (False, False, None)


def test_unknown_jurisdiction() -> None:
    with pytest.raises(KeyError, match="did you mean 'ccpa'"):
        gpc_decision({"Sec-GPC": "1"}, "cppa")
