"""The words of the records of processing in one language: labels, names and the rule lines.

Every fixed phrase of the record (its title, labels, column headings, "none", the frame of a legal
basis and of an erasure time limit) comes from the phrase tables (``ropa.*`` in
``data/phrases.json``), so a record in Arabic is in Arabic. A record in English shows the
policy's keys where it names a legal basis, an action, an exception, a contact, a transfer
mechanism or who may override a period (the keys the policy file uses); a record in another
language shows their names in that language. What is missing in the language falls back to
English and is marked ``[en]`` once per passage, by the notice's rules
(:class:`~privacy_kit.notices._document._Ctx`).
"""

from __future__ import annotations

from typing import Literal

from .._types import Duration, LocalizedText
from ..model._policy import Policy
from ..model._policy_retention import RetentionAction, RetentionRule
from ..model._staged import staged_bound
from ..model._translations import base_language, phrase
from ._document import Inline, _Ctx, _Run, describe_duration, plain

__all__ = ["Words", "label", "rule_line", "word"]

_FALLBACK = "en"


def label(lang: str, key: str, **args: str) -> str:
    """The fixed phrase ``key`` in ``lang`` with its ``{placeholders}`` filled; marked ``[en]``
    where the language has no phrase table.

    Example:
        >>> label("ar", "ropa.none"), label("en", "ropa.title", article="GDPR Art. 30(1)")
        ('لا يوجد', 'Records of processing activities (GDPR Art. 30(1))')
        >>> label("de", "ropa.none")
        '[en] none'
    """
    template, fell_back_to = phrase(key, lang)
    text = str(template)
    for name, value in args.items():
        text = text.replace("{" + name + "}", value)
    return text if fell_back_to is None else f"[{fell_back_to}] {text}"


def word(lang: str, key: str) -> str:
    """A separator of ``lang`` (``list.and``, ``semicolon``), never marked: English's where
    the language has no phrase table.

    Example:
        >>> word("ar", "semicolon"), word("de", "semicolon")
        ('؛ ', '; ')
    """
    return str(phrase(key, lang)[0])


class Words:
    """Names, policy text and phrases in one language for the record, fallbacks visibly marked."""

    def __init__(self, policy: Policy, lang: str) -> None:
        self.ctx = _Ctx(policy, lang)
        self.lang = lang
        self.english = base_language(lang) == _FALLBACK

    @staticmethod
    def plain(runs: Inline) -> str:
        """Runs as text, each passage in another language prefixed once with its tag."""
        return plain(runs)

    def name(self, what: Literal["categories", "purposes", "subject_kinds"], key: str) -> str:
        return self.plain(self.ctx.name(what, key))

    def text(self, value: LocalizedText) -> str:
        return self.plain(self.ctx.text(value))

    def t(self, key: str, **args: Inline | str) -> Inline:
        """The phrase ``key`` as runs (``ropa.*`` and the notice's phrases)."""
        return self.ctx.t(key, **args)

    def keyed(self, prefix: str, key: str) -> Inline:
        """A key the policy uses (an exception kind, a mechanism, a contact kind...): the key
        itself in English, its name (``prefix.key`` in the phrase table) in another language."""
        phrase = f"{prefix}.{key}"
        if self.english or not self.ctx.has_phrase(phrase):
            return (_Run(key),)
        return self.ctx.t(phrase)

    def kind_name(self, kind: str) -> Inline:
        """A subject kind: its key in English, its name in another language."""
        return (_Run(kind),) if self.english else self.ctx.name("subject_kinds", kind)

    def contact(self, kind: str, value: str, label: LocalizedText | None) -> str:
        shown = value if label is None else f"{self.text(label)} ({value})"
        return self.plain((*self.keyed("contact", kind), _Run(": "))) + shown

    def legal_basis(self, basis: str, article: str) -> str:
        return self.plain(
            self.t("ropa.legal_basis", basis=self.t(f"ropa.basis.{basis}"), article=article)
        )

    def transfer(self, source: str, country: str, mechanism: str) -> Inline:
        english = self.english
        return self.t(
            "ropa.transfer",
            **{
                "from": (_Run(source),) if english else self.ctx.region(source),
                "to": (_Run(country),) if english else self.ctx.country(country),
                "mechanism": self.keyed("mechanism", mechanism),
            },
        )

    def duration(self, value: Duration) -> str:
        return describe_duration(value, self.lang)

    def joined(self, parts: list[Inline]) -> Inline:
        """Parts separated by the language's semicolon."""
        out: list[_Run] = []
        for i, part in enumerate(parts):
            if i:
                out.append(_Run(self.ctx.word("semicolon")))
            out.extend(part)
        return tuple(out)


def rule_line(rule: RetentionRule, policy: Policy, words: Words) -> str:
    """One erasure time limit: the rule, what happens and when, its overrides, exceptions,
    staged deletion and products, in the record's language."""
    retention = words.ctx.retention(rule)
    head: Inline
    if rule.indefinite:
        head = words.t("ropa.rule_kept", rule=rule.key, retention=retention)
        if rule.reason is not None:
            head = (*head, _Run(" ("), *words.ctx.text(rule.reason), _Run(")"))
    else:
        action = words.t(f"ropa.action.{rule.action.value}")
        head = words.t("ropa.rule", rule=rule.key, action=action, retention=retention)
    if rule.action is RetentionAction.BLIND:
        fields = (
            ", ".join(rule.blind)
            if words.english
            else words.plain(words.ctx.names_of("categories", rule.blind))
        )
        head = (*head, _Run(" ("), *words.t("ropa.blind_fields", fields=fields), _Run(")"))
    parts: list[Inline] = [head]
    duration = words.duration
    if rule.override is not None:
        o = rule.override
        parts.append(
            words.t(
                "ropa.override",
                who=words.kind_name(o.configurable_by),
                min=duration(o.minimum),
                max=duration(o.maximum),
            )
        )
    for e in rule.exceptions:
        limit = (
            words.t("ropa.indefinitely")
            if e.indefinite
            else words.t("ropa.up_to", duration=duration(e.duration))
            if e.duration is not None
            else words.t("ropa.while")
        )
        kept = words.t(
            "ropa.exception", exception=words.keyed("exception", e.kind.value), limit=limit
        )
        parts.append((*kept, _Run(f" ({e.citation})")) if e.citation else kept)
    products = (
        [words.t("ropa.products", products=", ".join(rule.products))] if rule.products else []
    )
    if rule.indefinite:  # no end: no live purge, no outer bound to state
        return words.plain(words.joined([*parts, *products]))
    bound = staged_bound(policy, rule)
    if bound.purge_within is not None:
        parts.append(words.t("ropa.live", duration=duration(bound.purge_within)))
    if bound.backup_expiry is not None:
        parts.append(
            words.t(
                "ropa.backups",
                backups=", ".join(bound.backups),
                duration=duration(bound.backup_expiry),
            )
        )
    if bound.staged:
        parts.append(words.t("ropa.at_most", duration=duration(bound.total)))
    return words.plain(words.joined([*parts, *products]))
