"""Privacy notices rendered from a policy: Markdown or a standalone HTML page, in any language.

:func:`render_notice` turns a :class:`~privacy_kit.Policy` into the notice people read: what is
collected (by source), why (purposes and legal bases), with whom it is shared, where it is stored
and how it is protected, how long it is kept, the rights and how to use them, the breach promise,
children, messages and opting out, changes and contact. Section headings and fixed phrases come
from a phrase table (package data ``data/phrases.json``, English and Arabic); category, purpose and
subject-kind names come from the taxonomy, or from ``data/taxonomy_i18n.json`` for the default
taxonomy's terms. The policy's own sentences come from its :class:`~privacy_kit.LocalizedText`.

Nothing is silently replaced: text missing in the requested language is shown in another language
and marked (``[en]`` in Markdown; a ``lang`` attribute and a visible tag in HTML), and
:func:`notice_translation_gaps` (reported by :func:`privacy_kit.check`) lists every such place.
HTML pages in right-to-left languages (Arabic, Hebrew, Persian, Urdu, ...) carry ``dir="rtl"``.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import resources
from typing import Any, Literal

import attrs
import orjson

from .._errors import ConfigurationError
from .._types import Duration, LocalizedText
from ..model._jurisdictions import get_jurisdiction
from ..model._policy import Policy
from ..model._policy_collection import Source
from ..model._policy_retention import RetentionRule
from ..model._policy_rights import Right
from ..model._taxonomy import Taxonomy

__all__ = [
    "describe_duration",
    "describe_retention",
    "notice_translation_gaps",
    "phrase_languages",
    "render_notice",
]

_RTL = frozenset({"ar", "he", "fa", "ur", "ps", "sd", "ug", "yi", "dv", "ckb"})
_FALLBACK = "en"
_SECTIONS = (
    "about",
    "who",
    "collected",
    "purposes",
    "sharing",
    "storage",
    "retention",
    "rights",
    "requests",
    "breach",
    "children",
    "communications",
    "changes",
    "contact",
)


@functools.cache
def _phrases() -> Mapping[str, Mapping[str, Any]]:
    raw = resources.files("privacy_kit").joinpath("data/phrases.json").read_bytes()
    data: Mapping[str, Mapping[str, Any]] = orjson.loads(raw)
    return data


@functools.cache
def _term_names() -> Mapping[str, Mapping[str, Any]]:
    raw = resources.files("privacy_kit").joinpath("data/taxonomy_i18n.json").read_bytes()
    data: Mapping[str, Mapping[str, Any]] = orjson.loads(raw)
    return data


def phrase_languages() -> tuple[str, ...]:
    """The languages the fixed phrases (headings, labels) are translated into.

    Example:
        >>> phrase_languages()
        ('ar', 'en')
    """
    return tuple(sorted(_phrases()))


def _base(lang: str) -> str:
    return lang.split("-", maxsplit=1)[0].lower()


def _direction(lang: str) -> Literal["ltr", "rtl"]:
    return "rtl" if _base(lang) in _RTL else "ltr"


# --- the document: runs of text (each knows whether it is a fallback), blocks and sections ------


@attrs.frozen
class _Run:
    text: str
    lang: str | None = None  # set when the text is in another language than the notice's
    strong: bool = False
    href: str | None = None


Inline = tuple[_Run, ...]


@attrs.frozen
class _Para:
    runs: Inline


@attrs.frozen
class _Sub:
    runs: Inline


@attrs.frozen
class _Entry:
    head: Inline
    details: tuple[Inline, ...] = ()


@attrs.frozen
class _List:
    entries: tuple[_Entry, ...]


_Block = _Para | _Sub | _List


@attrs.frozen
class _Section:
    key: str
    heading: Inline
    blocks: tuple[_Block, ...]


class _Ctx:
    """Resolves phrases, names and policy text in one language, remembering what fell back."""

    def __init__(self, policy: Policy, lang: str) -> None:
        self.policy = policy
        self.lang = lang
        self.tax: Taxonomy = policy.vocabulary
        phrases = _phrases()
        self.own: Mapping[str, Any] = phrases.get(lang) or phrases.get(_base(lang)) or {}
        self.fallback: Mapping[str, Any] = phrases[_FALLBACK]
        names = _term_names()
        self.names: Mapping[str, Any] = names.get(lang) or names.get(_base(lang)) or {}
        self.fell_back: set[str] = set()

    # phrases -------------------------------------------------------------------------------
    def _template(self, key: str) -> tuple[Any, str | None]:
        if key in self.own:
            return self.own[key], None
        if key in self.fallback:
            if _base(self.lang) != _FALLBACK:
                self.fell_back.add(_FALLBACK)
                return self.fallback[key], _FALLBACK
            return self.fallback[key], None
        raise KeyError(f"no phrase {key!r} in the phrase table")

    def has_phrase(self, key: str) -> bool:
        return key in self.own or key in self.fallback

    def t(self, key: str, **args: Inline | str) -> Inline:
        """The phrase ``key`` with ``{name}`` placeholders filled by runs or strings."""
        template, lang = self._template(key)
        return _fill(str(template), lang, args)

    def word(self, key: str) -> str:
        """A phrase as a plain string (separators and the like), never marked."""
        template, _ = self._template(key)
        return str(template)

    # policy text ---------------------------------------------------------------------------
    def text(self, value: LocalizedText, *, strong: bool = False) -> Inline:
        if value.has(self.lang):
            return (_Run(value.get_text(self.lang), strong=strong),)
        other = _FALLBACK if _FALLBACK in value else next(iter(value), _FALLBACK)
        self.fell_back.add(other)
        return (_Run(value.get_text(other), lang=other, strong=strong),)

    def name(self, what: Literal["categories", "purposes", "subject_kinds"], key: str) -> Inline:
        term: Any
        if what == "categories":
            term = self.tax.category(key)
        elif what == "purposes":
            term = self.tax.purpose(key)
        else:
            term = self.tax.subject_kind(key)
        if term.name.has(self.lang):
            return (_Run(term.name.get_text(self.lang)),)
        table = self.names.get(what, {})
        if key in table:
            entry = table[key]
            return (_Run(entry[0] if isinstance(entry, list) else entry),)
        return self.text(term.name)

    def purpose_description(self, key: str) -> Inline | None:
        purpose = self.tax.purpose(key)
        if purpose.description is not None and purpose.description.has(self.lang):
            return self.text(purpose.description)
        entry = self.names.get("purposes", {}).get(key)
        if isinstance(entry, list) and len(entry) > 1 and entry[1]:
            return (_Run(entry[1]),)
        return self.text(purpose.description) if purpose.description is not None else None

    def names_of(
        self, what: Literal["categories", "purposes", "subject_kinds"], keys: Iterable[str]
    ) -> Inline:
        return self.join([self.name(what, k) for k in dict.fromkeys(keys)])

    # joining ---------------------------------------------------------------------------------
    def join(self, parts: Sequence[Inline], last: str = "list.and_last") -> Inline:
        if not parts:
            return ()
        if len(parts) == 1:
            return parts[0]
        sep, final = self.word("list.and"), self.word(last)
        out: list[_Run] = []
        for i, part in enumerate(parts):
            if i:
                out.append(_Run(final if i == len(parts) - 1 else sep))
            out.extend(part)
        return tuple(out)

    def labelled(self, label_key: str, value: Inline) -> Inline:
        label = self.t(label_key)
        return (
            *(attrs.evolve(r, strong=True) for r in label),
            _Run(self.word("colon")),
            *value,
        )

    def duration(self, value: Duration) -> Inline:
        return (_Run(describe_duration(value, self.lang if self.own else _FALLBACK)),)

    def country(self, code: str) -> Inline:
        key = f"country.{code}"
        return self.t(key) if self.has_phrase(key) else (_Run(code),)

    def region(self, name: str) -> Inline:
        key = f"region.{name}"
        return self.t(key) if self.has_phrase(key) else (_Run(name),)

    def law(self, key: str) -> Inline:
        phrase = f"jurisdiction.{key}"
        return self.t(phrase) if self.has_phrase(phrase) else (_Run(get_jurisdiction(key).name),)


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def _fill(template: str, lang: str | None, args: Mapping[str, Inline | str]) -> Inline:
    out: list[_Run] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(template):
        if match.start() > pos:
            out.append(_Run(template[pos : match.start()], lang=lang))
        value = args.get(match.group(1))
        if value is None:
            raise KeyError(f"phrase placeholder {match.group(1)!r} has no value")
        out.extend((_Run(value),) if isinstance(value, str) else value)
        pos = match.end()
    if pos < len(template):
        out.append(_Run(template[pos:], lang=lang))
    return tuple(out)


def _plural_category(lang: str, n: int) -> str:
    if _base(lang) == "ar":
        if n == 1:
            return "one"
        if n == 2:
            return "two"
        if 3 <= n % 100 <= 10:
            return "few"
        if 11 <= n % 100 <= 99:
            return "many"
        return "other"
    return "one" if n == 1 else "other"


def describe_duration(value: Duration | str, lang: str = "en") -> str:
    """A duration in words, in ``lang`` (English when the phrase table lacks the language).

    Arabic uses its number agreement (one, two, 3-10, 11-99, 100 and more).

    Args:
        value: a :class:`~privacy_kit.Duration` or anything :meth:`Duration.parse` accepts.
        lang: the language tag.

    Returns:
        The words, e.g. ``'1 year and 6 months'``.

    Example:
        >>> describe_duration("P1Y6M")
        '1 year and 6 months'
        >>> describe_duration("PT72H", "ar")
        '72 ساعة'
        >>> describe_duration("P6Y", "ar")
        '6 سنوات'
    """
    duration = Duration.parse(value)
    table = _phrases().get(lang) or _phrases().get(_base(lang)) or _phrases()[_FALLBACK]
    code = lang if table is not _phrases()[_FALLBACK] else _FALLBACK
    parts: list[str] = []
    for unit in ("years", "months", "weeks", "days", "hours", "minutes", "seconds"):
        n = getattr(duration, unit)
        if n:
            forms = table[f"unit.{unit}"]
            form = forms.get(_plural_category(code, n)) or forms["other"]
            parts.append(form.replace("{n}", str(n)))
    if not parts:
        forms = table["unit.days"]
        return str(forms["other"]).replace("{n}", "0")
    if len(parts) == 1:
        return parts[0]
    return str(table["list.and"]).join(parts[:-1]) + str(table["list.and_last"]) + parts[-1]


def describe_retention(rule: RetentionRule, lang: str = "en") -> str:
    """How long a rule keeps data, in words: ``'until the account is closed'``, ``'for 30 days after ...'``.

    Example:
        >>> import privacy_kit as pk
        >>> policy = pk.load_policy(pk.example_path())
        >>> describe_retention(policy.rule("payment_data"))
        'until the account is closed'
        >>> describe_retention(policy.rule("payment_data"), "ar")
        'حتى إغلاق الحساب'
    """
    table = _phrases().get(lang) or _phrases().get(_base(lang)) or _phrases()[_FALLBACK]
    trigger = str(table[f"trigger.{rule.trigger.value}"])
    if rule.duration is None:
        return str(table["retention.until"]).replace("{trigger}", trigger)
    return (
        str(table["retention.for_after"])
        .replace("{duration}", describe_duration(rule.duration, lang))
        .replace("{trigger}", trigger)
    )


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
        "breach": _breach,
        "children": _children,
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
            entries.append(_Entry(_head(ctx, title, c.description), tuple(details)))
        yield _List(tuple(entries))


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
        details: list[Inline] = []
        trigger = ctx.t(f"trigger.{rule.trigger.value}")
        span = (
            ctx.t("retention.until", trigger=trigger)
            if rule.duration is None
            else ctx.t("retention.for_after", duration=ctx.duration(rule.duration), trigger=trigger)
        )
        details.append(ctx.labelled("label.kept", span))
        details.append(ctx.labelled("label.at_end", ctx.t(f"action.{rule.action.value}")))
        if rule.override is not None:
            o = rule.override
            line = ctx.t(
                "retention.override",
                who=ctx.name("subject_kinds", o.configurable_by),
                min=ctx.duration(o.minimum),
                max=ctx.duration(o.maximum),
                trigger=ctx.t(f"trigger.{(o.trigger or rule.trigger).value}"),
            )
            if o.description is not None:
                line = (*line, _Run(" "), *ctx.text(o.description))
            details.append(ctx.labelled("label.your_choice", line))
        entries = [_Entry(ctx.text(rule.description), tuple(details))]
        yield _List(tuple(entries))
        if rule.exceptions:
            kept = []
            for e in rule.exceptions:
                how_long = (
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
        return
    entries = []
    for offer in p.rights:
        details: list[Inline] = []
        laws = (
            ctx.join([ctx.law(j) for j in offer.jurisdictions])
            if offer.jurisdictions
            else ctx.t("rights.everywhere")
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
        j = get_jurisdiction(key)
        offered = [o.right for o in p.rights if not o.jurisdictions or key in o.jurisdictions]
        details = []
        if offered:
            details.append(
                ctx.labelled(
                    "label.rights",
                    ctx.join([ctx.t(f"right.{r.value}") for r in dict.fromkeys(offered)]),
                )
            )
        deadline = j.request_deadline
        details.append(
            ctx.t(
                "law.reply",
                duration=ctx.duration(deadline.respond_within),
                citation=deadline.citation,
            )
        )
        if deadline.extension is not None:
            details.append(ctx.t("law.extension", duration=ctx.duration(deadline.extension)))
        if j.gpc_is_opt_out and Right.OPT_OUT_OF_SALE in offered:
            details.append(ctx.t("law.gpc"))
        by_law.append(_Entry(_strong(ctx.law(key)), tuple(details)))
    yield _List(tuple(by_law))
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
    notes.append(ctx.t("requests.free" if req.free_of_charge else "requests.fee"))
    yield _Para(_sentences(notes))
    yield _Sub(ctx.t("heading.identity"))
    ident = req.identity
    lines: list[Inline] = []
    if ident.required:
        methods = [ctx.t(f"identity.{m}") for m in ident.methods]
        lines.append(ctx.t("identity.required", methods=ctx.join(methods, last="list.or_last")))
    else:
        lines.append(ctx.t("identity.not_required"))
    if ident.description is not None:  # the policy's own words say it better than the stock phrase
        lines.append(ctx.text(ident.description))
    elif ident.extra_proof_may_be_required:
        lines.append(ctx.t("identity.extra"))
    yield _Para(_sentences(lines))


def _sentences(parts: Sequence[Inline]) -> Inline:
    out: list[_Run] = []
    for i, part in enumerate(parts):
        if i:
            out.append(_Run(" "))
        out.extend(part)
    return tuple(out)


def _breach(ctx: _Ctx) -> Iterator[_Block]:
    b = ctx.policy.breach
    yield _Para(ctx.text(b.description))
    yield _Para(
        ctx.t(
            "breach.promise" if b.from_awareness else "breach.promise_from_event",
            triggers=ctx.join([ctx.t(f"breach.{t}") for t in b.triggers], last="list.or_last"),
            who=ctx.names_of("subject_kinds", b.notify),
            duration=ctx.duration(b.notify_within),
            channels=ctx.join([ctx.t(f"medium.{c}") for c in b.channels]),
        )
    )


def _children(ctx: _Ctx) -> Iterator[_Block]:
    c = ctx.policy.children
    yield _Para(ctx.text(c.description))
    yield _Para(
        _sentences(
            [
                (*ctx.labelled("label.minimum_age", (_Run(str(c.minimum_age)),)), _Run(".")),
                ctx.t("children.knowing" if c.knowingly_collects else "children.no_knowing"),
            ]
        )
    )


def _communications(ctx: _Ctx) -> Iterator[_Block]:
    comms = ctx.policy.communications
    if not comms:
        return
    entries = []
    for c in comms:
        details: list[Inline] = [
            ctx.labelled("label.why", ctx.name("purposes", c.purpose)),
            ctx.labelled("label.sent_by", ctx.t(f"medium.{c.channel}")),
        ]
        if c.kind.value == "promotional":
            details.append(ctx.t("comm.unsubscribe" if c.unsubscribe_link else "comm.opt_out"))
        else:
            details.append(ctx.t("comm.needed"))
        title = ctx.t(f"comm.{c.kind.value}")
        entries.append(_Entry(_head(ctx, title, c.description), tuple(details)))
    yield _List(tuple(entries))
    opt_out = ctx.policy.offers(Right.OPT_OUT)
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
        value = (_Run(contact.value, href=_contact_href(contact.kind, contact.value)),)
        head = (*_strong(label), _Run(ctx.word("colon")), *value)
        details = (ctx.text(contact.description),) if contact.description is not None else ()
        entries.append(_Entry(head, details))
    yield _List(tuple(entries))


# --- rendering -----------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def _md_escape(text: str) -> str:
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # A line that starts like a heading, list item or numbered item must stay a plain line.
    return re.sub(r"(?m)^(\s*)([#+\-]|\d+\.)(?=\s|$)", r"\1\\\2", text)


def _merged(runs: Inline) -> list[_Run]:
    # Adjacent runs that render alike become one, so Markdown gets **a (b)**, not **a** **(b)**.
    out: list[_Run] = []
    for run in runs:
        if not run.text:
            continue
        prev = out[-1] if out else None
        if prev is not None and (prev.lang, prev.strong, prev.href) == (
            run.lang,
            run.strong,
            run.href,
        ):
            out[-1] = attrs.evolve(prev, text=prev.text + run.text)
        else:
            out.append(run)
    return out


def _md_runs(runs: Inline) -> str:
    out: list[str] = []
    for run in _merged(runs):
        text = _md_escape(run.text)
        if run.href is not None:
            text = f"[{text}](<{run.href.replace('>', '%3E')}>)"
        if run.strong and text.strip():
            lead = text[: len(text) - len(text.lstrip())]
            trail = text[len(text.rstrip()) :]
            text = f"{lead}**{text.strip()}**{trail}"
        if run.lang is not None:
            text = f"[{run.lang}] {text}"
        out.append(text)
    return "".join(out)


def _to_markdown(title: Inline, meta: Inline, note: Inline | None, sections: list[_Section]) -> str:
    lines = [f"# {_md_runs(title)}", "", _md_runs(meta), ""]
    if note is not None:
        lines += [f"> {_md_runs(note)}", ""]
    for section in sections:
        lines += [f"## {_md_runs(section.heading)}", ""]
        for block in section.blocks:
            if isinstance(block, _Para):
                lines += [_md_runs(block.runs), ""]
            elif isinstance(block, _Sub):
                lines += [f"### {_md_runs(block.runs)}", ""]
            else:
                for entry in block.entries:
                    lines.append(f"- {_md_runs(entry.head)}")
                    lines.extend(f"  - {_md_runs(d)}" for d in entry.details)
                lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _html_runs(runs: Inline) -> str:
    out: list[str] = []
    for run in _merged(runs):
        text = html.escape(run.text, quote=True)
        if run.href is not None:
            text = f'<a href="{html.escape(run.href, quote=True)}">{text}</a>'
        if run.strong:
            text = f"<strong>{text}</strong>"
        if run.lang is not None:
            lang = html.escape(run.lang, quote=True)
            text = (
                f'<span class="fallback" lang="{lang}" dir="{_direction(run.lang)}" '
                f'title="not available in this language"><span class="tag">[{lang}]</span> '
                f"{text}</span>"
            )
        out.append(text)
    return "".join(out)


_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #eef1f5; color: #1d2330; line-height: 1.6;
  font-family: system-ui, "Segoe UI", "Noto Sans", "DejaVu Sans", sans-serif; font-size: 16px; }
html[dir="rtl"] body { font-family: "Noto Naskh Arabic", "Noto Sans Arabic", "Segoe UI",
  "DejaVu Sans", sans-serif; line-height: 1.85; }
main { max-width: 54rem; margin: 0 auto; padding: 2.2rem 2rem 3rem; background: #fff;
  min-height: 100vh; text-align: start; }
header h1 { font-size: 1.9rem; margin: 0 0 .3rem; color: #11294a; }
header .meta { color: #5a6372; margin: 0 0 .8rem; }
.note { border-inline-start: 4px solid #e0a100; background: #fff8e5; padding: .5rem .9rem; }
nav.toc { background: #f5f7fa; border: 1px solid #e1e5eb; border-radius: 6px; padding: .6rem 1.2rem; }
nav.toc h2 { font-size: 1rem; margin: .2rem 0; border: 0; }
nav.toc ol { margin: 0; padding-inline-start: 1.4rem; columns: 2; column-gap: 2rem; }
section { border-top: 1px solid #e1e5eb; margin-top: 1.6rem; padding-top: .4rem; }
h2 { font-size: 1.35rem; color: #1b4f8a; margin: .6rem 0 .5rem; }
h3 { font-size: 1.05rem; margin: 1rem 0 .3rem; color: #24324a; }
p { margin: .4rem 0 .7rem; }
ul { margin: .3rem 0 .8rem; padding-inline-start: 1.4rem; }
li { margin: .3rem 0; }
li > ul { margin: .15rem 0 .3rem; color: #3b4556; font-size: .95em; list-style: circle; }
a { color: #1b5fb0; }
.fallback { background: #fff1c7; border-radius: 3px; padding: 0 .2em; }
.fallback .tag { font: 600 .72em ui-monospace, monospace; color: #8a5a00; }
"""


def _to_html(
    lang: str,
    *,
    title: Inline,
    meta: Inline,
    note: Inline | None,
    sections: list[_Section],
    toc: Inline,
) -> str:
    direction = _direction(lang)
    plain_title = "".join(r.text for r in title)
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{html.escape(lang, quote=True)}" dir="{direction}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="privacy_kit">',
        f"<title>{html.escape(plain_title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        "<header>",
        f"<h1>{_html_runs(title)}</h1>",
        f'<p class="meta">{_html_runs(meta)}</p>',
    ]
    if note is not None:
        parts.append(f'<p class="note">{_html_runs(note)}</p>')
    parts.append(f'<nav class="toc"><h2>{_html_runs(toc)}</h2><ol>')
    parts.extend(f'<li><a href="#{s.key}">{_html_runs(s.heading)}</a></li>' for s in sections)
    parts += ["</ol></nav>", "</header>"]
    for section in sections:
        parts.append(f'<section id="{section.key}" data-section="{section.key}">')
        parts.append(f"<h2>{_html_runs(section.heading)}</h2>")
        for block in section.blocks:
            if isinstance(block, _Para):
                parts.append(f"<p>{_html_runs(block.runs)}</p>")
            elif isinstance(block, _Sub):
                parts.append(f"<h3>{_html_runs(block.runs)}</h3>")
            else:
                parts.append("<ul>")
                for entry in block.entries:
                    inner = "".join(f"<li>{_html_runs(d)}</li>" for d in entry.details)
                    sub = f"<ul>{inner}</ul>" if inner else ""
                    parts.append(f"<li>{_html_runs(entry.head)}{sub}</li>")
                parts.append("</ul>")
        parts.append("</section>")
    parts += ["</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def render_notice(
    policy: Policy,
    *,
    format: Literal["md", "html"] = "md",  # noqa: A002 - the public keyword, as on the CLI
    lang: str = "en",
) -> str:
    """Render ``policy`` as a complete privacy notice in ``lang``.

    Args:
        policy: the policy.
        format: ``"md"`` for Markdown, ``"html"`` for a standalone, styled HTML page.
        lang: a language tag such as ``"en"`` or ``"ar"``. Any tag is accepted: text missing in
            it falls back (to English first) and is marked ``[en]``; so are the fixed phrases
            when the phrase table lacks the language (see :func:`phrase_languages`).

    Returns:
        The notice as a string (Markdown, or an HTML document with ``lang`` and ``dir`` set).

    Raises:
        ConfigurationError: (a ``ValueError``) for an unknown format or a malformed language tag.

    Example:
        >>> import privacy_kit as pk
        >>> policy = pk.load_policy(pk.example_path())
        >>> md = render_notice(policy)
        >>> md.splitlines()[0]
        '# Appointlet privacy notice'
        >>> "## How long we keep it" in md
        True
        >>> page = render_notice(policy, format="html", lang="ar")
        >>> '<html lang="ar" dir="rtl">' in page
        True
    """
    if format not in ("md", "html"):
        raise ConfigurationError(f"unknown notice format {format!r}; use 'md' or 'html'")
    if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", lang):
        raise ConfigurationError(
            f"invalid language tag {lang!r} (expected e.g. 'en', 'ar', 'pt-BR')"
        )
    ctx = _Ctx(policy, lang)
    sections = _sections(ctx)
    title = ctx.text(policy.title)
    meta = ctx.t("notice.meta", version=policy.version, effective=_date(policy.effective, lang))
    toc = ctx.t("contents")
    note = None
    if ctx.fell_back:
        note = ctx.t("notice.fallback", lang="/".join(sorted(ctx.fell_back)))
    if format == "md":
        return _to_markdown(title, meta, note, sections)
    return _to_html(lang, title=title, meta=meta, note=note, sections=sections, toc=toc)


def _date(value: dt.date, lang: str) -> str:
    # An ISO date inside right-to-left text would be reordered (01-05-2024): isolate it as LTR.
    return f"\u2066{value.isoformat()}\u2069" if _direction(lang) == "rtl" else value.isoformat()


def notice_translation_gaps(policy: Policy) -> list[tuple[str, str, str]]:
    """Where a notice in one of ``policy.languages`` would fall back to another language.

    Covers what :func:`privacy_kit.check` cannot see in the policy's own text: the fixed phrases
    (a language with no phrase table) and the names of the taxonomy terms the policy uses.

    Returns:
        ``(location, language, message)`` triples, in the order the notice shows them.

    Example:
        >>> import privacy_kit as pk
        >>> notice_translation_gaps(pk.load_policy(pk.example_path()))
        []
        >>> data = pk.load_policy(pk.example_path()).model_dump(mode="json")
        >>> data["languages"] = ["en", "fr"]
        >>> notice_translation_gaps(pk.Policy.model_validate(data))[0][:2]
        ('languages[1]', 'fr')
    """
    gaps: list[tuple[str, str, str]] = []
    tax = policy.vocabulary
    names = _term_names()
    supported = set(_phrases())
    for i, lang in enumerate(policy.languages):
        if lang not in supported and _base(lang) not in supported:
            gaps.append(
                (
                    f"languages[{i}]",
                    lang,
                    (
                        f"privacy_kit has no phrase table for {lang!r} (it has "
                        f"{', '.join(phrase_languages())}); notice headings and labels fall back to English"
                    ),
                )
            )
    used: dict[tuple[str, str], str] = {}
    for i, c in enumerate(policy.collection):
        used.setdefault(("categories", c.category), f"collection[{i}].category")
        for j, key in enumerate(c.purposes):
            used.setdefault(("purposes", key), f"collection[{i}].purposes[{j}]")
    for i, r in enumerate(policy.recipients):
        for j, key in enumerate(r.categories):
            used.setdefault(("categories", key), f"recipients[{i}].categories[{j}]")
        for j, key in enumerate(r.purposes):
            used.setdefault(("purposes", key), f"recipients[{i}].purposes[{j}]")
    for i, rule in enumerate(policy.retention):
        for j, key in enumerate(rule.categories):
            used.setdefault(("categories", key), f"retention[{i}].categories[{j}]")
    for i, s in enumerate(policy.subjects):
        used.setdefault(("subject_kinds", s.kind), f"subjects[{i}].kind")
    for i, comm in enumerate(policy.communications):
        used.setdefault(("purposes", comm.purpose), f"communications[{i}].purpose")
    own = (
        {("categories", c.key) for c in policy.taxonomy.categories}
        | {("purposes", c.key) for c in policy.taxonomy.purposes}
        | {("subject_kinds", c.key) for c in policy.taxonomy.subject_kinds}
    )
    for (what, key), location in used.items():
        if (what, key) in own:  # the policy's own terms: check() already walks their text
            continue
        term: Any = (
            tax.category(key)
            if what == "categories"
            else tax.purpose(key)
            if what == "purposes"
            else tax.subject_kind(key)
        )
        for lang in policy.languages:
            table = names.get(lang) or names.get(_base(lang)) or {}
            if not term.name.has(lang) and key not in table.get(what, {}):
                singular = {"categories": "category", "purposes": "purpose"}.get(
                    what, "subject kind"
                )
                gaps.append(
                    (
                        location,
                        lang,
                        f"{singular} {key!r} has no {lang!r} name; notices show it in English here",
                    )
                )
    return gaps
