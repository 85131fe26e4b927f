"""The message to the people affected by an incident: :func:`draft_notice` drafts a
:class:`BreachNotice` in English or Arabic, joining fixed phrases kept here with the policy's own
localisable text (its breach promise, the names of the categories affected, the controller's
contacts and complaints text) and saying whether an authority is being told."""

from __future__ import annotations

import datetime as dt

import attrs

from .._errors import ConfigurationError
from .._types import LocalizedText, normalize_language
from ..model._policy import Policy
from ..model._translations import base_language, in_language_or_fallback, term_name
from ._breach_assessment import BreachAssessment
from ._incident import Incident

__all__ = ["BreachNotice", "draft_notice", "in_language"]


def in_language(value: LocalizedText, lang: str) -> str:
    """``value`` in ``lang``; where the policy has no text in it, the text it falls back to,
    marked once with that language's tag (``[en] ...``) so a reader sees it is not translated.

    Example:
        >>> in_language(LocalizedText({"en": "Hi", "ar": "مرحبا"}), "AR")
        'مرحبا'
        >>> in_language(LocalizedText({"en": "Hi"}), "de")
        '[en] Hi'
    """
    return _marked(*in_language_or_fallback(value, lang))


def _marked(text: str, fell_back_to: str | None) -> str:
    return text if fell_back_to is None else f"[{fell_back_to}] {text}"


@attrs.frozen
class BreachNotice:
    """A drafted breach notice: its language, subject line and body.

    Example:
        >>> print(BreachNotice("en", "Notice", "Body"))
        Notice
        <BLANKLINE>
        Body
    """

    lang: str
    subject: str
    body: str

    def __str__(self) -> str:
        return f"{self.subject}\n\n{self.body}"


_NOTICE: dict[str, dict[str, str]] = {
    "en": {
        "subject.breach": "Notice of a personal data breach",
        "subject.misconfiguration": "Notice of a security incident",
        "subject.unauthorised_access": "Notice of unauthorised access to personal data",
        "intro": "We are writing to tell you about an incident at {controller} that concerns your data.",
        "kind.breach": "a personal data breach",
        "kind.misconfiguration": "a misconfiguration that could expose data",
        "kind.unauthorised_access": "unauthorised access to data",
        "what": "What happened: {kind} occurred on {occurred}; we became aware of it on {aware}.",
        "data": "Data concerned: {categories}.",
        "encrypted": "The data concerned was encrypted.",
        "authority": "We have informed, or are informing, the data protection authority as the law requires.",
        "promise": "Our commitment: {promise}",
        "contact": "Contact: {contacts}",
        "reference": "Reference: {reference}",
    },
    "ar": {
        "subject.breach": "إشعار بخرق للبيانات الشخصية",
        "subject.misconfiguration": "إشعار بحادث أمني",
        "subject.unauthorised_access": "إشعار بوصول غير مصرّح به إلى بيانات شخصية",
        "intro": "نكتب إليك لنبلغك بحادث لدى {controller} يتعلق ببياناتك.",
        "kind.breach": "خرق للبيانات الشخصية",
        "kind.misconfiguration": "خطأ في الإعدادات قد يكشف البيانات",
        "kind.unauthorised_access": "وصول غير مصرّح به إلى البيانات",
        "what": "ما الذي حدث: وقع {kind} بتاريخ {occurred}، وعلمنا به بتاريخ {aware}.",
        "data": "البيانات المعنية: {categories}.",
        "encrypted": "كانت البيانات المعنية مشفّرة.",
        "authority": "أبلغنا سلطة حماية البيانات، أو نحن بصدد إبلاغها، وفق ما يقتضيه القانون.",
        "promise": "التزامنا: {promise}",
        "contact": "للتواصل: {contacts}",
        "reference": "المرجع: {reference}",
    },
}


def _when(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M %z").strip()


def draft_notice(
    incident: Incident,
    assessment: BreachAssessment,
    policy: Policy,
    lang: str = "en",
) -> BreachNotice:
    """Draft the notice to the people affected, in English (``en``) or Arabic (``ar``).

    The text joins fixed phrases with the policy's own localisable text: its breach promise,
    the names of the categories affected and the controller's contacts.

    Args:
        incident: the incident.
        assessment: its assessment (says whether an authority is being told).
        policy: the policy (breach text, controller, vocabulary).
        lang: a BCP 47 tag served by English or Arabic phrases (``en``, ``AR``, ``ar-EG``);
            the policy's own text missing in it is taken from English and marked ``[en]``.

    Returns:
        A :class:`BreachNotice`.

    Raises:
        ConfigurationError: a language without fixed phrases.

    Example:
        >>> import datetime as dt, privacy_kit as pk
        >>> policy = pk.load_policy(pk.example_path())
        >>> t = dt.datetime(2025, 3, 2, 10, tzinfo=dt.UTC)
        >>> inc = Incident(occurred_at=t, aware_at=t, categories=["user.contact.email"], risk="high")
        >>> notice = draft_notice(inc, pk.assess(inc, policy), policy, lang="ar")
        >>> notice.subject
        'إشعار بخرق للبيانات الشخصية'
        >>> "72 ساعة" in notice.body
        True
    """
    try:
        tag = normalize_language(lang)
    except ValueError as exc:
        raise ConfigurationError(f"breach notice: {lang!r} is not a language tag: {exc}") from exc
    phrases = _NOTICE.get(base_language(tag))
    if phrases is None:
        raise ConfigurationError(
            f"no breach notice phrases for language {lang!r}; available: {sorted(_NOTICE)}"
        )
    lang = tag
    vocabulary = policy.vocabulary
    names = [_marked(*term_name(vocabulary, "categories", k, lang)) for k in incident.categories]
    separator = "، " if base_language(lang) == "ar" else ", "
    contacts = separator.join(
        c.value if c.label is None else f"{in_language(c.label, lang)} ({c.value})"
        for c in policy.controller.contacts
    )
    lines = [
        phrases["intro"].format(controller=policy.controller.name),
        phrases["what"].format(
            kind=phrases[f"kind.{incident.kind}"],
            occurred=_when(incident.occurred_at),
            aware=_when(incident.aware_at),
        ),
        phrases["data"].format(categories=separator.join(names)),
    ]
    if incident.encrypted:
        lines.append(phrases["encrypted"])
    if any(d.to == "authority" and d.required for d in assessment.duties):
        lines.append(phrases["authority"])
    if policy.breach is not None:  # no promise of its own: quote none
        lines.append(
            phrases["promise"].format(promise=in_language(policy.breach.description, lang))
        )
    lines.append(phrases["contact"].format(contacts=contacts))
    if policy.complaints is not None:
        lines.append(in_language(policy.complaints, lang))
    if incident.reference:
        lines.append(phrases["reference"].format(reference=incident.reference))
    return BreachNotice(lang, phrases[f"subject.{incident.kind}"], "\n\n".join(lines))
