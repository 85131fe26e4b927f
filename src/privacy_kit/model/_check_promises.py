"""check() findings that hold the data map to the policy's promises about what, whose, and where.

* ``collected-despite-declaration``: a field is categorised under a category the policy declares
  not collected.
* ``field-matches-not-collected``: an uncategorised personal field whose name reads like a
  category the policy declares not collected (the category key's last segment, or one of the
  taxonomy's ``aliases`` for it: ``sex`` for gender, ``race`` for ethnic origin).
* ``subject-kind-not-collected``: a field stores a category about a kind of subject (through its
  ``party`` or the record type's subject links) that no collection entry for that category
  names.
* ``inherited-purposes`` / ``inherited-recipients``: purposes or recipients declared on a parent
  category that reach categories below it without the policy saying so (``inherit`` unset).
* ``unknown-product`` / ``product-not-collected``: a record type names a product the policy does
  not declare, or stores a category that no collection entry for its product covers.

Findings are yielded as plain ``(code, severity, location, message)`` tuples; :func:`check` wraps
them (this module sits below it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .._types import closest
from ._datamap import DataMap, FieldSpec, RecordType
from ._policy import Policy
from ._taxonomy import is_within

__all__: list[str] = []

RawFinding = tuple[str, str, str, str]


def _finding(code: str, severity: str, location: str, message: str) -> RawFinding:
    return (code, severity, location, message)


def promise_findings(policy: Policy, datamap: DataMap | None) -> Iterator[RawFinding]:
    """Every finding of this module for ``policy`` (and ``datamap`` when given)."""
    yield from _inherited(policy, datamap)
    if datamap is None:
        return
    for i, rt in enumerate(datamap.record_types):
        where = f"datamap:record_types[{i}]"
        yield from _not_collected(policy, rt, where)
        yield from _subject_kinds(policy, rt, where)
        yield from _products(policy, rt, where)


# --- not collected ----------------------------------------------------------------------------


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    return [w for w in re.split(r"[^a-z0-9]+", spaced) if w]


def _says(name: str, term: str) -> bool:
    """Whether the field name ``name`` contains ``term`` as whole words (``sex`` in ``user_sex``)."""
    words, wanted = _words(name), term.lower().split("_")
    n = len(wanted)
    return any(words[k : k + n] == wanted for k in range(len(words) - n + 1))


def _terms(policy: Policy, key: str) -> dict[str, str]:
    """Words that name ``key`` or a category below it, each with the category it names."""
    tax = policy.vocabulary
    out: dict[str, str] = {}
    for c in tax.categories:
        if is_within(c.key, key):
            for term in c.aliases or (c.key.rpartition(".")[2],):
                out.setdefault(term, c.key)
    return out


def _not_collected(policy: Policy, rt: RecordType, where: str) -> Iterator[RawFinding]:
    if not policy.not_collected:
        return
    declared = [(i, k) for i, nc in enumerate(policy.not_collected) for k in nc.categories]
    for j, f in enumerate(rt.fields):
        for k, cat in enumerate(f.categories):
            for i, key in declared:
                if is_within(cat, key):
                    yield _finding(
                        "collected-despite-declaration",
                        "error",
                        f"{where}.fields[{j}].categories[{k}]",
                        f"{rt.name}.{f.name} stores {cat!r}, but the policy declares {key!r} not "
                        f"collected (not_collected[{i}]); stop storing it or change the promise",
                    )
                    break
        if f.personal and not f.categories:
            yield from _uncategorised(policy, rt, f, f"{where}.fields[{j}]", declared)


def _uncategorised(
    policy: Policy, rt: RecordType, f: FieldSpec, location: str, declared: list[tuple[int, str]]
) -> Iterator[RawFinding]:
    for i, key in declared:
        for term, cat in _terms(policy, key).items():
            if _says(f.name, term):
                yield _finding(
                    "field-matches-not-collected",
                    "error",
                    location,
                    f"{rt.name}.{f.name} has no category and its name reads like {cat!r} "
                    f"({term!r}), which the policy declares not collected (not_collected[{i}]); "
                    "categorise the field truthfully, mark it 'personal: false' if it holds no "
                    "personal data, or rename it",
                )
                return


# --- whose data -------------------------------------------------------------------------------


def _field_kinds(rt: RecordType, f: FieldSpec) -> list[str]:
    """The subject kinds a field is about: its party's, or every party's when it is shared."""
    links = [s for s in rt.subjects if f.party is None or s.role_name == f.party]
    return list(dict.fromkeys(s.kind for s in links))


def _subject_kinds(policy: Policy, rt: RecordType, where: str) -> Iterator[RawFinding]:
    tax = policy.vocabulary
    covered = {s.kind for s in policy.subjects}
    for j, f in enumerate(rt.fields):
        kinds = [k for k in _field_kinds(rt, f) if k in covered]
        for k, cat in enumerate(f.categories):
            if not tax.has_category(cat) or not tax.category(cat).personal:
                continue
            entries = list(policy.collections_for(cat))
            if not entries:  # undisclosed-category says so already
                continue
            for kind in kinds:
                if not any(not c.subjects or kind in c.subjects for c in entries):
                    named = sorted({s for c in entries for s in c.subjects})
                    yield _finding(
                        "subject-kind-not-collected",
                        "error",
                        f"{where}.fields[{j}].categories[{k}]",
                        f"{rt.name}.{f.name} stores {cat!r} about {kind!r} subjects"
                        + (f" (party {f.party!r})" if f.party else "")
                        + f", but the policy collects it only from {', '.join(named)}; add "
                        f"{kind!r} to the subjects of the collection entry that covers it",
                    )


# --- inheritance ------------------------------------------------------------------------------


def _named_categories(policy: Policy, datamap: DataMap | None) -> dict[str, str]:
    """Every category the policy or the data map names, with where it is first named."""
    named: dict[str, str] = {}
    for i, c in enumerate(policy.collection):
        named.setdefault(c.category, f"collection[{i}]")
    for i, r in enumerate(policy.recipients):
        for k in r.categories:
            named.setdefault(k, f"recipients[{i}]")
    for i, rule in enumerate(policy.retention):
        for k in rule.categories:
            named.setdefault(k, f"retention[{i}]")
    if datamap is not None:
        for rt in datamap.record_types:
            for f in rt.fields:
                for k in f.categories:
                    named.setdefault(k, f"{rt.name}.{f.name}")
    return named


def _inherited(policy: Policy, datamap: DataMap | None) -> Iterator[RawFinding]:
    named = _named_categories(policy, datamap)
    own = {c.category for c in policy.collection}
    for i, c in enumerate(policy.collection):
        if c.inherit is not None or not c.purposes:
            continue
        below = sorted(k for k in named if k != c.category and is_within(k, c.category))
        if not below:
            continue
        merged = [k for k in below if k in own]
        yield _finding(
            "inherited-purposes",
            "warning" if merged else "info",
            f"policy:collection[{i}]",
            f"the purposes of {c.category!r} ({', '.join(c.purposes)}) also apply to "
            f"{', '.join(below)}, below it"
            + (
                f" ({', '.join(merged)} also {'has' if len(merged) == 1 else 'have'} an entry "
                "of its own: the purposes add up)"
                if merged
                else ""
            )
            + f"; say 'inherit: true' to confirm, or 'inherit: false' to limit the entry to "
            f"{c.category!r}",
        )
    for i, r in enumerate(policy.recipients):
        if r.inherit is not None:
            continue
        for j, key in enumerate(r.categories):
            below = sorted(
                k for k in own if k != key and is_within(k, key) and k not in r.categories
            )
            if below:
                yield _finding(
                    "inherited-recipients",
                    "info",
                    f"policy:recipients[{i}].categories[{j}]",
                    f"recipient {r.key!r} receives {key!r}, so also {', '.join(below)}, which "
                    "the policy collects separately; say 'inherit: true' on the recipient to "
                    "confirm, or 'inherit: false' to limit it to the categories it lists",
                )


# --- products ---------------------------------------------------------------------------------


def _products(policy: Policy, rt: RecordType, where: str) -> Iterator[RawFinding]:
    if rt.product is None:
        return
    keys = [p.key for p in policy.products]
    if rt.product not in keys:
        hint = closest(rt.product, keys) if keys else None
        yield _finding(
            "unknown-product",
            "error",
            f"{where}.product",
            f"{rt.name!r} belongs to product {rt.product!r}, which the policy does not declare"
            + (f"; did you mean {hint!r}?" if hint else f" (products: {keys or 'none'})"),
        )
        return
    for j, f in enumerate(rt.fields):
        for k, cat in enumerate(f.categories):
            entries = list(policy.collections_for(cat))
            if entries and not any(not c.products or rt.product in c.products for c in entries):
                yield _finding(
                    "product-not-collected",
                    "error",
                    f"{where}.fields[{j}].categories[{k}]",
                    f"{rt.name}.{f.name} stores {cat!r} for product {rt.product!r}, but the "
                    f"policy collects it only for "
                    f"{', '.join(sorted({p for c in entries for p in c.products}))}",
                )
