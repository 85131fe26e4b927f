"""The consistency check: does what the data map stores match what the policy promises?

:func:`check` compares a policy with a data map and returns findings, each with a code, a severity,
a location and a message. Errors mean the policy does not describe what the application really
does (data stored but not disclosed, shared but not disclosed, kept with no retention rule);
warnings point at minimisation and completeness problems.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Any

import attrs
from pydantic import BaseModel

from .._types import LocalizedText
from ._check_promises import promise_findings
from ._check_retention import (
    conditional_findings,
    product_findings,
    retention_choices,
    rule_for_record_type,
)
from ._check_retention_blind import anonymizing_rule_findings
from ._check_storage import storage_findings, store_findings
from ._datamap import DataMap, RecordType
from ._datamap_refs import datamap_vocabulary_problems
from ._policy import Policy
from ._policy_retention import RetentionRule, Trigger
from ._taxonomy import is_within

__all__ = ["CheckReport", "Finding", "Severity", "check", "rule_for_record_type"]


class Severity(enum.StrEnum):
    """How serious a finding is."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@attrs.frozen
class Finding:
    """One result of :func:`check`.

    Attributes:
        code: a stable, kebab-case identifier (e.g. ``undisclosed-category``).
        severity: error, warning or info.
        location: where, as ``policy:collection[3]`` or ``datamap:record_types[1].fields[2]``.
        message: what is wrong and what to do.
    """

    code: str
    severity: Severity
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity.value:<7} {self.code:<28} {self.location}: {self.message}"

    def _repr_html_(self) -> str:
        from .._html import html_table  # noqa: PLC0415

        row = (self.severity.value, self.code, self.location, self.message)
        return html_table("Finding", ["severity", "code", "location", "message"], [row])


@attrs.frozen
class CheckReport:
    """The findings of :func:`check`, with helpers.

    Example:
        >>> import privacy_kit as pk
        >>> policy = pk.load_policy(pk.example_path())
        >>> report = pk.check(policy, pk.load_datamap(pk.example_path("datamap.yaml")))
        >>> report.ok
        True
    """

    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        """The error findings."""
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """The warning findings."""
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        """True when there is no error finding."""
        return not self.errors

    def codes(self) -> set[str]:
        """The distinct finding codes."""
        return {f.code for f in self.findings}

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def __repr__(self) -> str:
        counts = {s: sum(1 for f in self.findings if f.severity is s) for s in Severity}
        return (
            f"CheckReport(ok={self.ok}, errors={counts[Severity.ERROR]}, "
            f"warnings={counts[Severity.WARNING]}, info={counts[Severity.INFO]})"
        )

    def _repr_html_(self) -> str:
        from .._html import html_table  # noqa: PLC0415

        rows = [(f.severity.value, f.code, f.location, f.message) for f in self.findings]
        title = f"Check: {'ok' if self.ok else 'errors found'} ({len(self.findings)} findings)"
        return html_table(title, ["severity", "code", "location", "message"], rows)

    def to_pandas(self) -> Any:
        """:meth:`to_records` as a ``pandas.DataFrame`` (same columns, even with no rows).

        Raises:
            ConfigurationError: if pandas is not installed (``pip install pandas``).
        """
        from .._html import data_frame  # noqa: PLC0415

        return data_frame(
            ("code", "severity", "location", "message"), self.to_records(), of=type(self).__name__
        )

    def to_records(self) -> list[dict[str, str]]:
        """One dict per finding (for a data frame)."""
        return [
            {
                "code": f.code,
                "severity": f.severity.value,
                "location": f.location,
                "message": f.message,
            }
            for f in self.findings
        ]


def _missing_translations(
    value: Any, path: str, languages: tuple[str, ...]
) -> Iterator[tuple[str, str]]:
    if isinstance(value, LocalizedText):
        for lang in languages:
            if not value.has(lang):
                yield path, lang
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            yield from _missing_translations(item, f"{path}[{i}]", languages)
    # isinstance, not hasattr(value, "model_fields"): that instance access is deprecated (a warning)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _missing_translations(
                getattr(value, name), f"{path}.{name}" if path else name, languages
            )


def check(policy: Policy, datamap: DataMap | None = None) -> CheckReport:
    """Check a policy (and a data map against it) and return the findings.

    Args:
        policy: the policy.
        datamap: where the data lives; without it only the policy's own findings are reported.

    Example:
        >>> import privacy_kit as pk
        >>> policy = pk.load_policy(pk.example_path())
        >>> [f.code for f in pk.check(policy).errors]
        []
    """
    out: list[Finding] = []

    def add(code: str, severity: Severity, location: str, message: str) -> None:
        out.append(Finding(code, severity, location, message))

    tax = policy.vocabulary
    for i, c in enumerate(policy.collection):
        if not c.purposes:
            add(
                "category-without-purpose",
                Severity.WARNING,
                f"policy:collection[{i}]",
                f"{c.category!r} is collected but no purpose uses it (minimisation: drop it or "
                "name the purpose)",
            )
        if tax.is_special(c.category):
            add(
                "special-category",
                Severity.INFO,
                f"policy:collection[{i}]",
                f"{c.category!r} is a special category (GDPR Art. 9): it needs an Art. 9(2) condition",
            )
    for i, r in enumerate(policy.recipients):
        for j, cat in enumerate(r.categories):
            if not policy.is_collected(cat) and not any(
                is_within(c.category, cat) for c in policy.collection
            ):
                add(
                    "recipient-undisclosed-category",
                    Severity.ERROR,
                    f"policy:recipients[{i}].categories[{j}]",
                    f"recipient {r.key!r} receives {cat!r}, which the policy does not say is collected",
                )
        for j, p in enumerate(r.purposes):
            if not any(p in c.purposes for c in policy.collection):
                add(
                    "recipient-undeclared-purpose",
                    Severity.WARNING,
                    f"policy:recipients[{i}].purposes[{j}]",
                    f"recipient {r.key!r} receives data for {p!r}, a purpose no collection declares",
                )
    for i, c in enumerate(policy.collection):
        if policy.rule_for(c.category) is None and not any(
            is_within(k, c.category) for r in policy.retention for k in r.categories
        ):
            add(
                "category-without-retention",
                Severity.WARNING,
                f"policy:collection[{i}]",
                f"no retention rule says how long {c.category!r} is kept",
            )
    for i, rule in enumerate(policy.retention):
        override = None if rule.override is None else rule.override.trigger
        if rule.event is not None and "event" not in (rule.trigger.value, override):
            add(
                "retention-event-unused",
                Severity.WARNING,
                f"policy:retention[{i}].event",
                f"'event' names the event of an 'event' trigger, but rule {rule.key!r} counts from "
                f"{rule.trigger.value} and no override counts from an event; nothing says it",
            )
    for path, lang in _missing_translations(policy, "", policy.languages):
        add(
            "missing-translation",
            Severity.WARNING,
            f"policy:{path}",
            f"no {lang!r} text; notices fall back to another language here",
        )
    from ._translations import notice_translation_gaps  # noqa: PLC0415 - read package data only when checking

    for path, _lang, message in notice_translation_gaps(policy):
        add("missing-translation", Severity.WARNING, f"policy:{path}", message)

    out.extend(Finding(c, Severity(v), at, m) for c, v, at, m in storage_findings(policy))
    if datamap is not None:
        out.extend(_datamap_findings(policy, datamap))
        out.extend(
            Finding(c, Severity(v), at, m) for c, v, at, m in store_findings(policy, datamap)
        )
    out.extend(Finding(c, Severity(s), w, m) for c, s, w, m in promise_findings(policy, datamap))
    return CheckReport(tuple(out))


def _datamap_findings(policy: Policy, datamap: DataMap) -> Iterator[Finding]:
    for problem in datamap_vocabulary_problems(datamap, policy):
        yield Finding(
            "unknown-reference", Severity.ERROR, f"datamap:{problem.location}", problem.message
        )
    tax = policy.vocabulary
    kinds = {s.kind for s in policy.subjects}
    stored: set[str] = set()
    for i, rt in enumerate(datamap.record_types):
        where = f"datamap:record_types[{i}]"
        personal = [f for f in rt.fields if f.personal]
        if not rt.subjects and personal:
            yield Finding(
                "record-type-without-subject",
                Severity.ERROR,
                where,
                f"{rt.name!r} holds personal data but no field links it to a data subject; "
                "add a 'subjects' entry so export and erasure can find its records",
            )
        for j, s in enumerate(rt.subjects):
            if tax.has_subject_kind(s.kind) and s.kind not in kinds:
                yield Finding(
                    "subject-kind-not-covered",
                    Severity.ERROR,
                    f"{where}.subjects[{j}]",
                    f"subject kind {s.kind!r} is not among the subjects the policy covers",
                )
        for j, f in enumerate(rt.fields):
            if f.personal and not f.categories:
                yield Finding(
                    "field-without-category",
                    Severity.WARNING,
                    f"{where}.fields[{j}]",
                    f"{rt.name}.{f.name} has no category; list its categories or mark it "
                    "'personal: false'",
                )
            for k, cat in enumerate(f.categories):
                if not tax.has_category(cat):
                    continue
                stored.add(cat)
                if not policy.is_collected(cat):
                    yield Finding(
                        "undisclosed-category",
                        Severity.ERROR,
                        f"{where}.fields[{j}].categories[{k}]",
                        f"{rt.name}.{f.name} stores {cat!r}, which the policy does not disclose",
                    )
                if (
                    tax.category(cat).personal
                    and policy.rule_for(cat) is None
                    and rt.retention is None
                ):
                    yield Finding(
                        "stored-without-retention",
                        Severity.ERROR,
                        f"{where}.fields[{j}].categories[{k}]",
                        f"{rt.name}.{f.name} stores {cat!r}, which no retention rule covers",
                    )
        for choice in retention_choices(policy, rt):
            yield from _trigger_findings(choice.rule, rt, where, datamap, choice.trigger_field)
            entry, state = where, None  # rules by state: each entry checked and located
            if choice.index is not None:
                entry, state = f"{where}.retention[{choice.index}]", choice.describe()
            for code, sev, at, message in anonymizing_rule_findings(choice.rule, rt, entry, state):
                yield Finding(code, Severity(sev), at, message)
        for code, severity, location, message in conditional_findings(rt, where):
            yield Finding(code, Severity(severity), location, message)
        for code, severity, location, message in product_findings(policy, rt, where):
            yield Finding(code, Severity(severity), location, message)
    for i, c in enumerate(policy.collection):
        if not any(is_within(s, c.category) for s in stored):
            yield Finding(
                "collected-not-stored",
                Severity.INFO,
                f"policy:collection[{i}]",
                f"{c.category!r} is declared but no record type in the data map stores it",
            )


def _trigger_findings(
    rule: RetentionRule,
    rt: RecordType,
    where: str,
    datamap: DataMap,
    trigger_field: str | None = None,
) -> Iterator[Finding]:
    triggers = {rule.trigger} if trigger_field is None else set()
    if rule.override is not None and rule.override.trigger is not None:
        triggers.add(rule.override.trigger)
    for trigger in triggers:
        if trigger in (Trigger.ACCOUNT_CLOSED, Trigger.ACCOUNT_DEACTIVATED):
            has_own = rt.time_field(trigger) is not None
            via_account = rt.account is not None and datamap.has_record_type(rt.account.record_type)
            if via_account and rt.account is not None:
                account = datamap.record_type(rt.account.record_type)
                if account.time_field(trigger) is None:
                    yield Finding(
                        "trigger-without-time-field",
                        Severity.ERROR,
                        f"{where}.account",
                        f"rule {rule.key!r} starts at {trigger.value} but {account.name!r} has no "
                        f"timestamps.{'closed' if trigger is Trigger.ACCOUNT_CLOSED else 'deactivated'}",
                    )
            elif not has_own:
                yield Finding(
                    "trigger-without-time-field",
                    Severity.ERROR,
                    where,
                    f"rule {rule.key!r} starts at {trigger.value} but {rt.name!r} has neither an "
                    "'account' link nor its own closure time field",
                )
        elif rt.time_field(trigger) is None:
            yield Finding(
                "trigger-without-time-field",
                Severity.ERROR,
                f"{where}.timestamps",
                f"rule {rule.key!r} starts at {trigger.value} but {rt.name!r} declares no "
                f"timestamps.{trigger.value} field",
            )
