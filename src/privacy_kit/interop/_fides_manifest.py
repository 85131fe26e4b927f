"""The pieces behind :mod:`privacy_kit.interop.fides`: collections as record types, and metadata.

A fides collection becomes a record type's settings with :func:`record_type` (overlays merged in).
What fides has no field for is carried as privacy_kit metadata that fides tools ignore, so a
manifest privacy_kit writes reads back to the same taxonomy and data map.

Taxonomy entries carry a ``privacy_kit`` mapping next to their fides fields (fideslang's taxonomy
models ignore keys they do not know): a category's ``special`` and ``personal`` flags, a data
use's ``legal_basis`` and ``direct_marketing``, a term's ``dpv`` IRI, and its ``name`` and
``description`` in every language when the single-language fides text would not give them back.

Datasets carry theirs in fides' free-form ``meta`` mapping, under ``meta.privacy_kit``, so it
survives tools that re-serialise a dataset through fideslang (which drops unknown keys and sorts
collections and fields by name)::

    meta:
      privacy_kit:
        format: 1
        record_types:
          bookings:
            position: 3                  # place in the data map
            field_order: [id, host_id, ...]
            subjects: [{role: host, kind: customer, field: host_id, owner: true}, ...]
            account: {field: host_id, record_type: users}
            timestamps: {created: created_at, event: end_at}
            fields:                      # per field, what fides cannot say
              invitee_email: {party: invitee, anonymize: {kind: pseudonym}}
              end_at: {type: timestamp}

A record type's settings have the shape of ``datamap_from_fides``' ``overlay`` and are applied
the same way, before the caller's overlay. Only what the fides fields would not give back is
written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from .._errors import PolicyError, Problem
from .._types import LocalizedText, Model, closest
from ..model._check_retention import retention_choices
from ..model._datamap import FieldSpec, RecordType, Timestamps
from ..model._policy import Policy
from ..model._policy_retention import FOREVER, RetentionRule
from ..model._taxonomy import DataCategory, LegalBasis, Purpose, SubjectKind, is_within

__all__: list[str] = []

KEY = "privacy_kit"
FORMAT = 1
# fides data types privacy_kit writes, by privacy_kit field type; other types travel in metadata.
WRITTEN_TYPES = {"text": "string", "integer": "integer", "real": "float", "boolean": "boolean"}
RECORD_KEYS = ("table", "description", "subjects", "timestamps", "account", "retention", "fields")
_ORDER_KEYS = ("position", "field_order")
FIELD_KEYS = ("type", "personal", "categories", "party", "anonymize", "description", "normalize")


def problem(where: str, message: str) -> PolicyError:
    """A located error in a fides manifest."""
    return PolicyError("<fides manifest>", [Problem(where, message)])


def is_system(key: str) -> bool:
    """Whether ``key`` is a fides ``system`` category (not personal data)."""
    return key == "system" or key.startswith("system.")


class TextsMeta(Model):
    """A term's texts in every language (also a subject kind's whole metadata)."""

    name: LocalizedText | None = None
    description: LocalizedText | None = None


class CategoryMeta(TextsMeta):
    """A data category's metadata."""

    special: bool | None = None
    personal: bool | None = None
    dpv: str | None = None
    aliases: tuple[str, ...] | None = None


class PurposeMeta(TextsMeta):
    """A data use's metadata."""

    legal_basis: LegalBasis | None = None
    direct_marketing: bool | None = None
    dpv: str | None = None


_M = TypeVar("_M", bound=TextsMeta)


def _native(text: str | None) -> LocalizedText | None:
    """The text the fides reader makes of a written string."""
    return LocalizedText({"en": text}) if text else None


def _texts(name: LocalizedText | None, key: str, written: str | None) -> bool:
    # True when the fides text (read back as English) would not give ``name`` back
    return name is not None and _native(written or key) != name


def term_meta(term: DataCategory | Purpose | SubjectKind, lang: str) -> dict[str, Any]:
    """The metadata of a taxonomy term written with names in ``lang``."""
    out: dict[str, Any] = {}
    if _texts(term.name, term.key, term.name.get_text(lang)):
        out["name"] = dict(term.name)
    if term.description is not None and _native(term.description.get_text(lang)) != (
        term.description
    ):
        out["description"] = dict(term.description)
    if isinstance(term, DataCategory):
        out["special"], out["personal"] = term.special, term.personal
        if term.aliases:
            out["aliases"] = list(term.aliases)
    elif isinstance(term, Purpose):
        out["legal_basis"] = term.legal_basis.value
        out["direct_marketing"] = term.direct_marketing
    if not isinstance(term, SubjectKind) and term.dpv is not None:
        out["dpv"] = term.dpv
    return out


def read_term_meta(section: str, i: int, item: Mapping[str, Any], model: type[_M]) -> _M | None:
    """The ``privacy_kit`` metadata of a taxonomy entry, or ``None`` for a plain fides entry."""
    raw = item.get(KEY)
    if raw is None:
        return None
    where = f"{section}[{i}].{KEY}"
    if not isinstance(raw, Mapping):
        raise problem(where, f"expected a mapping, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        from ..model._loading import validation_problems  # noqa: PLC0415 - as in fides.py

        problems = [
            Problem(f"{where}.{p.location}" if p.location else where, p.message)
            for p in validation_problems(exc)
        ]
        raise PolicyError("<fides manifest>", problems) from None


def _field_meta(f: FieldSpec, written: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if f.type not in WRITTEN_TYPES:
        out["type"] = f.type
    if f.personal and (not written or any(is_system(c) for c in written)):
        # the reader takes a field without personal categories for a non-personal one
        out["personal"], out["categories"] = True, list(f.categories)
    if f.party is not None:
        out["party"] = f.party
    if f.anonymize is not None:
        out["anonymize"] = f.anonymize.model_dump(mode="json", exclude_defaults=True)
    if f.normalize:
        out["normalize"] = list(f.normalize)
    if f.description is not None and _native(f.description.get_text("en")) != f.description:
        out["description"] = dict(f.description)
    return out


def record_meta(rt: RecordType, position: int, written: Mapping[str, list[str]]) -> dict[str, Any]:
    """A record type's metadata; ``written`` holds the fides categories written per field."""
    out: dict[str, Any] = {"position": position, "field_order": list(rt.field_names)}
    if rt.table is not None:
        out["table"] = rt.table
    if rt.description is not None and _native(rt.description.get_text("en")) != rt.description:
        out["description"] = dict(rt.description)
    if rt.subjects:
        out["subjects"] = [
            {k: v for k, v in s.model_dump(mode="json").items() if v not in (None, False, {})}
            for s in rt.subjects
        ]
    if rt.timestamps != Timestamps():
        out["timestamps"] = rt.timestamps.model_dump(mode="json", exclude_none=True)
    if rt.account is not None:
        out["account"] = rt.account.model_dump(mode="json")
    if isinstance(rt.retention, str):
        out["retention"] = rt.retention
    elif rt.retention is not None:
        out["retention"] = [
            e.model_dump(mode="json", by_alias=True, exclude_none=True) for e in rt.retention
        ]
    fields = {f.name: m for f in rt.fields if (m := _field_meta(f, written[f.name]))}
    if fields:
        out["fields"] = fields
    return out


def dataset_meta(
    records: Mapping[str, Mapping[str, Any]], person_identities: Iterable[str] = ()
) -> dict[str, Any]:
    """The ``meta`` mapping of a dataset whose collections have these record metadata."""
    meta: dict[str, Any] = {"format": FORMAT, "record_types": dict(records)}
    if person_identities:
        meta["person_identities"] = list(person_identities)
    return {KEY: meta}


def read_person_identities(i: int, dataset: Mapping[str, Any]) -> list[str]:
    """The data map's ``person_identities`` carried in a dataset's metadata (``[]`` if none)."""
    meta = dataset.get("meta")
    if not isinstance(meta, Mapping) or not isinstance(meta.get(KEY), Mapping):
        return []
    value = meta[KEY].get("person_identities") or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise problem(
            f"dataset[{i}].meta.{KEY}.person_identities", "expected a list of identity names"
        )
    return value


def _check_keys(
    where: str, value: object, allowed: Iterable[str], what: str = "privacy_kit setting"
) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise problem(where, f"expected a mapping, got {type(value).__name__}")
    known = list(allowed)
    for key in value:
        if key not in known:
            hint = closest(str(key), known)
            suffix = f"; did you mean {hint!r}?" if hint else f"; expected one of {known}"
            raise problem(f"{where}.{key}", f"unknown {what} {key!r}{suffix}")
    return value


def read_dataset_meta(
    i: int, dataset: Mapping[str, Any], collections: Iterable[str]
) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """Per collection name, (location, record metadata) from ``dataset.meta.privacy_kit``."""
    meta = dataset.get("meta")
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise problem(f"dataset[{i}].meta", f"expected a mapping, got {type(meta).__name__}")
    if meta.get(KEY) is None:
        return {}
    where = f"dataset[{i}].meta.{KEY}"
    raw = _check_keys(where, meta[KEY], ("format", "record_types", "person_identities"))
    if raw.get("format") != FORMAT:
        raise problem(
            f"{where}.format",
            f"privacy_kit metadata format {raw.get('format')!r} is not supported "
            f"(this version reads format {FORMAT})",
        )
    records = _check_keys(
        f"{where}.record_types", raw.get("record_types") or {}, collections, "collection"
    )
    out: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for name, settings in records.items():
        at = f"{where}.record_types.{name}"
        checked = _check_keys(at, settings, (*_ORDER_KEYS, *RECORD_KEYS))
        position = checked.get("position")
        if position is not None and (not isinstance(position, int) or isinstance(position, bool)):
            raise problem(f"{at}.position", f"expected an integer, got {position!r}")
        order = checked.get("field_order")
        if order is not None and (
            not isinstance(order, list) or not all(isinstance(n, str) for n in order)
        ):
            raise problem(f"{at}.field_order", "expected a list of field names")
        for fname, changes in dict(checked.get("fields") or {}).items():
            _check_keys(f"{at}.fields.{fname}", changes, FIELD_KEYS)
        out[str(name)] = (at, checked)
    return out


def ordered_fields(
    where: str, fields: list[dict[str, Any]], order: list[str] | None
) -> list[dict[str, Any]]:
    """``fields`` in ``order`` (the data map's), then any field the order does not name."""
    if order is None:
        return fields
    by_name = {f["name"]: f for f in fields}
    for name in order:
        if name not in by_name:
            raise problem(f"{where}.field_order", f"no field {name!r} in the collection")
    return [by_name[n] for n in order] + [f for f in fields if f["name"] not in set(order)]


def overlay_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The record-type settings of a record's metadata (without its position and field order)."""
    return {k: v for k, v in settings.items() if k not in _ORDER_KEYS}


# --- collections <-> record types ----------------------------------------------------------

_DATA_TYPES = {
    "string": "text",
    "integer": "integer",
    "float": "real",
    "boolean": "boolean",
    "object": "json",
    "object_id": "text",
}


def record_type(
    dataset_key: str,
    i: int,
    collection: Mapping[str, Any],
    *,
    mapping: Mapping[str, str],
    subject_kind: str,
    overlays: Iterable[tuple[str, object]],
) -> dict[str, Any]:
    """A fides collection as record-type settings, with each (location, overlay) merged in."""
    where = f"dataset[{dataset_key}].collections[{i}]"
    name = collection.get("name")
    if not isinstance(name, str) or not name:
        raise problem(where, "each collection needs a 'name'")
    defaults = [mapping.get(c, c) for c in collection.get("data_categories") or []]
    fields: list[dict[str, Any]] = []
    subjects: list[dict[str, Any]] = []
    primary_key = None
    for j, field in enumerate(_flatten(collection.get("fields") or [])):
        fname = field.get("name")
        if not isinstance(fname, str) or not fname:
            raise problem(f"{where}.fields[{j}]", "each field needs a 'name'")
        meta = field.get("fides_meta") or {}
        cats = [mapping.get(c, c) for c in field.get("data_categories") or []] or defaults
        personal_cats = [c for c in cats if not is_system(c)]
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
    for at, extra in overlays:
        _apply_overlay(at, record, extra or {})
    return record


def _apply_overlay(at: str, record: dict[str, Any], extra: object) -> None:
    """Merge record-type settings (``fields`` per field) into ``record``, in place."""
    if not isinstance(extra, Mapping):
        raise problem(at, "expected a mapping of record-type settings")
    for key, value in extra.items():
        if key == "fields":
            if not isinstance(value, Mapping):
                raise problem(f"{at}.fields", "expected a mapping of field name to changes")
            by_name = {f["name"]: f for f in record["fields"]}
            for fname, changes in value.items():
                if fname not in by_name:
                    raise problem(f"{at}.fields.{fname}", "no such field in the dataset")
                if not isinstance(changes, Mapping):
                    raise problem(f"{at}.fields.{fname}", "expected a mapping of field settings")
                by_name[fname].update(changes)
                if by_name[fname].get("personal", True) is False:
                    by_name[fname].pop("categories", None)
        else:
            record[key] = value


def _flatten(fields: Iterable[Mapping[str, Any]], prefix: str = "") -> Iterable[dict[str, Any]]:
    # Nested fields (documents) become parent_child names: one flat field per leaf value.
    for field in fields:
        name = f"{prefix}{field.get('name')}"
        children = field.get("fields")
        if children:
            yield from _flatten(children, prefix=name + "_")
        else:
            yield {**field, "name": name}


def identities(rt: RecordType) -> dict[str, str]:
    """Field name -> fides identity, for the fields a request's identity finds the subject by."""
    # fides identities are the values a request arrives with (email, phone_number), not internal
    # ids that point at another record: only links by such an identity are written as identities.
    out: dict[str, str] = {}
    for link in rt.subjects:
        if link.identity != "user_id":
            out.setdefault(link.field, link.identity)
        for identity, field in link.extra_identities.items():
            out.setdefault(field, identity)
    return out


def retention_text(rule: RetentionRule) -> str:
    """fides' free-text ``retention`` for a rule: ``forever``, ``P30D after created``, ..."""
    if rule.indefinite:
        return FOREVER
    if rule.duration is None:
        return f"until {rule.trigger.value}"
    return f"{rule.duration} after {rule.trigger.value}"


def add_retention(collection: dict[str, Any], policy: Policy, rt: RecordType) -> None:
    """Write the rule's period on ``collection`` and ``forever`` on fields kept indefinitely.

    A record type with rules by state gets every state's period (``status = 'trashed': P30D
    after event; any other record: P1Y after account_closed``), and ``forever`` on the fields
    any state's rule keeps indefinitely.
    """
    choices = retention_choices(policy, rt)
    if not choices:
        return
    if rt.is_conditional:
        texts = dict.fromkeys(f"{c.describe()}: {retention_text(c.rule)}" for c in choices)
        collection["retention"] = "; ".join(texts)
    else:
        collection["retention"] = retention_text(choices[0].rule)
    for item, spec in zip(collection["fields"], rt.fields, strict=True):
        if not spec.personal:
            continue
        forever = [
            c
            for c in choices
            for e in c.rule.indefinite_exceptions
            if any(
                is_within(x, k) for k in e.categories or c.rule.categories for x in spec.categories
            )
        ]
        if forever and not rt.is_conditional:
            item["retention"] = FOREVER
        elif forever:  # only the records in the states whose rule keeps the field
            item["retention"] = "; ".join(
                dict.fromkeys(f"{c.describe()}: {FOREVER}" for c in forever)
            )
