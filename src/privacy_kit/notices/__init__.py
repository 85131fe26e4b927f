"""What people read: the privacy notice (Markdown and HTML, left-to-right and right-to-left) and the
records of processing (GDPR Art. 30).

Layer rule: imports the foundation, :mod:`privacy_kit.model` and :mod:`privacy_kit.lifecycle`;
rendering never touches stored data.

Example:
    >>> import privacy_kit as pk
    >>> from privacy_kit.notices import render_notice
    >>> render_notice(pk.load_policy(pk.example_path()), lang="en").startswith("# ")
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

# name -> the module that defines it
_NAMES: dict[str, str] = {
    "notice_translation_gaps": "..model._translations",
    "phrase_languages": "..model._translations",
    "describe_duration": "._document",
    "describe_retention": "._document",
    "render_notice": "._render",
    "EEA_COUNTRIES": "._ropa",
    "ProcessingActivity": "._ropa",
    "ProcessingRecords": "._ropa",
    "records_of_processing": "._ropa",
}

__all__ = [
    "EEA_COUNTRIES",
    "ProcessingActivity",
    "ProcessingRecords",
    "describe_duration",
    "describe_retention",
    "notice_translation_gaps",
    "phrase_languages",
    "records_of_processing",
    "render_notice",
]

__getattr__, __dir__ = attach(__name__, _NAMES, __all__)

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from ..model._translations import notice_translation_gaps, phrase_languages
    from ._document import describe_duration, describe_retention
    from ._render import render_notice
    from ._ropa import EEA_COUNTRIES, ProcessingActivity, ProcessingRecords, records_of_processing
