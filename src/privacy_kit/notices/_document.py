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
from ..model._translations import base_language as _base
from ..model._translations import phrases as _phrases
from ..model._translations import term_names as _term_names

__all__ = ["describe_duration", "describe_retention"]

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
        # Tags are case-insensitive (AR is ar); callers refuse invalid tags, an odd one here
        # simply matches nothing.
        with contextlib.suppress(ValueError):
            lang = normalize_language(lang)
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

    def trigger(self, rule: RetentionRule, trigger: Trigger | None = None) -> Inline:
        """What starts ``rule``'s clock (``trigger``: its override's), in words: the policy's own
        ``event`` wording for an ``event`` trigger, else the generic phrase."""
        which = trigger or rule.trigger
        if which is Trigger.EVENT and rule.event is not None:
            return self.text(rule.event)
        return self.t(f"trigger.{which.value}")

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
    """
    table = _phrases().get(lang) or _phrases().get(_base(lang)) or _phrases()[_FALLBACK]
    if rule.indefinite:
        return str(table["retention.forever"])
    if rule.trigger is Trigger.EVENT and rule.event is not None:
        trigger = rule.event.get_text(lang)
    else:
        trigger = str(table[f"trigger.{rule.trigger.value}"])
    if rule.duration is None:
        return str(table["retention.until"]).replace("{trigger}", trigger)
    return (
        str(table["retention.for_after"])
        .replace("{duration}", describe_duration(rule.duration, lang))
        .replace("{trigger}", trigger)
    )
