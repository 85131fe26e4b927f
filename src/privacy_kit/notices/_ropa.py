"""Records of processing activities (GDPR Art. 30(1)), generated from the policy.

:func:`records_of_processing` gives the controller's record: who the controller (and DPO and EU
representative) is, and, for each purpose, the legal basis, the categories of data subjects and of
personal data, the recipients (with third countries), the transfers and their safeguards, the
envisaged erasure time limits (from the retention rules) and the security measures. Export it as
CSV or JSON, load it into a data frame with :meth:`ProcessingRecords.to_records`, or read it as a
table (``print(records)`` or, in Jupyter, the HTML view).
"""

from __future__ import annotations

import csv
import os
import textwrap
from collections.abc import Iterator
from typing import Any, TextIO

import attrs
import orjson

from .._html import html_table, join_html, text_table
from .._types import normalize_language
from ..model._policy import Policy
from ..model._policy_retention import RetentionRule
from ..model._taxonomy import is_within
from ._ropa_words import Words, label, rule_line, word

__all__ = ["EEA_COUNTRIES", "ProcessingActivity", "ProcessingRecords", "records_of_processing"]

EEA_COUNTRIES: frozenset[str] = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
    ]
)
"""ISO codes of the EU/EEA member states: a transfer anywhere else is to a third country."""

_ARTICLE = "GDPR Art. 30(1)"

_COLUMNS = (
    "purpose",
    "purpose_name",
    "legal_basis",
    "data_subjects",
    "data_categories",
    "special_categories",
    "recipients",
    "third_countries",
    "transfers",
    "erasure_time_limits",
    "security_measures",
)


@attrs.frozen
class ProcessingActivity:
    """One processing activity (one purpose) of the record.

    Attributes:
        purpose: the purpose key; ``purpose_name`` is its name.
        legal_basis: the basis and its article, e.g. ``contract (GDPR Art. 6(1)(b))``.
        data_subjects: names of the categories of data subjects.
        data_categories: names of the categories of personal data (``special_categories``: those
            under GDPR Art. 9/10).
        recipients: each recipient as ``name (kind)``.
        third_countries: ISO codes outside the EU/EEA that data for this purpose goes to.
        transfers: each transfer and its safeguard.
        erasure_time_limits: one line per retention rule that governs the activity's data.
        security_measures: the general description of the technical and organisational measures.
    """

    purpose: str
    purpose_name: str
    legal_basis: str
    data_subjects: tuple[str, ...]
    data_categories: tuple[str, ...]
    special_categories: tuple[str, ...]
    recipients: tuple[str, ...]
    third_countries: tuple[str, ...]
    transfers: tuple[str, ...]
    erasure_time_limits: tuple[str, ...]
    security_measures: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The activity as a JSON-ready dict (lists kept as lists)."""
        return {name: _jsonable(getattr(self, name)) for name in _COLUMNS}


def _jsonable(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


@attrs.frozen
class ProcessingRecords:
    """The controller's record of processing activities (GDPR Art. 30(1)).

    Example:
        >>> import privacy_kit as pk
        >>> records = pk.records_of_processing(pk.load_policy(pk.example_path()))
        >>> records.controller
        'Appointlet'
        >>> [a.purpose for a in records.activities][:2]
        ['service.provide', 'service.administration']
        >>> records.to_records()[0]["legal_basis"]
        'contract (GDPR Art. 6(1)(b))'
    """

    controller: str
    controller_contacts: tuple[str, ...]
    dpo: str | None
    representative_eu: str | None
    policy_version: str
    activities: tuple[ProcessingActivity, ...]
    automated_decisions: str | None = None
    """What the policy declares about solely automated decisions (``None``: it declares nothing)."""
    lang: str = "en"
    """The language of the record's names, phrases and labels."""

    def __iter__(self) -> Iterator[ProcessingActivity]:
        return iter(self.activities)

    def __len__(self) -> int:
        return len(self.activities)

    def to_pandas(self) -> Any:
        """:meth:`to_records` as a ``pandas.DataFrame`` (same columns, even with no rows).

        Raises:
            ConfigurationError: if pandas is not installed (``pip install pandas``).
        """
        from .._html import data_frame  # noqa: PLC0415

        return data_frame(_COLUMNS, self.to_records(), of=type(self).__name__)

    def to_records(self) -> list[dict[str, str]]:
        """One flat dict per activity, list values joined with ``"; "`` (for CSV and data frames)."""
        out = []
        for a in self.activities:
            row = {}
            for name in _COLUMNS:
                value = getattr(a, name)
                row[name] = "; ".join(value) if isinstance(value, tuple) else str(value)
            out.append(row)
        return out

    def to_json(self) -> str:
        """The whole record, controller details included, as indented JSON."""
        doc = {
            "article": "GDPR Art. 30(1)",
            "controller": {
                "name": self.controller,
                "contacts": list(self.controller_contacts),
                "dpo": self.dpo,
                "representative_eu": self.representative_eu,
            },
            "policy_version": self.policy_version,
            "automated_decisions": self.automated_decisions,
            "activities": [a.to_dict() for a in self.activities],
        }
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()

    def to_csv(self, path_or_file: str | os.PathLike[str] | TextIO) -> None:
        """Write one row per activity, with a header row, to a path or an open text file.

        Example:
            >>> import io, privacy_kit as pk
            >>> buf = io.StringIO()
            >>> pk.records_of_processing(pk.load_policy(pk.example_path())).to_csv(buf)
            >>> buf.getvalue().splitlines()[0].split(",")[:3]
            ['purpose', 'purpose_name', 'legal_basis']
        """
        if isinstance(path_or_file, str | os.PathLike):
            with open(path_or_file, "w", newline="", encoding="utf-8") as handle:
                self._write_csv(handle)
        else:
            self._write_csv(path_or_file)

    def _write_csv(self, handle: TextIO) -> None:
        writer = csv.DictWriter(handle, fieldnames=list(_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.to_records())

    def _label(self, key: str, **args: str) -> str:
        return label(self.lang, key, **args)

    def _cells(self, value: tuple[str, ...]) -> str:
        """A list cell joined with the language's comma (``، `` in Arabic)."""
        return word(self.lang, "list.and").join(value)

    def _header(self) -> list[tuple[str, str]]:
        return [
            (self._label("ropa.controller"), self.controller),
            (self._label("ropa.contacts"), self._cells(self.controller_contacts)),
            (self._label("ropa.dpo"), self.dpo or self._label("ropa.not_appointed")),
            (
                self._label("ropa.representative_eu"),
                self.representative_eu or self._label("ropa.none"),
            ),
            (self._label("ropa.policy_version"), self.policy_version),
            (
                self._label("ropa.automated"),
                self.automated_decisions or self._label("ropa.not_declared"),
            ),
        ]

    def __str__(self) -> str:
        return self.to_text()

    def to_text(self, *, width: int | None = None) -> str:
        """The record as plain text: the controller's details, then a table of the activities.

        Args:
            width: the widest a line may be (e.g. the terminal's columns): the table's columns
                narrow and their cells wrap to fit, and the other lines wrap. ``None``: columns
                of up to 28 characters, lines unwrapped.

        Raises:
            ValueError: ``width`` is too narrow for a table of seven columns (below 50).

        Example:
            >>> import privacy_kit as pk
            >>> records = pk.records_of_processing(pk.load_policy(pk.example_path()))
            >>> max(len(line) for line in records.to_text(width=100).splitlines()) <= 100
            True
        """
        columns = [
            self._label(f"ropa.col.{c}")
            for c in ("purpose", "legal_basis", "subjects", "data", "recipients", "transfers")
        ] + [self._label("ropa.col.erasure")]
        none = self._label("ropa.none")
        cells = self._cells
        rows = [
            (
                a.purpose_name,
                a.legal_basis,
                cells(a.data_subjects),
                cells(a.data_categories),
                cells(a.recipients),
                cells(a.transfers or (none,)),
                cells(a.erasure_time_limits),
            )
            for a in self.activities
        ]
        security = self._security()
        lines = [
            self._label("ropa.title", article=_ARTICLE),
            *(f"{k}: {v}" for k, v in self._header()),
        ]
        if width is None:
            table = text_table(columns, rows, max_width=28)
        else:
            smallest = 4 * len(columns) + 3 * len(columns) + 1
            if width < smallest:
                raise ValueError(f"width must be at least {smallest}, got {width}")
            # the widest cells that fit: each step narrows every long column by one character
            for cell_width in range(40, 3, -1):
                table = text_table(columns, rows, max_width=cell_width)
                if len(table.partition("\n")[0]) <= width:
                    break
            lines = [wrapped for line in lines for wrapped in _wrap(line, width)]
        tail = f"{self._label('ropa.security')}: {security}"
        return "\n".join([*lines, table, *(_wrap(tail, width) if width else [tail])])

    def _security(self) -> str:
        if not self.activities:
            return ""
        return word(self.lang, "semicolon").join(self.activities[0].security_measures)

    def __repr__(self) -> str:
        return (
            f"ProcessingRecords(controller={self.controller!r}, "
            f"activities={len(self.activities)}, version={self.policy_version!r})"
        )

    def _repr_html_(self) -> str:
        rows = [
            (
                a.purpose_name,
                a.legal_basis,
                a.data_subjects,
                a.data_categories,
                a.recipients,
                a.third_countries,
                a.transfers,
                a.erasure_time_limits,
            )
            for a in self.activities
        ]
        columns = ("purpose", "legal_basis", "subjects", "data", "recipients", "third_countries")
        return join_html(
            html_table(
                self._label("ropa.controller_heading", article=f"{_ARTICLE}(a)"),
                ["", ""],
                self._header(),
            ),
            html_table(
                self._label("ropa.activities"),
                [
                    *(self._label(f"ropa.col.{c}") for c in columns),
                    self._label("ropa.col.transfers"),
                    self._label("ropa.col.erasure_limits"),
                ],
                rows,
                caption=f"{self._label('ropa.security')}: {self._security()}",
            ),
        )


def records_of_processing(policy: Policy, *, lang: str = "en") -> ProcessingRecords:
    """Build the GDPR Art. 30(1) record of processing activities from ``policy``.

    One activity per purpose the policy declares (collection, recipients and communications), in
    order of first appearance.

    Args:
        policy: the policy.
        lang: the language of names and durations (text missing in it falls back to English).

    Returns:
        The :class:`ProcessingRecords`.

    Example:
        >>> import privacy_kit as pk
        >>> records = records_of_processing(pk.load_policy(pk.example_path()))
        >>> billing = next(a for a in records if a.purpose == "billing")
        >>> billing.third_countries, billing.erasure_time_limits
        (('US',), ('payment_data: delete until the account is closed',))
    """
    lang = normalize_language(lang)
    words = Words(policy, lang)
    tax = policy.vocabulary
    subjects_all = tuple(words.name("subject_kinds", s.kind) for s in policy.subjects)
    security = tuple(
        words.text(m.description) + (f" ({m.standard})" if m.standard else "")
        for m in policy.security
    )
    contacts = tuple(words.contact(c.kind, c.value, c.label) for c in policy.controller.contacts)
    dpo = policy.controller.dpo
    purposes: list[str] = []
    for c in policy.collection:
        purposes.extend(c.purposes)
    for r in policy.recipients:
        purposes.extend(r.purposes)
    purposes.extend(c.purpose for c in policy.communications)

    activities = []
    for key in dict.fromkeys(purposes):
        purpose = tax.purpose(key)
        collections = [c for c in policy.collection if key in c.purposes]
        categories = list(dict.fromkeys(c.category for c in collections))
        kinds: list[str] = []
        for c in collections:
            kinds.extend(c.subjects or [s.kind for s in policy.subjects])
        subjects = (
            tuple(words.name("subject_kinds", k) for k in dict.fromkeys(kinds)) or subjects_all
        )
        recipients = [r for r in policy.recipients if key in r.purposes]
        countries: set[str] = set()
        for r in recipients:
            countries.update(r.countries)
        for loc in policy.storage.locations:
            if not loc.categories or any(
                is_within(cat, k) or is_within(k, cat) for cat in categories for k in loc.categories
            ):
                countries.add(loc.country)
        third = tuple(sorted(c for c in countries if c not in EEA_COUNTRIES))
        transfers = tuple(
            words.plain(words.transfer(t.from_region, t.to_country, t.mechanism))
            + (f" ({words.text(t.description)})" if t.description is not None else "")
            for t in policy.storage.transfers
            if t.to_country in third
        )
        rules = _rules_covering(policy, categories)
        activities.append(
            ProcessingActivity(
                purpose=key,
                purpose_name=words.name("purposes", key),
                legal_basis=words.legal_basis(
                    purpose.legal_basis.value, purpose.legal_basis.article
                ),
                data_subjects=subjects,
                data_categories=tuple(words.name("categories", k) for k in categories),
                special_categories=tuple(
                    words.name("categories", k) for k in categories if tax.is_special(k)
                ),
                recipients=tuple(
                    f"{words.text(r.name)} ({r.kind.value}"
                    + (
                        words.ctx.word("semicolon")
                        + words.plain(words.t("ropa.products", products=", ".join(r.products)))
                        if r.products
                        else ""
                    )
                    + ")"
                    for r in recipients
                ),
                third_countries=third,
                transfers=transfers,
                erasure_time_limits=tuple(rule_line(r, policy, words) for r in rules),
                security_measures=security,
            )
        )
    return ProcessingRecords(
        controller=policy.controller.name,
        controller_contacts=contacts,
        dpo=words.contact(dpo.kind, dpo.value, dpo.label) if dpo is not None else None,
        representative_eu=policy.controller.representative_eu,
        policy_version=policy.version,
        activities=tuple(activities),
        automated_decisions=_automated_line(policy, words),
        lang=lang,
    )


def _rules_covering(policy: Policy, categories: list[str]) -> list[RetentionRule]:
    """Every rule covering one of ``categories``, the most specific first for each.

    Not only the most specific one: a data map may put a category's records under several
    rules, one per state (live and trashed items), and each is a time limit of the category.
    """
    rules: list[RetentionRule] = []
    for cat in categories:
        covering = [
            (max(k.count(".") for k in r.categories if is_within(cat, k)), i, r)
            for i, r in enumerate(policy.retention)
            if any(is_within(cat, k) for k in r.categories)
        ]
        for _depth, _i, rule in sorted(covering, key=lambda t: (-t[0], t[1])):
            if rule not in rules:
                rules.append(rule)
    return rules


def _automated_line(policy: Policy, words: Words) -> str | None:
    decisions = policy.automated_decisions
    if decisions is None:
        return None
    used = "ropa.automated.used" if decisions.used else "ropa.automated.not_used"
    line = words.plain(words.t(used)) + ": " + words.text(decisions.description)
    if decisions.logic is not None:
        logic = words.plain(words.t("ropa.logic"))
        line += f" ({logic}: {words.text(decisions.logic)})"
    return line


def _wrap(line: str, width: int) -> list[str]:
    """``line`` wrapped at ``width``, continuation lines indented by two spaces."""
    return textwrap.wrap(line, width, subsequent_indent="  ", break_on_hyphens=False) or [""]
