"""The policy: every promise a privacy notice makes, as typed, validated data.

A :class:`Policy` says who the controller is, whom the policy covers, what is collected (and from
where, and why), with whom it is shared, where it is stored and how it is protected, how long it is
kept, which rights people have and how to use them, how fast a breach is reported, the minimum age,
which messages people can opt out of, and how changes are announced; every sentence a notice shows
is :class:`~privacy_kit.LocalizedText`. Its sections are frozen pydantic models, grouped in
:mod:`._policy_collection`, :mod:`._policy_retention` and :mod:`._policy_rights`; this module holds
the root model, whose cross-references (categories, purposes, subject kinds, recipients, channels,
jurisdictions) are checked when a policy is built, a failure naming the exact location, e.g.
``retention[2].duration``.
"""

import datetime as dt
import functools
from collections.abc import Iterable, Iterator

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from .._errors import Problem
from .._types import LocalizedText, Model, closest, unknown_name
from ._jurisdiction_keys import GLOBAL, LAWS
from ._policy_collection import (
    Collection,
    Controller,
    Recipient,
    SecurityMeasure,
    Storage,
    SubjectScope,
    TaxonomySpec,
    storage_problems,
)
from ._policy_promises import NotCollected, Product, Signal, SignalKind, promises_problems
from ._policy_retention import RetentionRule, retention_r1_problems
from ._policy_rights import (
    AutomatedDecisions,
    BreachPromise,
    ChangePolicy,
    Children,
    Communication,
    RequestChannel,
    Requests,
    Right,
    RightOffer,
)
from ._policy_rights_check import _rights_problems
from ._taxonomy import Taxonomy, default_taxonomy, is_within, special_category_problems

__all__ = ["Policy"]


class Policy(Model):
    """A privacy policy as data.

    Build one with :func:`privacy_kit.load_policy` (YAML, JSON or a mapping) or directly.
    Cross-references are validated on construction; :attr:`vocabulary` is the resolved taxonomy.

    Example:
        >>> import privacy_kit as pk
        >>> policy = pk.load_policy(pk.example_path("policy.yaml"))
        >>> policy.controller.name
        'Appointlet'
        >>> policy.rule_for("user.financial.payment_card").trigger
        <Trigger.ACCOUNT_CLOSED: 'account_closed'>
    """

    title: LocalizedText
    version: str = Field(min_length=1)
    effective: dt.date
    languages: tuple[str, ...] = ("en",)
    controller: Controller
    summary: LocalizedText | None = None
    principles: tuple[LocalizedText, ...] = ()
    jurisdictions: tuple[str, ...] = Field(min_length=1)
    taxonomy: TaxonomySpec = TaxonomySpec()
    products: tuple[Product, ...] = ()
    subjects: tuple[SubjectScope, ...] = Field(min_length=1)
    collection: tuple[Collection, ...] = Field(min_length=1)
    not_collected: tuple[NotCollected, ...] = ()
    recipients: tuple[Recipient, ...] = ()
    storage: Storage
    security: tuple[SecurityMeasure, ...] = ()
    security_disclaimer: LocalizedText | None = None
    retention: tuple[RetentionRule, ...] = ()
    rights: tuple[RightOffer, ...] = ()
    complaints: LocalizedText | None = None
    requests: Requests
    signals: tuple[Signal, ...] = ()
    breach: BreachPromise | None = Field(default=None, description="Absent: no breach promise")
    children: Children | None = Field(default=None, description="Absent: no minimum age")
    automated_decisions: AutomatedDecisions | None = None
    communications: tuple[Communication, ...] = ()
    changes: ChangePolicy

    @model_validator(mode="after")
    def _cross_references(self) -> "Policy":
        problems = list(_policy_problems(self))
        if problems:
            # Each message carries its own location, so the loader can report them all at once.
            raise PydanticCustomError("policy_references", "\n".join(str(p) for p in problems))
        return self

    def __repr__(self) -> str:
        return (
            f"Policy(title={self.title.get_text('en')!r}, version={self.version!r}, "
            f"collection={len(self.collection)}, recipients={len(self.recipients)}, "
            f"retention={len(self.retention)}, rights={len(self.rights)})"
        )

    def _repr_html_(self) -> str:
        from .._html import html_table, join_html  # noqa: PLC0415

        tax, en = self.vocabulary, "en"
        return join_html(
            html_table(
                f"{self.title.get_text(en)} (version {self.version}, effective {self.effective})",
                ["category", "name", "source", "purposes"],
                [
                    (
                        c.category,
                        tax.category(c.category).name.get_text(en),
                        c.source.value,
                        c.purposes,
                    )
                    for c in self.collection
                ],
                caption=f"Controller: {self.controller.name}; jurisdictions: "
                f"{', '.join(self.jurisdictions)}; languages: {', '.join(self.languages)}",
            ),
            html_table(
                "Recipients",
                ["key", "kind", "categories", "purposes", "countries"],
                [
                    (r.key, r.kind.value, r.categories, r.purposes, r.countries)
                    for r in self.recipients
                ],
            ),
            html_table(
                "Retention",
                ["rule", "categories", "trigger", "duration", "action", "exceptions"],
                [
                    (
                        r.key,
                        r.categories,
                        r.trigger.value,
                        "forever" if r.indefinite else r.duration,
                        r.action.value,
                        [e.kind.value for e in r.exceptions],
                    )
                    for r in self.retention
                ],
            ),
        )

    @functools.cached_property
    def vocabulary(self) -> Taxonomy:
        """The resolved taxonomy: the base plus the policy's own terms."""
        return _resolve_taxonomy(self.taxonomy)

    def is_collected(self, category: str) -> bool:
        """Whether ``category`` (or an ancestor of it) is declared as collected."""
        return any(True for _ in self.collections_for(category))

    def collections_for(self, category: str) -> Iterator[Collection]:
        """The collection entries that cover ``category``.

        An entry covers its own category and, unless it says ``inherit: false``, every category
        below it.
        """
        return (
            c
            for c in self.collection
            if category == c.category
            or (c.inherit is not False and is_within(category, c.category))
        )

    def is_declared_not_collected(self, category: str) -> bool:
        """Whether ``category`` (or an ancestor of it) is declared not collected.

        Example:
            >>> import privacy_kit as pk
            >>> pk.load_policy(pk.example_path()).is_declared_not_collected("user.health")
            False
        """
        return any(is_within(category, k) for nc in self.not_collected for k in nc.categories)

    def signal(self, kind: SignalKind | str) -> Signal | None:
        """The policy's declared answer to the browser signal ``kind`` (``None``: no promise).

        Example:
            >>> import privacy_kit as pk
            >>> pk.load_policy(pk.example_path()).signal("gpc") is None
            True
        """
        kind = SignalKind(kind)
        return next((s for s in self.signals if s.signal is kind), None)

    def product(self, key: str) -> Product:
        """The product ``key``; ``KeyError`` with a hint if unknown."""
        for p in self.products:
            if p.key == key:
                return p
        raise unknown_name("product", key, [p.key for p in self.products], list_known=True)

    def purposes_of(self, category: str) -> frozenset[str]:
        """Every purpose the policy declares for ``category``."""
        return frozenset(p for c in self.collections_for(category) for p in c.purposes)

    def recipients_of(self, category: str) -> tuple[Recipient, ...]:
        """The recipients that receive ``category``."""
        return tuple(
            r
            for r in self.recipients
            if any(
                category == k or (r.inherit is not False and is_within(category, k))
                for k in r.categories
            )
        )

    def recipient(self, key: str) -> Recipient:
        """The recipient ``key``; ``KeyError`` with a hint if unknown."""
        for r in self.recipients:
            if r.key == key:
                return r
        raise unknown_name("recipient", key, [r.key for r in self.recipients])

    def rule(self, key: str) -> RetentionRule:
        """The retention rule ``key``; ``KeyError`` with a hint if unknown."""
        for r in self.retention:
            if r.key == key:
                return r
        raise unknown_name("retention rule", key, [r.key for r in self.retention])

    def rule_for(self, category: str) -> RetentionRule | None:
        """The most specific retention rule covering ``category`` (``None`` if none does)."""
        best: tuple[int, RetentionRule] | None = None
        for r in self.retention:
            for k in r.categories:
                if is_within(category, k) and (best is None or k.count(".") > best[0]):
                    best = (k.count("."), r)
        return best[1] if best else None

    def offers(self, right: Right | str, jurisdiction: str | None = None) -> RightOffer | None:
        """The offer of ``right`` (in ``jurisdiction``, if given), or ``None``."""
        right = Right(right)
        for offer in self.rights:
            if offer.right is right and (
                jurisdiction is None
                or not offer.jurisdictions
                or jurisdiction in offer.jurisdictions
            ):
                return offer
        return None

    def channel(self, key: str) -> RequestChannel:
        """The request channel ``key``."""
        for c in self.requests.channels:
            if c.key == key:
                return c
        raise unknown_name(
            "request channel", key, [c.key for c in self.requests.channels], list_known=True
        )


def _resolve_taxonomy(spec: TaxonomySpec) -> Taxonomy:
    base = default_taxonomy() if spec.base == "default" else Taxonomy()
    return base.extend(
        categories=spec.categories, purposes=spec.purposes, subject_kinds=spec.subject_kinds
    )


class _Refs:
    """Collects cross-reference problems with their locations."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.problems: list[Problem] = []

    def add(self, location: str, message: str) -> None:
        self.problems.append(Problem(location, message))

    def category(self, location: str, key: str) -> None:
        if not self.taxonomy.has_category(key):
            self.add(location, _unknown("category", key, self.taxonomy.suggest_category(key)))

    def purpose(self, location: str, key: str) -> None:
        if not self.taxonomy.has_purpose(key):
            self.add(location, _unknown("purpose", key, self.taxonomy.suggest_purpose(key)))

    def kind(self, location: str, key: str, allowed: Iterable[str] | None = None) -> None:
        if not self.taxonomy.has_subject_kind(key):
            self.add(
                location, _unknown("subject kind", key, self.taxonomy.suggest_subject_kind(key))
            )
        elif allowed is not None and key not in set(allowed):
            self.add(location, f"subject kind {key!r} is not among the policy's subjects")

    def unique(self, section: str, keys: Iterable[str], what: str) -> None:
        seen: set[str] = set()
        for i, key in enumerate(keys):
            if key in seen:
                self.add(f"{section}[{i}]", f"duplicate {what} {key!r}")
            seen.add(key)


def _unknown(what: str, key: str, hint: str | None) -> str:
    return f"unknown {what} {key!r}" + (f"; did you mean {hint!r}?" if hint else "")


def _taxonomy_problems(spec: TaxonomySpec) -> Iterator[Problem]:
    """Duplicates and orphans among the policy's own terms, each at its own location."""
    base = default_taxonomy() if spec.base == "default" else Taxonomy()
    for section, keys, what in (
        ("categories", [c.key for c in spec.categories], "category"),
        ("purposes", [p.key for p in spec.purposes], "purpose"),
        ("subject_kinds", [k.key for k in spec.subject_kinds], "subject kind"),
    ):
        seen: set[str] = set()
        for i, key in enumerate(keys):
            if key in seen:
                yield Problem(f"taxonomy.{section}[{i}].key", f"duplicate {what} {key!r}")
            seen.add(key)
    known = {c.key for c in base.categories} | {c.key for c in spec.categories}
    for i, c in enumerate(spec.categories):
        if c.parent is not None and c.parent not in known:
            yield Problem(
                f"taxonomy.categories[{i}].key",
                f"category {c.key!r} has no parent category {c.parent!r}; declare {c.parent!r} too",
            )
    yield from special_category_problems(base, spec.categories, "taxonomy.categories")


def _policy_problems(policy: Policy) -> Iterator[Problem]:
    spec_problems = list(_taxonomy_problems(policy.taxonomy))
    if spec_problems:
        yield from spec_problems
        return
    taxonomy = _resolve_taxonomy(policy.taxonomy)
    refs = _Refs(taxonomy)
    known_jurisdictions = {*LAWS, GLOBAL}
    for i, key in enumerate(policy.jurisdictions):
        if key not in known_jurisdictions:
            refs.add(
                f"jurisdictions[{i}]",
                _unknown("jurisdiction", key, closest(key, known_jurisdictions)),
            )
    refs.unique("jurisdictions", policy.jurisdictions, "jurisdiction")
    for i, lang in enumerate(policy.languages):
        if not lang.isalpha() and "-" not in lang:
            refs.add(f"languages[{i}]", f"invalid language tag {lang!r}")
    kinds = [s.kind for s in policy.subjects]
    for i, s in enumerate(policy.subjects):
        refs.kind(f"subjects[{i}].kind", s.kind)
    refs.unique("subjects", kinds, "subject kind")

    for i, c in enumerate(policy.collection):
        refs.category(f"collection[{i}].category", c.category)
        for j, p in enumerate(c.purposes):
            refs.purpose(f"collection[{i}].purposes[{j}]", p)
        for j, k in enumerate(c.subjects):
            refs.kind(f"collection[{i}].subjects[{j}]", k, kinds)
    refs.unique(
        "collection", (f"{c.category}/{c.source}" for c in policy.collection), "collection entry"
    )

    for i, r in enumerate(policy.recipients):
        for j, k in enumerate(r.categories):
            refs.category(f"recipients[{i}].categories[{j}]", k)
        for j, p in enumerate(r.purposes):
            refs.purpose(f"recipients[{i}].purposes[{j}]", p)
        for j, k in enumerate(r.subjects):
            refs.kind(f"recipients[{i}].subjects[{j}]", k, kinds)
    refs.unique("recipients", (r.key for r in policy.recipients), "recipient")

    for i, loc in enumerate(policy.storage.locations):
        for j, k in enumerate(loc.categories):
            refs.category(f"storage.locations[{i}].categories[{j}]", k)
    refs.unique("storage.locations", (s.key for s in policy.storage.locations), "storage location")
    refs.problems.extend(storage_problems(policy.storage))
    refs.unique("security", (s.key for s in policy.security), "security measure")

    for i, rule in enumerate(policy.retention):
        where = f"retention[{i}]"
        for j, k in enumerate(rule.categories):
            refs.category(f"{where}.categories[{j}]", k)
        if rule.duration is not None and rule.duration.is_zero():
            refs.add(
                f"{where}.duration",
                "duration must be positive; leave it out to keep data until the trigger",
            )
        if rule.override is not None:
            o = rule.override
            if o.minimum.is_zero():
                refs.add(f"{where}.override.minimum", "minimum must be positive")
            if o.minimum > o.maximum:
                refs.add(
                    f"{where}.override",
                    f"inverted range: minimum {o.minimum} is longer than maximum {o.maximum}",
                )
            refs.kind(f"{where}.override.configurable_by", o.configurable_by, kinds)
        if (
            rule.legal_minimum is not None
            and rule.duration is not None
            and rule.duration < rule.legal_minimum
        ):
            refs.add(
                f"{where}.duration",
                f"{rule.duration} is shorter than the legal minimum {rule.legal_minimum} "
                "the rule declares",
            )
        for j, kept in enumerate(rule.exceptions):
            if kept.duration is not None and kept.duration.is_zero():
                refs.add(f"{where}.exceptions[{j}].duration", "duration must be positive")
            for m, k in enumerate(kept.categories):
                refs.category(f"{where}.exceptions[{j}].categories[{m}]", k)
    refs.unique("retention", (r.key for r in policy.retention), "retention rule")
    refs.problems.extend(retention_r1_problems(policy.retention, refs.category))

    channel_keys = [c.key for c in policy.requests.channels]
    refs.unique("requests.channels", channel_keys, "request channel")
    for i, offer in enumerate(policy.rights):
        for j, key in enumerate(offer.jurisdictions):
            if key not in policy.jurisdictions:
                refs.add(
                    f"rights[{i}].jurisdictions[{j}]",
                    f"jurisdiction {key!r} is not among the policy's jurisdictions "
                    f"{list(policy.jurisdictions)}",
                )
        for j, key in enumerate(offer.channels):
            if key not in channel_keys:
                refs.add(
                    f"rights[{i}].channels[{j}]",
                    _unknown("request channel", key, closest(key, channel_keys)),
                )
        for j, k in enumerate(offer.subjects):
            refs.kind(f"rights[{i}].subjects[{j}]", k, kinds)
    refs.unique(
        "rights", (f"{o.right}/{','.join(o.jurisdictions)}" for o in policy.rights), "right offer"
    )

    if policy.breach is not None:
        if policy.breach.notify_within.is_zero():
            refs.add("breach.notify_within", "duration must be positive")
        for j, k in enumerate(policy.breach.notify):
            refs.kind(f"breach.notify[{j}]", k, kinds)
    for i, comm in enumerate(policy.communications):
        refs.purpose(f"communications[{i}].purpose", comm.purpose)
    refs.unique("communications", (c.key for c in policy.communications), "communication")
    promises_problems(policy, refs)
    refs.problems.extend(
        _rights_problems(policy.requests, policy.automated_decisions, policy.recipients)
    )
    yield from refs.problems
