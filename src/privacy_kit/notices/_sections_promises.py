"""Notice blocks for promises a policy may or may not make: what it does not collect, how it
answers browser signals, its products, its breach promise and its minimum age.

Each builder yields nothing when the policy is silent, so the notice never states a promise the
policy did not make (no breach deadline, no minimum age, no GPC opt-out, no "by e-mail" of its
own).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import attrs

from .._types import LocalizedText
from ._document import Inline, _Block, _Ctx, _Entry, _List, _Para, _Run, _Sub

__all__: list[str] = []


def _strong(runs: Inline) -> Inline:
    return tuple(attrs.evolve(r, strong=True) for r in runs)


def _head(ctx: _Ctx, title: Inline, text: LocalizedText | None) -> Inline:
    if text is None:
        return _strong(title)
    return (*_strong(title), _Run(ctx.word("colon")), *ctx.text(text))


def _sentences(parts: Sequence[Inline]) -> Inline:
    out: list[_Run] = []
    for i, part in enumerate(parts):
        if i:
            out.append(_Run(" "))
        out.extend(part)
    return tuple(out)


def products_label(ctx: _Ctx, keys: Sequence[str]) -> list[Inline]:
    """A "Products: ..." detail line for an item scoped to ``keys`` (none when it is for all)."""
    if not keys:
        return []
    names = [ctx.text(ctx.policy.product(k).name) for k in dict.fromkeys(keys)]
    return [ctx.labelled("label.products", ctx.join(names))]


def products_blocks(ctx: _Ctx) -> Iterator[_Block]:
    """The products the notice covers (for the "about" section)."""
    products = ctx.policy.products
    if not products:
        return
    yield _Sub(ctx.t("heading.products"))
    yield _List(tuple(_Entry(_head(ctx, ctx.text(p.name), p.description)) for p in products))


def not_collected_blocks(ctx: _Ctx) -> Iterator[_Block]:
    """The policy's negative promises (for the "collected" section)."""
    declared = ctx.policy.not_collected
    if not declared:
        return
    yield _Sub(ctx.t("heading.not_collected"))
    yield _List(
        tuple(
            _Entry(_head(ctx, ctx.names_of("categories", nc.categories), nc.description))
            for nc in declared
        )
    )


def signals_blocks(ctx: _Ctx) -> Iterator[_Block]:
    """How the service answers browser signals, exactly as declared (for the "rights" section)."""
    signals = ctx.policy.signals
    if not signals:
        return
    yield _Sub(ctx.t("heading.signals"))
    entries = []
    for s in signals:
        state = "honoured" if s.honoured else "not_honoured"
        head: Inline = ctx.t(f"signal.{s.signal.value}.{state}")
        if s.description is not None:
            head = (*head, _Run(" "), *ctx.text(s.description))
        details = (ctx.labelled("label.scope", ctx.text(s.scope)),) if s.scope is not None else ()
        entries.append(_Entry(head, details))
    yield _List(tuple(entries))


def breach_blocks(ctx: _Ctx) -> Iterator[_Block]:
    """The breach promise; nothing when the policy makes none."""
    b = ctx.policy.breach
    if b is None:
        return
    yield _Para(ctx.text(b.description))
    key = "breach.promise"
    start = {True: "breach.from_awareness", False: "breach.from_event", None: None}[
        b.from_awareness
    ]
    args: dict[str, Inline | str] = {
        "triggers": ctx.join([ctx.t(f"breach.{t}") for t in b.triggers], last="list.or_last"),
        # Whom, and from when, only as the policy says: absent, no words of ours.
        "who": ctx.t("breach.who", who=ctx.names_of("subject_kinds", b.notify)) if b.notify else "",
        "start": ctx.t(start) if start is not None else "",
        "duration": ctx.duration(b.notify_within),
    }
    if b.channels:
        args["channels"] = ctx.join([ctx.t(f"medium.{c}") for c in b.channels])
    else:  # no channel declared: name none
        key += "_no_channel"
    yield _Para(ctx.t(key, **args))


def children_blocks(ctx: _Ctx) -> Iterator[_Block]:
    """The minimum age and the promise about children; nothing when the policy sets none."""
    c = ctx.policy.children
    if c is None:
        return
    yield _Para(ctx.text(c.description))
    yield _Para(
        _sentences(
            [
                (*ctx.labelled("label.minimum_age", (_Run(str(c.minimum_age)),)), _Run(".")),
            ]
            + (  # said only when the policy says it
                []
                if c.knowingly_collects is None
                else [ctx.t("children.knowing" if c.knowingly_collects else "children.no_knowing")]
            )
        )
    )
