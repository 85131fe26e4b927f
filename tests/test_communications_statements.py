"""A communication says only what the policy declares: no channel or opt-out of its own.

``Communication.channel`` used to default to ``email`` (the notice then named a channel the policy
never gave) and ``unsubscribe_link: false`` rendered "You can opt out of these messages at any
time" whatever the policy offered. Absent now means no statement.
"""

from __future__ import annotations

from typing import Any

import privacy_kit as pk
from privacy_kit.model import Policy

EXAMPLE = pk.load_policy(pk.example_path())


def _policy(comm: dict[str, Any], *, opt_out: bool) -> Policy:
    data = EXAMPLE.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["communications"] = [comm]
    if not opt_out:
        data["rights"] = [r for r in data["rights"] if r["right"] != "opt_out"]
    return Policy.model_validate(data)


BARE = {
    "key": "digest",
    "kind": "promotional",
    "purpose": "marketing.email",
    "description": {"en": "A monthly digest of new features."},
}


def _section(policy: Policy) -> str:
    text = pk.render_notice(policy, format="md")
    start = text.index("A monthly digest")
    return text[start : text.index("\n#", start)]  # up to the next heading


def test_a_bare_communication_names_no_channel_and_no_opt_out() -> None:
    policy = _policy(BARE, opt_out=False)
    comm = policy.communications[0]
    assert comm.channel is None
    assert comm.unsubscribe_link is None
    part = _section(policy)
    for invented in ("e-mail", "Sent by", "unsubscribe", "opt out", "at any time"):
        assert invented.lower() not in part.lower(), invented


def test_unsubscribe_false_is_no_opt_out_promise_of_its_own() -> None:
    part = _section(_policy({**BARE, "unsubscribe_link": False}, opt_out=False))
    assert "at any time" not in part
    assert "unsubscribe link" not in part


def test_declared_statements_are_rendered() -> None:
    part = _section(_policy({**BARE, "channel": "sms", "unsubscribe_link": True}, opt_out=False))
    assert "text message" in part
    assert "Every message has an unsubscribe link." in part
    # The opt-out right the policy offers backs "opt out at any time".
    assert "at any time" in _section(_policy(BARE, opt_out=True))


def test_the_model_keeps_absent_statements_absent() -> None:
    policy = _policy(BARE, opt_out=False)
    dumped = policy.model_dump(mode="json", exclude_none=True)["communications"][0]
    assert "channel" not in dumped
    assert "unsubscribe_link" not in dumped
