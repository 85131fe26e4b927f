"""The notice's sections, in the order people read them: from "about" to "contact".

Each builder reads the policy through the document context and yields blocks; nothing here
renders, and nothing reads stored data.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import attrs

from .._types import LocalizedText
from ..model._policy import Policy
from ..model._policy_collection import Source
from ..model._policy_rights import Right
from ._document import (
    _SECTIONS,
    Inline,
    _Block,
    _Ctx,
    _Entry,
    _List,
    _Para,
    _Run,
    _Section,
    _Sub,
)
from ._sections_promises import (
    breach_blocks,
    children_blocks,
    not_collected_blocks,
    products_blocks,
    products_label,
    signals_blocks,
)
from ._sections_retention import exception_span, retention_details
from ._sections_rights import (
    automated_decisions,
    disclosure_conditions,
    everywhere,
    identity,
    law_details,
    reply_promise,
)
from ._sections_staged import staged_line

__all__: list[str] = []

# --- building the sections -----------------------------------------------------------------


def _sections(ctx: _Ctx) -> list[_Section]:
    builders = {
        "about": _about,
        "who": _who,
        "collected": _collected,
        "purposes": _purposes,
        "sharing": _sharing,
        "storage": _storage,
        "retention": _retention,
        "rights": _rights,
        "requests": _requests,
        "breach": breach_blocks,
        "children": children_blocks,
        "communications": _communications,
        "changes": _changes,
        "contact": _contact,
    }
    out: list[_Section] = []
    for key in _SECTIONS:
        blocks = tuple(builders[key](ctx))
        if blocks:  # a policy without recipients (say) has no sharing section, never an empty one
            out.append(_Section(key, ctx.t(f"section.{key}"), blocks))
    return out


def _about(ctx: _Ctx) -> Iterator[_Block]:
    p = ctx.policy
    if p.summary is not None:
        yield _Para(ctx.text(p.summary))
    if p.principles:
        yield _List(tuple(_Entry(ctx.text(x)) for x in p.principles))
    yield _Para(ctx.t("notice.laws", laws=ctx.join([ctx.law(j) for j in p.jurisdictions])))
    yield from products_blocks(ctx)


def _who(ctx: _Ctx) -> Iterator[_Block]:
    yield _List(
        tuple(
            _Entry(_head(ctx, ctx.name("subject_kinds", s.kind), s.description))
            for s in ctx.policy.subjects
        )
    )


def _strong(runs: Inline) -> Inline:
    return tuple(attrs.evolve(r, strong=True) for r in runs)


def _head(ctx: _Ctx, title: Inline, text: LocalizedText | None) -> Inline:
    if text is None:
        return _strong(title)
    return (*_strong(title), _Run(ctx.word("colon")), *ctx.text(text))


def _collected(ctx: _Ctx) -> Iterator[_Block]:
    for source in Source:
        items = [c for c in ctx.policy.collection if c.source is source]
        if not items:
            continue
        yield _Sub(ctx.t(f"source.{source.value}"))
        entries = []
        for c in items:
            title = ctx.name("categories", c.category)
            if not c.required:
                title = (*title, _Run(" ("), *ctx.t("label.optional"), _Run(")"))
            details: list[Inline] = []
            if c.purposes:
                details.append(ctx.labelled("label.used_for", ctx.names_of("purposes", c.purposes)))
            if c.subjects:
                details.append(
                    ctx.labelled("label.concerns", ctx.names_of("subject_kinds", c.subjects))
                )
            details.extend(products_label(ctx, c.products))
            entries.append(_Entry(_head(ctx, title, c.description), tuple(details)))
        yield _List(tuple(entries))
    yield from not_collected_blocks(ctx)


def _used_purposes(policy: Policy) -> list[str]:
    keys: list[str] = []
    for c in policy.collection:
        keys.extend(c.purposes)
    for r in policy.recipients:
        keys.extend(r.purposes)
    keys.extend(c.purpose for c in policy.communications)
    return list(dict.fromkeys(keys))


def _purposes(ctx: _Ctx) -> Iterator[_Block]:
    entries = []
    for key in _used_purposes(ctx.policy):
        purpose = ctx.tax.purpose(key)
        details: list[Inline] = []
        basis = purpose.legal_basis
        details.append(
            ctx.labelled(
                "label.legal_basis",
                (*ctx.t(f"basis.{basis.value}"), _Run(f" ({basis.article})")),
            )
        )
        cats = [c.category for c in ctx.policy.collection if key in c.purposes]
        if cats:
            details.append(ctx.labelled("label.data_used", ctx.names_of("categories", cats)))
        if purpose.direct_marketing:
            details.append(ctx.t("purpose.direct_marketing"))
        elif basis.objectionable:
            details.append(ctx.t("purpose.can_object"))
        if basis.value == "consent":
            details.append(ctx.t("purpose.can_withdraw"))
        description = ctx.purpose_description(key)
        head = _strong(ctx.name("purposes", key))
        if description is not None:
            head = (*head, _Run(ctx.word("colon")), *description)
        entries.append(_Entry(head, tuple(details)))
    yield _List(tuple(entries))


def _sharing(ctx: _Ctx) -> Iterator[_Block]:
    recipients = ctx.policy.recipients
    if not recipients:
        return
    entries = []
    for r in recipients:
        details: list[Inline] = [
            ctx.labelled("label.what_shared", ctx.names_of("categories", r.categories)),
            ctx.labelled("label.why", ctx.names_of("purposes", r.purposes)),
        ]
        if r.examples:
            details.append(
                ctx.labelled("label.examples", ctx.join([ctx.text(e) for e in r.examples]))
            )
        if r.subjects:
            details.append(
                ctx.labelled("label.concerns", ctx.names_of("subject_kinds", r.subjects))
            )
        if r.countries:
            details.append(
                ctx.labelled("label.countries", ctx.join([ctx.country(c) for c in r.countries]))
            )
        if not r.is_recipient_under_gdpr:
            details.append(ctx.t("sharing.not_recipient"))
        details.extend(products_label(ctx, r.products))
        details.extend(disclosure_conditions(ctx, r))
        entries.append(_Entry(_head(ctx, ctx.text(r.name), r.conditions), tuple(details)))
    yield _List(tuple(entries))


def _storage(ctx: _Ctx) -> Iterator[_Block]:
    storage = ctx.policy.storage
    entries = []
    for loc in storage.locations:
        where: Inline = (_Run(loc.provider), _Run(" ("), *ctx.country(loc.country))
        if loc.region:
            where = (*where, _Run(f", {loc.region}"))
        where = (*where, _Run(")"))
        stored = (
            ctx.names_of("categories", loc.categories)
            if loc.categories
            else ctx.t("label.all_data")
        )
        entries.append(
            _Entry(_head(ctx, where, loc.description), (ctx.labelled("label.data_stored", stored),))
        )
    yield _List(tuple(entries))
    if storage.transfers:
        yield _Sub(ctx.t("heading.transfers"))
        yield _List(
            tuple(
                _Entry(
                    _head(
                        ctx,
                        ctx.t(
                            "transfer.route",
                            **{"from": ctx.region(t.from_region), "to": ctx.country(t.to_country)},
                        ),
                        t.description,
                    ),
                    (ctx.labelled("label.safeguard", ctx.t(f"mechanism.{t.mechanism}")),),
                )
                for t in storage.transfers
            )
        )
    if ctx.policy.security or ctx.policy.security_disclaimer is not None:
        yield _Sub(ctx.t("heading.security"))
    if ctx.policy.security:
        yield _List(
            tuple(
                _Entry(
                    ctx.text(m.description),
                    (ctx.labelled("label.standard", (_Run(m.standard),)),) if m.standard else (),
                )
                for m in ctx.policy.security
            )
        )
    if ctx.policy.security_disclaimer is not None:
        yield _Para(ctx.text(ctx.policy.security_disclaimer))


def _retention(ctx: _Ctx) -> Iterator[_Block]:
    if not ctx.policy.retention:
        return
    for rule in ctx.policy.retention:
        yield _Sub(ctx.names_of("categories", rule.categories))
        details: list[Inline] = retention_details(ctx, rule) or []  # kept forever, blind
        if not details:
            details.append(ctx.labelled("label.kept", ctx.retention(rule)))
            details.append(ctx.labelled("label.at_end", ctx.t(f"action.{rule.action.value}")))
        if (staged := staged_line(ctx, rule)) is not None:
            details.append(staged)
        details.extend(products_label(ctx, rule.products))
        if rule.override is not None:
            o = rule.override
            line = ctx.t(
                "retention.override",
                who=ctx.name("subject_kinds", o.configurable_by),
                min=ctx.duration(o.minimum),
                max=ctx.duration(o.maximum),
                trigger=ctx.trigger(rule, o.trigger),
            )
            if o.description is not None:
                line = (*line, _Run(" "), *ctx.text(o.description))
            details.append(ctx.labelled("label.your_choice", line))
        entries = [_Entry(ctx.text(rule.description), tuple(details))]
        yield _List(tuple(entries))
        if rule.exceptions:
            kept = []
            for e in rule.exceptions:
                how_long = exception_span(ctx, e.indefinite) or (
                    ctx.t("retention.exception_for", duration=ctx.duration(e.duration))
                    if e.duration is not None
                    else ctx.t("retention.exception_while")
                )
                extra: list[Inline] = []
                if e.categories:
                    extra.append(
                        ctx.labelled("label.covers", ctx.names_of("categories", e.categories))
                    )
                tail: Inline = (
                    _Run(" ("),
                    *ctx.t(f"exception.{e.kind.value}"),
                    _Run(ctx.word("list.and")),
                    *how_long,
                )
                if e.citation:
                    tail = (*tail, _Run(ctx.word("semicolon") + e.citation))
                kept.append(_Entry((*ctx.text(e.reason), *tail, _Run(")")), tuple(extra)))
            yield _Para(_strong(ctx.t("label.kept_longer")))
            yield _List(tuple(kept))


def _rights(ctx: _Ctx) -> Iterator[_Block]:
    p = ctx.policy
    if not p.rights and p.complaints is None:
        yield from signals_blocks(ctx)
        yield from automated_decisions(ctx)
        return
    entries = []
    for offer in p.rights:
        details: list[Inline] = []
        laws = (
            ctx.join([ctx.law(j) for j in offer.jurisdictions])
            if offer.jurisdictions
            else everywhere(ctx)
        )
        details.append(ctx.labelled("label.applies_under", laws))
        if offer.subjects:
            details.append(
                ctx.labelled("label.concerns", ctx.names_of("subject_kinds", offer.subjects))
            )
        if offer.channels:
            details.append(
                ctx.labelled(
                    "label.how_to_ask",
                    ctx.join([ctx.t(f"channel.{p.channel(c).kind}") for c in offer.channels]),
                )
            )
        if offer.format:
            details.append(ctx.labelled("label.format", ctx.text(offer.format)))
        if offer.refusal_reasons:
            details.append(
                ctx.labelled(
                    "label.limits",
                    ctx.join(
                        [ctx.t(f"refusal.{r.value}") for r in offer.refusal_reasons],
                        last="list.or_last",
                    ),
                )
            )
        entries.append(
            _Entry(
                _head(ctx, ctx.t(f"right.{offer.right.value}"), offer.description), tuple(details)
            )
        )
    if entries:
        yield _List(tuple(entries))
    yield _Sub(ctx.t("heading.by_law"))
    by_law: list[_Entry] = []
    for key in p.jurisdictions:
        offered = [o.right for o in p.rights if not o.jurisdictions or key in o.jurisdictions]
        details = law_details(ctx, key, offered)
        by_law.append(_Entry(_strong(ctx.law(key)), tuple(details)))
    yield _List(tuple(by_law))
    yield from signals_blocks(ctx)  # only what the policy declares: never a GPC promise of its own
    yield from automated_decisions(ctx)
    if p.complaints is not None:
        yield _Sub(ctx.t("heading.complaints"))
        yield _Para(ctx.text(p.complaints))


def _requests(ctx: _Ctx) -> Iterator[_Block]:
    req = ctx.policy.requests
    if req.description is not None:
        yield _Para(ctx.text(req.description))
    yield _Sub(ctx.t("heading.channels"))
    entries = []
    for ch in req.channels:
        details: list[Inline] = []
        if ch.requires_login:
            details.append(ctx.t("channel.requires_login"))
        if ch.from_account_email:
            details.append(ctx.t("channel.from_account_email"))
        entries.append(
            _Entry(_head(ctx, ctx.t(f"channel.{ch.kind}"), ch.description), tuple(details))
        )
    yield _List(tuple(entries))
    notes: list[Inline] = []
    if req.automated_tools:
        notes.append(ctx.t("requests.automated"))
    if req.free_of_charge is not None:  # absent: the policy says nothing about a fee
        notes.append(ctx.t("requests.free" if req.free_of_charge else "requests.fee"))
    notes.extend(reply_promise(ctx))
    yield _Para(_sentences(notes))
    yield from identity(ctx)


def _sentences(parts: Sequence[Inline]) -> Inline:
    out: list[_Run] = []
    for i, part in enumerate(parts):
        if i:
            out.append(_Run(" "))
        out.extend(part)
    return tuple(out)


def _communications(ctx: _Ctx) -> Iterator[_Block]:
    comms = ctx.policy.communications
    if not comms:
        return
    entries = []
    opt_out = ctx.policy.offers(Right.OPT_OUT)
    for c in comms:
        details: list[Inline] = [ctx.labelled("label.why", ctx.name("purposes", c.purpose))]
        if c.channel is not None:  # absent: the policy names no channel, nor does the notice
            details.append(ctx.labelled("label.sent_by", ctx.t(f"medium.{c.channel}")))
        if c.kind.value == "promotional":
            # Only what the policy says: a link it declares, or the opt-out right it offers.
            if c.unsubscribe_link:
                details.append(ctx.t("comm.unsubscribe"))
            elif opt_out is not None:
                details.append(ctx.t("comm.opt_out"))
        else:
            details.append(ctx.t("comm.needed"))
        title = ctx.t(f"comm.{c.kind.value}")
        entries.append(_Entry(_head(ctx, title, c.description), tuple(details)))
    yield _List(tuple(entries))
    if opt_out is not None:
        yield _Para(ctx.text(opt_out.description))


def _changes(ctx: _Ctx) -> Iterator[_Block]:
    ch = ctx.policy.changes
    yield _Para(ctx.text(ch.description))
    lines: list[Inline] = []
    if ch.posted_at:
        lines.append(ctx.t("changes.posted", url=(_Run(ch.posted_at, href=ch.posted_at),)))
    if ch.notify_channels:
        lines.append(
            ctx.t(
                "changes.notify",
                channels=ctx.join([ctx.t(f"medium.{c}") for c in ch.notify_channels]),
            )
        )
    if ch.notice_period is not None:
        lines.append(ctx.t("changes.notice_period", duration=ctx.duration(ch.notice_period)))
    if ch.prior_versions_available:
        lines.append(ctx.t("changes.prior_versions"))
    if lines:
        yield _List(tuple(_Entry(line) for line in lines))


def _contact_href(kind: str, value: str) -> str | None:
    if kind == "email":
        return f"mailto:{value}"
    if kind in ("web_form", "support_tool") and value.startswith(("https://", "http://")):
        return value
    return None


def _contact(ctx: _Ctx) -> Iterator[_Block]:
    c = ctx.policy.controller
    facts: list[Inline] = [ctx.labelled("label.controller", (_Run(c.name),))]
    if c.legal_name:
        facts.append(ctx.labelled("label.legal_name", (_Run(c.legal_name),)))
    if c.address:
        facts.append(ctx.labelled("label.address", (_Run(c.address),)))
    if c.website:
        facts.append(ctx.labelled("label.website", (_Run(c.website, href=c.website),)))
    if c.representative_eu:
        facts.append(ctx.labelled("label.eu_representative", (_Run(c.representative_eu),)))
    yield _List(tuple(_Entry(f) for f in facts))
    entries = []
    contacts = [*c.contacts, *([c.dpo] if c.dpo is not None else [])]
    for i, contact in enumerate(contacts):
        label = ctx.t("label.dpo") if i >= len(c.contacts) else ctx.t(f"contact.{contact.kind}")
        href = _contact_href(contact.kind, contact.value)
        value: Inline = (_Run(contact.value, href=href),)
        if contact.label is not None:  # the value as it reads in the language; links keep value
            value = tuple(attrs.evolve(r, href=href) for r in ctx.text(contact.label))
        head = (*_strong(label), _Run(ctx.word("colon")), *value)
        details = (ctx.text(contact.description),) if contact.description is not None else ()
        entries.append(_Entry(head, details))
    yield _List(tuple(entries))
