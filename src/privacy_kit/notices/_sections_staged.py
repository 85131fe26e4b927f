"""Notice rendering of staged deletion: live purge and backup expiry after a rule's end.

A rule with ``purge_within``, or whose data backups hold (``storage.locations`` of kind
``backup``), gets one more line under its retention: within how long it is carried out on live
systems, within how long more backups roll off, and the outer bound in all.
"""

from __future__ import annotations

from ..model._policy_retention import RetentionRule
from ..model._staged import staged_bound
from ._document import Inline, _Ctx

__all__: list[str] = []


def staged_line(ctx: _Ctx, rule: RetentionRule) -> Inline | None:
    """The "Removal" line for ``rule`` (``None``: nothing is staged after its end).

    A rule kept forever has no end, so no removal is promised (its backups roll off, but the
    live data stays).
    """
    bound = staged_bound(ctx.policy, rule)
    if rule.indefinite or not bound.staged:
        return None
    trigger = ctx.trigger(rule)
    total = ctx.duration(bound.total)
    if bound.purge_within is not None and bound.backup_expiry is not None:
        line = ctx.t(
            "retention.staged_both",
            purge=ctx.duration(bound.purge_within),
            backup=ctx.duration(bound.backup_expiry),
            total=total,
            trigger=trigger,
        )
    elif bound.purge_within is not None:
        line = ctx.t(
            "retention.staged_live",
            purge=ctx.duration(bound.purge_within),
            total=total,
            trigger=trigger,
        )
    else:
        assert bound.backup_expiry is not None  # staged: one of the two is set
        line = ctx.t(
            "retention.staged_backups",
            backup=ctx.duration(bound.backup_expiry),
            total=total,
            trigger=trigger,
        )
    return ctx.labelled("label.removed", line)
