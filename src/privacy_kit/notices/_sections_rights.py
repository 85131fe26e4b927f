"""The notice's sentences about rights, requests and disclosures, read from what the policy
declares and nothing else: the ``global`` promise and the policy's own reply deadline, how
identity is checked (methods are alternatives; the pieces of information and the agents' proof
are all required), decisions made by solely automated means, and the conditions on a recipient's
disclosures (legal process, telling the person, notice before a business transfer).

Each function returns blocks or detail lines that :mod:`._sections` places; a policy that
declares none of these gets none of these sentences.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from ..model._jurisdictions import GLOBAL, get_jurisdiction
from ..model._policy_collection import Recipient
from ..model._policy_rights import IdentityVerification, Right
from ._document import Inline, _Block, _Ctx, _Para, _Run, _Sub

__all__: list[str] = []


def _strong(runs: Inline) -> Inline:
    return tuple(attrs.evolve(r, strong=True) for r in runs)


def _sentences(parts: list[Inline]) -> Inline:
    out: list[_Run] = []
    for i, part in enumerate(parts):
        if i:
            out.append(_Run(" "))
        out.extend(part)
    return tuple(out)


# --- rights --------------------------------------------------------------------------------


def everywhere(ctx: _Ctx) -> Inline:
    """Where a right offered without a jurisdiction applies."""
    if GLOBAL in ctx.policy.jurisdictions:
        return ctx.law(GLOBAL)
    return ctx.t("rights.everywhere")


def law_details(ctx: _Ctx, key: str, offered: list[Right]) -> list[Inline]:
    """The lines of one entry of "your rights under each law": the rights, then the deadline
    (the law's own, or for ``global`` the policy's ``respond_within`` when it sets one)."""
    details: list[Inline] = []
    if offered:
        details.append(
            ctx.labelled(
                "label.rights",
                ctx.join([ctx.t(f"right.{r.value}") for r in dict.fromkeys(offered)]),
            )
        )
    deadline = get_jurisdiction(key).request_deadline
    if deadline is None:  # global: the policy's own promise, or none at all
        within = ctx.policy.requests.respond_within
        if within is not None:
            details.append(ctx.t("law.policy_reply", duration=ctx.duration(within)))
        return details
    details.append(
        ctx.t(
            "law.reply",
            duration=ctx.duration(deadline.respond_within),
            citation=deadline.citation,
        )
    )
    if deadline.extension is not None:
        details.append(ctx.t("law.extension", duration=ctx.duration(deadline.extension)))
    return details


def automated_decisions(ctx: _Ctx) -> Iterator[_Block]:
    """The sub-section on solely automated decisions, when the policy declares it."""
    decisions = ctx.policy.automated_decisions
    if decisions is None:
        return
    yield _Sub(ctx.t("heading.automated"))
    lines = [
        ctx.t("automated.used" if decisions.used else "automated.not_used"),
        ctx.text(decisions.description),
    ]
    yield _Para(_sentences(lines))
    if decisions.logic is not None:
        yield _Para(ctx.labelled("label.logic", ctx.text(decisions.logic)))


# --- requests ------------------------------------------------------------------------------


def reply_promise(ctx: _Ctx) -> list[Inline]:
    """The policy's own reply deadline, when it sets one and ``global`` does not already say it."""
    within = ctx.policy.requests.respond_within
    if within is None or GLOBAL in ctx.policy.jurisdictions:
        return []
    return [ctx.t("requests.respond_within", duration=ctx.duration(within))]


def _piece(ctx: _Ctx, name: str) -> Inline:
    key = f"piece.{name}"
    return ctx.t(key) if ctx.has_phrase(key) else (_Run(name.replace("_", " ")),)


def identity(ctx: _Ctx) -> Iterator[_Block]:
    """How identity is checked, exactly as ``requests.identity`` declares it (nothing when the
    policy declares nothing)."""
    ident = ctx.policy.requests.identity
    if ident is None:
        return
    yield _Sub(ctx.t("heading.identity"))
    yield _Para(_sentences(_identity_lines(ctx, ident)))
    agents = ident.agents
    if agents is not None:
        lines: list[Inline] = []
        if agents.allowed:
            lines.append(ctx.t("identity.agents_allowed"))
            if agents.proof:
                proofs = [ctx.t(f"proof.{p.value}") for p in agents.proof]
                lines.append(ctx.t("identity.agents_proof", proofs=ctx.join(proofs)))
        else:
            lines.append(ctx.t("identity.agents_not_allowed"))
        if agents.description is not None:
            lines.append(ctx.text(agents.description))
        yield _Para(_sentences(lines))


def _identity_lines(ctx: _Ctx, ident: IdentityVerification) -> list[Inline]:
    lines: list[Inline] = []
    if not ident.required:
        lines.append(ctx.t("identity.not_required"))
    elif ident.methods:  # alternatives: any one of them will do
        methods = [ctx.t(f"identity.{m}") for m in ident.methods]
        lines.append(ctx.t("identity.required", methods=ctx.join(methods, last="list.or_last")))
    else:
        lines.append(ctx.t("identity.checked"))
    pieces = [_piece(ctx, p) for p in ident.required_pieces]
    if ident.min_pieces is not None:  # conditions: all of them hold
        key = "identity.piece_one" if ident.min_pieces == 1 else "identity.pieces"
        lines.append(ctx.t(key, count=str(ident.min_pieces)))
        if pieces:
            lines.append(ctx.t("identity.including", pieces=ctx.join(pieces)))
    elif pieces:
        lines.append(ctx.t("identity.required_pieces", pieces=ctx.join(pieces)))
    if ident.description is not None:  # the policy's own words say it better than the stock phrase
        lines.append(ctx.text(ident.description))
    elif ident.extra_proof_may_be_required:
        lines.append(ctx.t("identity.extra"))
    return lines


# --- disclosures ---------------------------------------------------------------------------


def disclosure_conditions(ctx: _Ctx, recipient: Recipient) -> list[Inline]:
    """The conditions a recipient's disclosures are made under, as the policy declares them."""
    lines: list[Inline] = []
    if recipient.legal_process:
        processes = [ctx.t(f"process.{p}") for p in recipient.legal_process]
        lines.append(
            ctx.t("disclosure.legal_process", processes=ctx.join(processes, last="list.or_last"))
        )
    if recipient.notify_subject is not None:
        lines.append(ctx.t(f"disclosure.notify_{recipient.notify_subject}"))
    if recipient.notify_before_transfer:
        lines.append(ctx.t("disclosure.notify_before_transfer"))
    return lines
