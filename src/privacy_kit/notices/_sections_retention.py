"""The notice's words for data kept indefinitely and for ``blind`` rules.

A rule kept ``forever`` is stated once, with its reason, and never also as "deleted when ...".
An exception kept ``forever`` that covers all of the rule's data makes the rule's own end untrue,
so the rule then says "kept indefinitely" instead of its trigger and action; one that covers
part of it leaves the end line saying what is kept from it. A ``blind`` rule says which data is
anonymised and that the rest is kept.
"""

from __future__ import annotations

from ..model._policy_retention import RetentionAction, RetentionRule
from ..model._taxonomy import is_within
from ._document import Inline, _Ctx, _Run

__all__: list[str] = []


def _forever_categories(rule: RetentionRule) -> tuple[str, ...]:
    """The rule's categories an indefinite exception keeps (the exception's, or all of them)."""
    out: dict[str, None] = {}
    for e in rule.indefinite_exceptions:
        out.update(dict.fromkeys(e.categories or rule.categories))
    return tuple(out)


def kept_forever_entirely(rule: RetentionRule) -> bool:
    """Whether all of the rule's data is kept indefinitely (by the rule or by an exception)."""
    if rule.indefinite:
        return True
    kept = _forever_categories(rule)
    return bool(kept) and all(any(is_within(c, k) for k in kept) for c in rule.categories)


def retention_details(ctx: _Ctx, rule: RetentionRule) -> list[Inline] | None:
    """The "Kept" and "Then" lines of a rule, or ``None`` when the usual ones are true."""
    if kept_forever_entirely(rule):
        details = [ctx.labelled("label.kept", ctx.t("retention.forever"))]
        if rule.reason is not None:
            details.append(ctx.labelled("label.why", ctx.text(rule.reason)))
        return details
    partly = _forever_categories(rule)
    if not partly and rule.action is not RetentionAction.BLIND:
        return None
    span = ctx.retention(rule)
    if rule.action is RetentionAction.BLIND:
        end = ctx.t("action.blind", categories=ctx.names_of("categories", rule.blind))
    else:
        end = ctx.t(f"action.{rule.action.value}")
    if partly:
        end = (
            *end,
            _Run(ctx.word("semicolon")),
            *ctx.t("retention.except_forever", categories=ctx.names_of("categories", partly)),
        )
    return [ctx.labelled("label.kept", span), ctx.labelled("label.at_end", end)]


def exception_span(ctx: _Ctx, indefinite: bool) -> Inline | None:
    """How long an exception keeps data, when it is kept indefinitely."""
    return ctx.t("retention.exception_forever") if indefinite else None
