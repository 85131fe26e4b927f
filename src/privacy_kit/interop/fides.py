"""fides manifests in and out: taxonomies and datasets, without a dependency on fideslang.

A fides manifest is YAML (or JSON) with top-level lists: ``data_category``, ``data_use`` and
``data_subject`` (taxonomy entries with a ``fides_key``, ``name``, ``description`` and
``parent_key``) and ``dataset`` (collections whose fields carry ``data_categories`` and
``fides_meta`` such as ``primary_key``, ``identity`` and ``data_type``). This module maps them
onto privacy_kit's :class:`~privacy_kit.Taxonomy` and :class:`~privacy_kit.DataMap`, and back.

What fides has no place for (which field identifies which data subject of which kind, the
account link and the time fields retention rules start from) is supplied with ``overlay``: a
mapping from collection name to record-type settings, merged in before validation.

fides data uses carry no legal basis; :data:`DEFAULT_LEGAL_BASES` gives a documented default per
top-level use (``essential`` -> contract, ``marketing`` -> consent, ...), overridable per key.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from .._errors import PolicyError, Problem
from .._types import LocalizedText
from ..model._datamap import DataMap, RecordType
from ..model._taxonomy import DataCategory, LegalBasis, Purpose, SubjectKind, Taxonomy

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

_DATA_TYPES = {
    "string": "text",
    "integer": "integer",
    "float": "real",
    "boolean": "boolean",
    "object": "json",
    "object_id": "text",
}
_SPECIAL_PREFIXES = (
    "user.biometric",
    "user.health_and_medical",
    "user.criminal_history",
    "user.demographic.political_opinion",
    "user.demographic.race_ethnicity",
    "user.demographic.religious_belief",
    "user.demographic.sexual_orientation",
)
_KEY_FIELDS = {"fides_key", "name"}


def _problem(where: str, message: str) -> PolicyError:
    return PolicyError("<fides manifest>", [Problem(where, message)])


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

    Keys, names, descriptions and parents are kept as they are. A category is marked special
    (GDPR Art. 9/10) when it lies under one of fides' sensitive branches, and not personal under
    ``system``.

    Args:
        source: the manifest (path or mapping).
        legal_bases: legal basis per data-use key prefix, on top of :data:`DEFAULT_LEGAL_BASES`.
        default_legal_basis: the basis of a data use no prefix matches.

    Raises:
        PolicyError: when an entry lacks a key, a key does not fit privacy_kit's dotted-key
            pattern, or a ``parent_key`` disagrees with the key.

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
        categories.append(
            _build(
                "data_category",
                i,
                DataCategory,
                key=key,
                name=item.get("name") or key,
                description=_text(item.get("description")),
                special=key.startswith(_SPECIAL_PREFIXES),
                personal=not (key == "system" or key.startswith("system.")),
            )
        )
    purposes = []
    for i, item in enumerate(_entries(manifest, "data_use")):
        _check_parent("data_use", i, item)
        key = str(item["fides_key"])
        purposes.append(
            _build(
                "data_use",
                i,
                Purpose,
                key=key,
                name=item.get("name") or key,
                description=_text(item.get("description")),
                legal_basis=_basis(key, bases, default),
                direct_marketing=key.startswith("marketing."),
            )
        )
    kinds = [
        _build(
            "data_subject",
            i,
            SubjectKind,
            key=str(item["fides_key"]),
            name=item.get("name") or item["fides_key"],
            description=_text(item.get("description")),
        )
        for i, item in enumerate(_entries(manifest, "data_subject"))
    ]
    try:
        return Taxonomy(categories=categories, purposes=purposes, subject_kinds=kinds)
    except ValueError as exc:
        raise _problem("", str(exc)) from exc


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

    Example:
        >>> from privacy_kit import default_taxonomy
        >>> m = taxonomy_to_fides(default_taxonomy())
        >>> m["data_category"][1]["fides_key"], m["data_category"][1]["parent_key"]
        ('user.account', 'user')
    """

    def entry(key: str, name: LocalizedText, description: LocalizedText | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fides_key": key,
            "organization_fides_key": organization,
            "name": name.get_text(lang),
        }
        if description is not None:
            out["description"] = description.get_text(lang)
        return out

    def with_parent(item: dict[str, Any]) -> dict[str, Any]:
        parent = str(item["fides_key"]).rpartition(".")[0]
        if parent:
            item["parent_key"] = parent
        return item

    return {
        "data_category": [
            with_parent(entry(c.key, c.name, c.description)) for c in taxonomy.categories
        ],
        "data_use": [with_parent(entry(p.key, p.name, p.description)) for p in taxonomy.purposes],
        "data_subject": [entry(k.key, k.name, k.description) for k in taxonomy.subject_kinds],
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


def _record_type(
    dataset_key: str,
    i: int,
    collection: Mapping[str, Any],
    *,
    mapping: Mapping[str, str],
    subject_kind: str,
    overlay: Mapping[str, Any],
) -> dict[str, Any]:
    where = f"dataset[{dataset_key}].collections[{i}]"
    name = collection.get("name")
    if not isinstance(name, str) or not name:
        raise _problem(where, "each collection needs a 'name'")
    defaults = [mapping.get(c, c) for c in collection.get("data_categories") or []]
    fields: list[dict[str, Any]] = []
    subjects: list[dict[str, Any]] = []
    primary_key = None
    for j, field in enumerate(_flatten(collection.get("fields") or [])):
        fname = field.get("name")
        if not isinstance(fname, str) or not fname:
            raise _problem(f"{where}.fields[{j}]", "each field needs a 'name'")
        meta = field.get("fides_meta") or {}
        cats = [mapping.get(c, c) for c in field.get("data_categories") or []] or defaults
        personal_cats = [c for c in cats if not (c == "system" or c.startswith("system."))]
        spec: dict[str, Any] = {"name": fname}
        if field.get("description"):
            spec["description"] = str(field["description"])
        dtype = meta.get("data_type")
        if isinstance(dtype, str):
            spec["type"] = "json" if dtype.endswith("[]") else _DATA_TYPES.get(dtype, "text")
        if personal_cats:
            spec["categories"] = personal_cats
        else:
            spec["personal"] = False
        fields.append(spec)
        if meta.get("primary_key"):
            primary_key = fname
        if meta.get("identity"):
            subjects.append(
                {
                    "kind": subject_kind,
                    "field": fname,
                    "identity": str(meta["identity"]),
                    "role": f"{subject_kind}_{fname}" if subjects else None,
                }
            )
    record: dict[str, Any] = {"name": name, "store": dataset_key, "fields": fields}
    if collection.get("description"):
        record["description"] = str(collection["description"])
    if primary_key is not None:
        record["primary_key"] = primary_key
    if subjects:
        record["subjects"] = [{k: v for k, v in s.items() if v is not None} for s in subjects]
    extra = overlay.get(name) or {}
    if not isinstance(extra, Mapping):
        raise _problem(f"overlay.{name}", "expected a mapping of record-type settings")
    for key, value in extra.items():
        if key == "fields":
            by_name = {f["name"]: f for f in fields}
            for fname, changes in dict(value).items():
                if fname not in by_name:
                    raise _problem(f"overlay.{name}.fields.{fname}", "no such field in the dataset")
                by_name[fname].update(dict(changes))
                if by_name[fname].get("personal", True) is False:
                    by_name[fname].pop("categories", None)
        else:
            record[key] = value
    return record


def _flatten(fields: Iterable[Mapping[str, Any]], prefix: str = "") -> Iterable[dict[str, Any]]:
    # Nested fields (documents) become parent_child names: one flat field per leaf value.
    for field in fields:
        name = f"{prefix}{field.get('name')}"
        children = field.get("fields")
        if children:
            yield from _flatten(children, prefix=name + "_")
        else:
            yield {**field, "name": name}


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

    Args:
        source: the manifest (path or mapping).
        categories: category key translation, e.g. :func:`category_map` for fides' defaults.
        subject_kind: the kind of subject an ``identity`` field identifies.
        overlay: per collection name, record-type settings fides cannot express
            (``subjects``, ``account``, ``timestamps``, ``retention``) and per-field changes
            under ``fields`` (e.g. ``{"created_at": {"type": "timestamp"}}``).

    Raises:
        PolicyError: naming the dataset, collection and field, when the result is not a valid
            data map.

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
    record_types = []
    for i, dataset in enumerate(_entries(manifest, "dataset")):
        key = str(dataset["fides_key"])
        for j, collection in enumerate(dataset.get("collections") or []):
            record_types.append(
                _record_type(
                    key,
                    j,
                    collection,
                    mapping=mapping,
                    subject_kind=subject_kind,
                    overlay=overlay or {},
                )
            )
        if not dataset.get("collections"):
            raise _problem(f"dataset[{i}]", f"dataset {key!r} has no collections")
    try:
        return DataMap.model_validate({"record_types": record_types})
    except ValidationError as exc:
        raise PolicyError("<fides dataset>", validation_problems(exc)) from None


def datamap_to_fides(
    datamap: DataMap,
    *,
    categories: Mapping[str, str] | None = None,
    organization: str = "default_organization",
) -> dict[str, list[dict[str, Any]]]:
    """A manifest mapping with one ``dataset`` per store of ``datamap``.

    Non-personal fields are labelled ``system.operations``; ``categories`` translates keys
    (e.g. the inverse of :func:`category_map`).

    Example:
        >>> import privacy_kit as pk
        >>> m = datamap_to_fides(pk.load_datamap(pk.example_path("datamap.yaml")))
        >>> users = m["dataset"][0]["collections"][0]
        >>> users["name"], users["fields"][2]
        ('users', {'name': 'email', 'data_categories': ['user.contact.email'], 'fides_meta': {'data_type': 'string', 'identity': 'email'}})
    """
    mapping = categories or {}
    reverse_types = {"text": "string", "integer": "integer", "real": "float", "boolean": "boolean"}
    datasets: dict[str, dict[str, Any]] = {}
    for rt in datamap.record_types:
        dataset = datasets.setdefault(
            rt.store,
            {
                "fides_key": rt.store,
                "organization_fides_key": organization,
                "name": rt.store,
                "collections": [],
            },
        )
        identities = _identities(rt)
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
            meta: dict[str, Any] = {}
            if f.name == rt.primary_key:
                meta["primary_key"] = True
            if f.type in reverse_types:
                meta["data_type"] = reverse_types[f.type]
            if f.name in identities:
                meta["identity"] = identities[f.name]
            if meta:
                item["fides_meta"] = meta
            fields.append(item)
        collection: dict[str, Any] = {"name": rt.name, "fields": fields}
        if rt.description is not None:
            collection["description"] = rt.description.get_text("en")
        dataset["collections"].append(collection)
    return {"dataset": list(datasets.values())}


def _identities(rt: RecordType) -> dict[str, str]:
    # fides identities are the values a request arrives with (email, phone_number), not internal
    # ids that point at another record: only links by such an identity are written as identities.
    out: dict[str, str] = {}
    for link in rt.subjects:
        if link.identity != "user_id":
            out.setdefault(link.field, link.identity)
        for identity, field in link.extra_identities.items():
            out.setdefault(field, identity)
    return out
