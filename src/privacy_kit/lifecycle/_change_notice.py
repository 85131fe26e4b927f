"""The notice a material policy change requires (:class:`ChangeNotification`): the channels the
change policy promises, the subject kinds to tell, the date to send it by, the date the change
takes effect, and the message in each language of the new policy, built from the policy's own
localisable text and a few fixed phrases kept here; :meth:`~privacy_kit.PolicyDiff.notifications`
makes one per material change."""

from __future__ import annotations

import datetime as dt

import attrs

from .._types import Duration, LocalizedText
from ..model._policy import Policy
from ..model._translations import base_language
from ._breach_notice import in_language
from ._change import PolicyChange

__all__ = ["ChangeNotification"]

# Fixed phrases of the change notices, per language; other languages fall back to English.
_PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "what": "What changes",
        "effective": "These changes take effect on {date}.",
        "posted": "The full notice is at {url}.",
    },
    "ar": {
        "what": "ما الذي يتغيّر",
        "effective": "تسري هذه التعديلات اعتبارًا من {date}.",
        "posted": "النص الكامل للإشعار متاح على {url}.",
    },
}


@attrs.frozen
class ChangeNotification:
    """A notice a material change requires: over which channels, to whom, from when, saying what.

    Attributes:
        change: the material change.
        channels: the channels the change policy promises (``changes.notify_channels``).
        subject_kinds: who must be told.
        notify_by: the date by which the notice must be sent (the new version's effective date).
        takes_effect: the date the change applies (effective date, plus ``notice_period`` if set).
        text: the message, per language of the new policy.
    """

    change: PolicyChange
    channels: tuple[str, ...]
    subject_kinds: tuple[str, ...]
    notify_by: dt.date
    takes_effect: dt.date
    text: LocalizedText


def _date_after(start: dt.date, duration: Duration) -> dt.date:
    instant = duration.after(dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC))
    # A period ending part-way through a day takes effect on the next whole day.
    return instant.date() + dt.timedelta(days=1 if instant.time() != dt.time() else 0)


def _notice_text(policy: Policy, change: PolicyChange, takes_effect: dt.date) -> LocalizedText:
    languages = dict.fromkeys(policy.languages)
    out: dict[str, str] = {}
    for lang in languages:
        own = _PHRASES.get(base_language(lang))
        # No fixed phrases in this language: English ones, each marked as a fallback.
        phrases = own or {k: f"[en] {v}" for k, v in _PHRASES["en"].items()}
        # One marker per passage: the item is marked only where its phrase is not.
        if change.text is not None:
            item = in_language(change.text, lang) if own else change.text.get_text(lang)
        elif own is None or base_language(lang) == "en":
            item = change.description
        else:
            item = f"[en] {change.description}"  # the change's own words are English
        parts = [
            in_language(policy.changes.description, lang),
            f"{phrases['what']}: {item}",
            phrases["effective"].format(date=takes_effect.isoformat()),
        ]
        if policy.changes.posted_at:
            parts.append(phrases["posted"].format(url=policy.changes.posted_at))
        out[lang] = "\n\n".join(parts)
    return LocalizedText(out)
