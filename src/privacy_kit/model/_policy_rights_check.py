"""Cross-reference checks of the rights, requests and disclosure-condition parts of a policy.

:func:`_rights_problems` is called once from the policy's own validation (``_policy_problems``):
it refuses what a notice could only render as a contradiction (a verification rule that asks for
fewer pieces than it requires, proof for agents that are not allowed, an automated-decision logic
for decisions that are not made), a non-positive reply deadline, and disclosure conditions on a
recipient whose kind cannot carry them, each at its own location.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .._errors import Problem
from ._policy_collection import Recipient, RecipientKind
from ._policy_rights import AutomatedDecisions, Requests

__all__: list[str] = []


def _rights_problems(
    requests: Requests, decisions: AutomatedDecisions | None, recipients: Sequence[Recipient]
) -> Iterator[Problem]:
    """The located problems of the requests, automated-decisions and recipients sections
    (taken as sections, not as the policy, which imports this module)."""
    if requests.respond_within is not None and requests.respond_within.is_zero():
        yield Problem("requests.respond_within", "duration must be positive")
    ident = requests.identity
    if ident is not None:
        where = "requests.identity"
        if not ident.required and (ident.min_pieces or ident.required_pieces or ident.methods):
            yield Problem(
                f"{where}.required",
                "identity is declared as not required, yet methods or pieces to check are "
                "declared; remove them or set required: true",
            )
        seen: set[str] = set()
        for j, piece in enumerate(ident.required_pieces):
            if piece in seen:
                yield Problem(f"{where}.required_pieces[{j}]", f"duplicate piece {piece!r}")
            seen.add(piece)
        if ident.min_pieces is not None and ident.min_pieces < len(seen):
            yield Problem(
                f"{where}.min_pieces",
                f"min_pieces {ident.min_pieces} is fewer than the {len(seen)} required pieces "
                f"({', '.join(sorted(seen))}); give at least {len(seen)}",
            )
        agents = ident.agents
        if agents is not None and not agents.allowed and agents.proof:
            yield Problem(
                f"{where}.agents.proof",
                "proof is declared for authorised agents, but agents are not allowed",
            )
    if decisions is not None and not decisions.used and decisions.logic is not None:
        yield Problem(
            "automated_decisions.logic",
            "the logic of automated decisions is given, but used is false",
        )
    for i, r in enumerate(recipients):
        if r.legal_process and r.kind is not RecipientKind.AUTHORITIES:
            yield Problem(
                f"recipients[{i}].legal_process",
                f"legal process applies to authorities, not to a recipient of kind {r.kind.value!r}",
            )
        if len(set(r.legal_process)) != len(r.legal_process):
            yield Problem(f"recipients[{i}].legal_process", "a process kind is listed twice")
        if r.notify_before_transfer and r.kind is not RecipientKind.BUSINESS_TRANSFER:
            yield Problem(
                f"recipients[{i}].notify_before_transfer",
                "notice before a transfer applies to business_transfer recipients, not to "
                f"kind {r.kind.value!r}",
            )
