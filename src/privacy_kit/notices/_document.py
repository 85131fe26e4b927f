"""The notice as a document: runs of text that know their language, blocks and sections.

A :class:`_Ctx` holds the policy and the requested language and turns phrase keys and the
policy's :class:`~privacy_kit.LocalizedText` into runs, each marked when it falls back to another
language; :func:`describe_duration` and :func:`describe_retention` say durations and rules in
words, in any language the phrase table has.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from .._types import Duration, LocalizedText, normalize_language
from ..model._jurisdictions import get_jurisdiction
from ..model._policy import Policy
from ..model._policy_retention import RetentionRule, Trigger
from ..model._taxonomy import Taxonomy
from ..model._translations import (
    TermKind,
    in_language_or_fallback,
    phrase,
    purpose_description,
    term_name,
    text_direction,
)
from ..model._translations import base_language as _base
from ..model._translations import phrases as _phrases

__all__ = ["describe_duration", "describe_retention"]

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


def _direction(lang: str) -> Literal["ltr", "rtl"]:
    return text_direction(lang)


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


def _merged(runs: Inline) -> list[_Run]:
    # Adjacent runs that render alike become one, so Markdown gets **a (b)**, not **a** **(b)**.
    out: list[_Run] = []
    for run in runs:
        if not run.text:
            continue
        prev = out[-1] if out else None
        same = prev is not None and (prev.strong, prev.href) == (run.strong, run.href)
        # Text with no letters (digits, punctuation, spaces) belongs to the fallback passage
        # around it, so a passage gets one marker, not one per stretch of words.
        neutral = run.lang is None and not any(ch.isalpha() for ch in run.text)
        if prev is not None and same and (prev.lang == run.lang or neutral):
            out[-1] = attrs.evolve(prev, text=prev.text + run.text)
        else:
            out.append(run)
    return out


def _continues(run: _Run) -> bool:
    """Whether ``run`` (not itself a fallback) leaves the passage's language as it was: text with
    no letters, or a link showing its own address."""
    if run.href is not None and run.text and run.text in run.href:
        return True
    return not any(ch.isalpha() for ch in run.text)


def _markers(runs: Inline) -> list[tuple[_Run, bool]]:
    """The merged runs, each with whether it opens a fallback passage (gets the visible tag)."""
    out: list[tuple[_Run, bool]] = []
    current: str | None = None
    for run in _merged(runs):
        if run.lang is not None:
            out.append((run, run.lang != current))
            current = run.lang
        else:
            out.append((run, False))
            if not _continues(run):
                current = None
    return out


def plain(runs: Inline) -> str:
    """Runs as plain text, each passage in another language opened once with its tag
    (``[en] ...``), as the Markdown notice marks it."""
    return "".join(
        f"[{run.lang}] {run.text}" if opens else run.text for run, opens in _markers(runs)
    )


class _Phrases:
    """Phrases, durations, rules' periods and the policy's text in one language, remembering
    what fell back (and to which language)."""

    def __init__(self, lang: str) -> None:
        # Tags are case-insensitive (AR is ar); callers refuse invalid tags, an odd one here
        # simply matches nothing.
        with contextlib.suppress(ValueError):
            lang = normalize_language(lang)
        self.lang = lang
        phrases = _phrases()
        self.own: Mapping[str, Any] = phrases.get(lang) or phrases.get(_base(lang)) or {}
        self.fallback: Mapping[str, Any] = phrases[_FALLBACK]
        self.fell_back: set[str] = set()

    # phrases -------------------------------------------------------------------------------
    def _template(self, key: str) -> tuple[Any, str | None]:
        template, lang = phrase(key, self.lang)
        if lang is not None:
            self.fell_back.add(lang)
        return template, lang

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

    def trigger(self, rule: RetentionRule, trigger: Trigger | None = None) -> Inline:
        """What starts ``rule``'s clock (``trigger``: its override's), in words: the policy's own
        ``event`` wording for an ``event`` trigger, else the generic phrase."""
        which = trigger or rule.trigger
        if which is Trigger.EVENT and rule.event is not None:
            return self.text(rule.event)
        return self.t(f"trigger.{which.value}")

    def retention(self, rule: RetentionRule) -> Inline:
        """How long ``rule`` keeps data: indefinitely, until its trigger, or for its duration
        after its trigger (:meth:`trigger`)."""
        if rule.indefinite:
            return self.t("retention.forever")
        if rule.duration is None:
            return self.t("retention.until", trigger=self.trigger(rule))
        return self.t(
            "retention.for_after", duration=self.duration(rule.duration), trigger=self.trigger(rule)
        )

    # policy text ---------------------------------------------------------------------------
    def _found(self, text: str, lang: str | None, *, strong: bool = False) -> Inline:
        if lang is not None:
            self.fell_back.add(lang)
        return (_Run(text, lang=lang, strong=strong),)

    def text(self, value: LocalizedText, *, strong: bool = False) -> Inline:
        return self._found(*in_language_or_fallback(value, self.lang), strong=strong)

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
        if self.own or _base(self.lang) == _FALLBACK:
            return (_Run(describe_duration(value, self.lang)),)
        return self._found(describe_duration(value, _FALLBACK), _FALLBACK)  # no phrase table

    def country(self, code: str) -> Inline:
        key = f"country.{code}"
        return self.t(key) if self.has_phrase(key) else (_Run(code),)

    def region(self, name: str) -> Inline:
        key = f"region.{name}"
        return self.t(key) if self.has_phrase(key) else (_Run(name),)

    def law(self, key: str) -> Inline:
        phrase = f"jurisdiction.{key}"
        return self.t(phrase) if self.has_phrase(phrase) else (_Run(get_jurisdiction(key).name),)


class _Ctx(_Phrases):
    """:class:`_Phrases` for a policy: also the names of its terms (see
    :func:`~privacy_kit.model._translations.term_name`)."""

    def __init__(self, policy: Policy, lang: str) -> None:
        super().__init__(lang)
        self.policy = policy
        self.tax: Taxonomy = policy.vocabulary

    def name(self, what: TermKind, key: str) -> Inline:
        return self._found(*term_name(self.tax, what, key, self.lang))

    def purpose_description(self, key: str) -> Inline | None:
        found = purpose_description(self.tax, key, self.lang)
        return None if found is None else self._found(*found)

    def names_of(self, what: TermKind, keys: Iterable[str]) -> Inline:
        return self.join([self.name(what, k) for k in dict.fromkeys(keys)])


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
        # A value filled into a fallback phrase is part of that passage (one marker for all).
        out.extend((_Run(value, lang=lang),) if isinstance(value, str) else value)
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

    Words the language lacks (the policy's ``event`` wording, or every phrase where privacy_kit
    has no phrase table for it) are shown in English, marked once per passage, as in the notice:

        >>> describe_retention(policy.rule("payment_data"), "de")
        '[en] until the account is closed'
    """
    return plain(_Phrases(lang).retention(rule))
