"""fides manifests in and out: taxonomies and datasets, without a dependency on fideslang.

A fides manifest is YAML (or JSON) with top-level lists: ``data_category``, ``data_use`` and
``data_subject`` (taxonomy entries with a ``fides_key``, ``name``, ``description`` and
``parent_key``) and ``dataset`` (collections whose fields carry ``data_categories`` and
``fides_meta`` such as ``primary_key``, ``identity`` and ``data_type``). This module maps them
onto privacy_kit's :class:`~privacy_kit.Taxonomy` and :class:`~privacy_kit.DataMap`, and back.

Manifests privacy_kit writes round-trip: what fides has no field for (a category's special flag,
a purpose's legal basis, texts in other languages, which field identifies which data subject of
which kind and role, field parties, the account link, time fields, anonymisation, ...) travels as
privacy_kit metadata that fides tools ignore (see :mod:`._fides_meta`) and is read back.

For a plain fides manifest, what fides has no place for is supplied with ``overlay``: a mapping
from collection name to record-type settings, merged in before validation; and, since fides data
uses carry no legal basis, :data:`DEFAULT_LEGAL_BASES` gives a documented default per top-level
use (``essential`` -> contract, ``marketing`` -> consent, ...), overridable per key.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from .._errors import PolicyError, Problem
from .._types import LocalizedText
from ..model._datamap import DataMap
from ..model._policy import Policy
from ..model._taxonomy import (
    DataCategory,
    LegalBasis,
    Purpose,
    SubjectKind,
    Taxonomy,
    default_taxonomy,
    is_within,
)
from . import _fides_manifest as _m

__all__ = [
    "DEFAULT_LEGAL_BASES",
    "category_map",
    "datamap_from_fides",
    "datamap_to_fides",
    "dump_manifest",
    "load_manifest",
    "taxonomy_from_fides",
    "taxonomy_to_fides",
]

DEFAULT_LEGAL_BASES: Mapping[str, LegalBasis] = {
    "essential": LegalBasis.CONTRACT,
    "essential.legal_obligation": LegalBasis.LEGAL_OBLIGATION,
    "essential.fraud_detection": LegalBasis.LEGITIMATE_INTERESTS,
    "essential.service.security": LegalBasis.LEGITIMATE_INTERESTS,
    "third_party_sharing.legal_obligation": LegalBasis.LEGAL_OBLIGATION,
    "finance": LegalBasis.CONTRACT,
    "employment": LegalBasis.CONTRACT,
    "marketing": LegalBasis.CONSENT,
    "personalize": LegalBasis.CONSENT,
    "third_party_sharing": LegalBasis.CONSENT,
    "collect": LegalBasis.CONSENT,
    "train_ai_system": LegalBasis.CONSENT,
    "analytics": LegalBasis.LEGITIMATE_INTERESTS,
    "functional": LegalBasis.LEGITIMATE_INTERESTS,
    "operations": LegalBasis.LEGITIMATE_INTERESTS,
    "sales": LegalBasis.LEGITIMATE_INTERESTS,
}
"""Legal basis assumed for a fides data use, by the longest matching key prefix.

These are privacy_kit's defaults, not fides': a data use says *why*, not *on what basis*, so review
them for your own processing and pass ``legal_bases`` to override.
"""

_SPECIAL_PREFIXES = (
    "user.biometric",
    "user.health_and_medical",
    "user.criminal_history",
    "user.demographic.political_opinion",
    "user.demographic.race_ethnicity",
    "user.demographic.religious_belief",
    "user.demographic.sexual_orientation",
)
_problem = _m.problem


def load_manifest(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Read a fides manifest (YAML or JSON path, or an already-parsed mapping).

    Raises:
        PolicyError: if the file cannot be read or parsed, or the top level is not a mapping.

    Example:
        >>> load_manifest({"data_subject": [{"fides_key": "customer", "name": "Customer"}]})
        {'data_subject': [{'fides_key': 'customer', 'name': 'Customer'}]}
    """
    if isinstance(source, Mapping):
        return dict(source)
    from ..model._loading import read_document  # noqa: PLC0415 - keeps YAML optional

    data = read_document(source)
    if not isinstance(data, Mapping):
        raise PolicyError(str(source), [Problem("", "a fides manifest must be a mapping")])
    return dict(data)


def dump_manifest(manifest: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a manifest as YAML (``.yaml``/``.yml``, needs PyYAML) or JSON (``.json``).

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "m.json"
        >>> dump_manifest({"data_use": []}, out)
        >>> out.read_text()
        '{\\n  "data_use": []\\n}'
    """
    p = Path(path)
    if p.suffix.lower() == ".json":
        p.write_bytes(orjson.dumps(dict(manifest), option=orjson.OPT_INDENT_2))
        return
    import yaml  # noqa: PLC0415 - optional dependency

    p.write_text(
        yaml.safe_dump(dict(manifest), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )


def _entries(manifest: Mapping[str, Any], section: str) -> list[Mapping[str, Any]]:
    items = manifest.get(section) or []
    if not isinstance(items, list):
        raise _problem(section, f"expected a list, got {type(items).__name__}")
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or not item.get("fides_key"):
            raise _problem(f"{section}[{i}]", "each entry needs a 'fides_key'")
    return items


def _text(value: object) -> LocalizedText | None:
    return LocalizedText({"en": str(value)}) if value else None


def _check_parent(section: str, i: int, item: Mapping[str, Any]) -> None:
    key = str(item["fides_key"])
    implied = key.rpartition(".")[0] or None
    parent = item.get("parent_key") or None
    if parent != implied:
        raise _problem(
            f"{section}[{i}].parent_key",
            f"{key!r} has parent_key {parent!r}, but privacy_kit derives parents from dotted keys "
            f"(expected {implied!r})",
        )


def _basis(key: str, bases: Mapping[str, LegalBasis], default: LegalBasis) -> LegalBasis:
    best = None
    for prefix, basis in bases.items():
        if (key == prefix or key.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best[0])
        ):
            best = (prefix, basis)
    return best[1] if best else default


def taxonomy_from_fides(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    legal_bases: Mapping[str, LegalBasis | str] | None = None,
    default_legal_basis: LegalBasis | str = LegalBasis.LEGITIMATE_INTERESTS,
) -> Taxonomy:
    """A :class:`~privacy_kit.Taxonomy` from a fides manifest's taxonomy lists.

    Keys, names, descriptions and parents are kept as they are. An entry's ``privacy_kit``
    metadata (written by :func:`taxonomy_to_fides`) gives back what fides has no field for: a
    category's ``special`` and ``personal`` flags, a data use's ``legal_basis`` and
    ``direct_marketing``, ``dpv`` IRIs and texts in every language. Without it, a category is
    special (GDPR Art. 9/10) when it lies under one of fides' sensitive branches or under a
    special category of privacy_kit's default taxonomy, and not personal under ``system``; a data
    use's legal basis comes from ``legal_bases``.

    Args:
        source: the manifest (path or mapping).
        legal_bases: legal basis per data-use key prefix, on top of :data:`DEFAULT_LEGAL_BASES`,
            for data uses without a ``privacy_kit`` legal basis.
        default_legal_basis: the basis of a data use no prefix matches.

    Raises:
        PolicyError: when an entry lacks a key, a key does not fit privacy_kit's dotted-key
            pattern, a ``parent_key`` disagrees with the key, or its ``privacy_kit`` metadata
            is malformed.

    Example:
        >>> tax = taxonomy_from_fides({
        ...     "data_category": [
        ...         {"fides_key": "user", "name": "User Data"},
        ...         {"fides_key": "user.contact", "name": "Contact Data", "parent_key": "user"}],
        ...     "data_use": [{"fides_key": "marketing", "name": "Marketing"}],
        ... })
        >>> tax.category("user.contact").parent, tax.purpose("marketing").legal_basis.value
        ('user', 'consent')
    """
    manifest = load_manifest(source)
    bases = {
        **DEFAULT_LEGAL_BASES,
        **{k: LegalBasis(v) for k, v in (legal_bases or {}).items()},
    }
    default = LegalBasis(default_legal_basis)
    categories = []
    for i, item in enumerate(_entries(manifest, "data_category")):
        _check_parent("data_category", i, item)
        key = str(item["fides_key"])
        cat = _m.read_term_meta("data_category", i, item, _m.CategoryMeta)
        categories.append(
            _build(
                "data_category",
                i,
                DataCategory,
                **_texts(key, item, cat),
                special=_pick(cat, "special", _derived_special(key)),
                personal=_pick(cat, "personal", not _m.is_system(key)),
                dpv=_pick(cat, "dpv", None),
                aliases=_pick(cat, "aliases", ()),
            )
        )
    purposes = []
    for i, item in enumerate(_entries(manifest, "data_use")):
        _check_parent("data_use", i, item)
        key = str(item["fides_key"])
        use = _m.read_term_meta("data_use", i, item, _m.PurposeMeta)
        purposes.append(
            _build(
                "data_use",
                i,
                Purpose,
                **_texts(key, item, use),
                legal_basis=_pick(use, "legal_basis", None) or _basis(key, bases, default),
                direct_marketing=_pick(use, "direct_marketing", key.startswith("marketing.")),
                dpv=_pick(use, "dpv", None),
            )
        )
    kinds = []
    for i, item in enumerate(_entries(manifest, "data_subject")):
        key = str(item["fides_key"])
        texts = _m.read_term_meta("data_subject", i, item, _m.TextsMeta)
        kinds.append(_build("data_subject", i, SubjectKind, **_texts(key, item, texts)))
    try:
        return Taxonomy(categories=categories, purposes=purposes, subject_kinds=kinds)
    except ValueError as exc:
        raise _problem("", str(exc)) from exc


def _texts(key: str, item: Mapping[str, Any], texts: _m.TextsMeta | None) -> dict[str, Any]:
    return {
        "key": key,
        "name": _pick(texts, "name", None) or item.get("name") or key,
        "description": _pick(texts, "description", None) or _text(item.get("description")),
    }


def _pick(found: object, attr: str, default: Any) -> Any:
    """The metadata's value of ``attr`` when the entry has metadata that sets it, else ``default``."""
    value = getattr(found, attr, None) if found is not None else None
    return default if value is None else value


@functools.cache
def _default_special() -> tuple[str, ...]:
    return tuple(c.key for c in default_taxonomy().categories if c.special)


def _derived_special(key: str) -> bool:
    # fides' sensitive branches, and privacy_kit's own special categories (e.g. user.health in a
    # manifest written before privacy_kit carried the flag as metadata)
    return key.startswith(_SPECIAL_PREFIXES) or any(is_within(key, k) for k in _default_special())


def _build(section: str, i: int, model: Any, **values: Any) -> Any:
    try:
        return model(**{k: v for k, v in values.items() if v is not None})
    except ValueError as exc:
        first = str(exc).splitlines()
        raise _problem(
            f"{section}[{i}]",
            f"{values.get('key')!r} cannot be used as a privacy_kit key: {first[-1].strip()}",
        ) from exc


def taxonomy_to_fides(
    taxonomy: Taxonomy, *, organization: str = "default_organization", lang: str = "en"
) -> dict[str, list[dict[str, Any]]]:
    """A fides manifest mapping (``data_category``, ``data_use``, ``data_subject``).

    Names and descriptions are written in ``lang``. Each entry also carries a ``privacy_kit``
    mapping that fides tools ignore and :func:`taxonomy_from_fides` reads back, so the taxonomy
    round-trips: a category's ``special`` and ``personal`` flags, a data use's ``legal_basis``
    and ``direct_marketing``, ``dpv`` IRIs, and the texts in every language when the written
    ones would not give them back.

    Example:
        >>> from privacy_kit import default_taxonomy
        >>> m = taxonomy_to_fides(default_taxonomy())
        >>> m["data_category"][1]["fides_key"], m["data_category"][1]["parent_key"]
        ('user.account', 'user')
        >>> health = next(e for e in m["data_category"] if e["fides_key"] == "user.health")
        >>> health["privacy_kit"]["special"], health["privacy_kit"]["aliases"][:2]
        (True, ['health', 'medical'])
        >>> taxonomy_from_fides(m) == default_taxonomy()
        True
    """

    def entry(term: DataCategory | Purpose | SubjectKind) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fides_key": term.key,
            "organization_fides_key": organization,
            "name": term.name.get_text(lang),
        }
        if term.description is not None:
            out["description"] = term.description.get_text(lang)
        parent = term.key.rpartition(".")[0]
        if parent and not isinstance(term, SubjectKind):
            out["parent_key"] = parent
        extra = _m.term_meta(term, lang)
        if extra:
            out[_m.KEY] = extra
        return out

    return {
        "data_category": [entry(c) for c in taxonomy.categories],
        "data_use": [entry(p) for p in taxonomy.purposes],
        "data_subject": [entry(k) for k in taxonomy.subject_kinds],
    }


@functools.cache
def category_map() -> Mapping[str, str]:
    """fides default category key -> privacy_kit default category key (package data).

    Use it with :func:`datamap_from_fides` to read a dataset labelled with fides' default
    taxonomy into a data map checked against a policy written with privacy_kit's.

    Example:
        >>> category_map()["user.contact.phone_number"]
        'user.contact.phone'
    """
    raw = resources.files("privacy_kit").joinpath("data/fides_category_map.json").read_bytes()
    data: dict[str, str] = orjson.loads(raw)
    return data


def datamap_from_fides(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    categories: Mapping[str, str] | None = None,
    subject_kind: str = "customer",
    overlay: Mapping[str, Mapping[str, Any]] | None = None,
) -> DataMap:
    """A :class:`~privacy_kit.DataMap` from a manifest's ``dataset`` list.

    Each collection becomes a record type in store ``<dataset fides_key>``; each field keeps its
    categories (``system.*`` fields become ``personal: false``), its ``fides_meta.data_type`` and
    ``primary_key``; a field with ``fides_meta.identity`` links the record to a data subject of
    ``subject_kind``. Nested fields are flattened as ``parent_child``.

    A dataset written by :func:`datamap_to_fides` carries the rest in ``_m.privacy_kit``
    (subject links with their kind, role, identity, owner and extra identities; field types,
    parties, anonymisation; the account link, time fields, retention rule, table name; texts in
    every language; the order of record types and fields), which is applied first, so the data
    map comes back equal.

    Args:
        source: the manifest (path or mapping).
        categories: category key translation, e.g. :func:`category_map` for fides' defaults.
        subject_kind: the kind of subject an ``identity`` field identifies, for collections
            whose metadata does not list their subjects.
        overlay: per collection name, record-type settings fides cannot express
            (``subjects``, ``account``, ``timestamps``, ``retention``) and per-field changes
            under ``fields`` (e.g. ``{"created_at": {"type": "timestamp"}}``); applied after
            the manifest's own metadata.

    Raises:
        PolicyError: naming the dataset, collection and field, when the result is not a valid
            data map or the manifest's ``privacy_kit`` metadata is malformed.

    Example:
        >>> dm = datamap_from_fides({"dataset": [{"fides_key": "app", "collections": [
        ...     {"name": "users", "fields": [
        ...         {"name": "id", "data_categories": ["system.operations"],
        ...          "fides_meta": {"primary_key": True, "data_type": "integer"}},
        ...         {"name": "email", "data_categories": ["user.contact.email"],
        ...          "fides_meta": {"identity": "email"}}]}]}]})
        >>> rt = dm.record_type("users")
        >>> rt.store, rt.primary_key, rt.subjects[0].identity, rt.field("id").personal
        ('app', 'id', 'email', False)
    """
    from pydantic import ValidationError  # noqa: PLC0415

    from ..model._loading import validation_problems  # noqa: PLC0415

    manifest = load_manifest(source)
    mapping = categories or {}
    overlay = overlay or {}
    placed: list[tuple[float, int, dict[str, Any]]] = []
    person_identities: list[str] = []
    for i, dataset in enumerate(_entries(manifest, "dataset")):
        key = str(dataset["fides_key"])
        person_identities += [
            p for p in _m.read_person_identities(i, dataset) if p not in person_identities
        ]
        collections = dataset.get("collections")
        if not collections:
            raise _problem(f"dataset[{i}]", f"dataset {key!r} has no collections")
        if not isinstance(collections, list):
            raise _problem(f"dataset[{i}].collections", "expected a list of collections")
        for j, collection in enumerate(collections):
            if not isinstance(collection, Mapping):
                raise _problem(f"dataset[{i}].collections[{j}]", "expected a collection mapping")
        names = [str(c.get("name")) for c in collections]
        embedded = _m.read_dataset_meta(i, dataset, names)
        for j, (name, collection) in enumerate(zip(names, collections, strict=True)):
            at, settings = embedded.get(name, ("", {}))
            record = _m.record_type(
                key,
                j,
                collection,
                mapping=mapping,
                subject_kind=subject_kind,
                overlays=[
                    (at, _m.overlay_settings(settings)),
                    (f"overlay.{name}", overlay.get(name)),
                ],
            )
            record["fields"] = _m.ordered_fields(at, record["fields"], settings.get("field_order"))
            position = settings.get("position")
            placed.append((float("inf") if position is None else position, len(placed), record))
    record_types = [record for _, _, record in sorted(placed, key=lambda p: p[:2])]
    try:
        return DataMap.model_validate(
            {"record_types": record_types, "person_identities": person_identities}
        )
    except ValidationError as exc:
        raise PolicyError("<fides dataset>", validation_problems(exc)) from None


def datamap_to_fides(
    datamap: DataMap,
    *,
    categories: Mapping[str, str] | None = None,
    organization: str = "default_organization",
    policy: Policy | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """A manifest mapping with one ``dataset`` per store of ``datamap``.

    With ``policy``, each collection carries fides' free-text ``retention``: its rule's period
    (``forever`` for a rule kept indefinitely, ``P30D after created``, ...), and each field an
    exception keeps indefinitely says ``forever`` too. Reading a manifest ignores these texts.

    Non-personal fields are labelled ``system.operations``; ``categories`` translates keys
    (e.g. the inverse of :func:`category_map`). What a fides dataset has no field for is written
    to each dataset's free-form ``meta`` under ``privacy_kit`` (fides keeps and ignores it), so
    :func:`datamap_from_fides` gives the data map back equal.

    Example:
        >>> import privacy_kit as pk
        >>> m = datamap_to_fides(pk.load_datamap(pk.example_path("datamap.yaml")))
        >>> users = m["dataset"][0]["collections"][0]
        >>> users["name"], users["fields"][2]
        ('users', {'name': 'email', 'data_categories': ['user.contact.email'], 'fides_meta': {'data_type': 'string', 'identity': 'email'}})
        >>> m["dataset"][0]["meta"]["privacy_kit"]["record_types"]["bookings"]["subjects"][1]
        {'kind': 'end_user', 'field': 'invitee_email', 'identity': 'email', 'role': 'invitee'}
        >>> datamap_from_fides(m) == pk.load_datamap(pk.example_path("datamap.yaml"))
        True
    """
    mapping = categories or {}
    datasets: dict[str, dict[str, Any]] = {}
    records: dict[str, dict[str, Any]] = {}
    for position, rt in enumerate(datamap.record_types):
        dataset = datasets.setdefault(
            rt.store,
            {
                "fides_key": rt.store,
                "organization_fides_key": organization,
                "name": rt.store,
                "collections": [],
            },
        )
        identities = _m.identities(rt)
        fields = []
        for f in rt.fields:
            item: dict[str, Any] = {
                "name": f.name,
                "data_categories": [mapping.get(c, c) for c in f.categories]
                if f.personal
                else ["system.operations"],
            }
            if f.description is not None:
                item["description"] = f.description.get_text("en")
            fides_meta: dict[str, Any] = {}
            if f.name == rt.primary_key:
                fides_meta["primary_key"] = True
            if f.type in _m.WRITTEN_TYPES:
                fides_meta["data_type"] = _m.WRITTEN_TYPES[f.type]
            if f.name in identities:
                fides_meta["identity"] = identities[f.name]
            if fides_meta:
                item["fides_meta"] = fides_meta
            fields.append(item)
        collection: dict[str, Any] = {"name": rt.name, "fields": fields}
        if policy is not None:
            _m.add_retention(collection, policy, rt)
        if rt.description is not None:
            collection["description"] = rt.description.get_text("en")
        dataset["collections"].append(collection)
        written = {f["name"]: f["data_categories"] for f in fields}
        records.setdefault(rt.store, {})[rt.name] = _m.record_meta(rt, position, written)
    for store, dataset in datasets.items():
        dataset["meta"] = _m.dataset_meta(records[store], datamap.person_identities)
    return {"dataset": list(datasets.values())}
