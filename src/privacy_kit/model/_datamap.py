"""The data map: where personal data lives in the host application's stores.

A :class:`DataMap` lists record types (a table, a collection, a bucket of documents). Each names
its store and primary key, its fields with the categories they hold, which fields identify which
data subject (and by which identity: a user id, an e-mail address), which party owns a field in
records that concern two subjects (a booking's host and invitee), and the time fields retention
triggers use. The data map knows nothing of adapters; adapters know nothing of the policy.
"""

import enum
import functools
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from .._errors import Problem, WrongTypeError
from .._types import LocalizedText, Model, closest, unknown_name
from ._conditions import RetentionChoice, retention_entry_problems

__all__ = [
    "AccountLink",
    "Anonymization",
    "AnonymizationKind",
    "DataMap",
    "FieldSpec",
    "RecordType",
    "SubjectLink",
    "Timestamps",
]


class AnonymizationKind(enum.StrEnum):
    """Per-field anonymisation strategies."""

    NULL = "null"
    """Set the field to NULL."""
    FIXED = "fixed"
    """Replace with a fixed value (``value``)."""
    PSEUDONYM = "pseudonym"
    """A keyed hash (HMAC-SHA256) of the original: stable, not reversible without the key."""
    MASK = "mask"
    """Keep the last ``keep`` characters, mask the rest with ``*``."""
    GENERALIZE_DATE = "generalize_date"
    """Truncate a timestamp to ``granularity`` (year, month or day)."""


class Anonymization(Model):
    """How one field is anonymised.

    Example:
        >>> Anonymization(kind="mask", keep=4).kind
        <AnonymizationKind.MASK: 'mask'>
    """

    kind: AnonymizationKind
    value: str | int | float | bool | None = None
    keep: int = Field(default=0, ge=0)
    granularity: Literal["year", "month", "day"] = "month"

    @model_validator(mode="after")
    def _fixed_needs_value(self) -> "Anonymization":
        if self.kind is AnonymizationKind.FIXED and self.value is None:
            raise PydanticCustomError("anonymization", "strategy 'fixed' needs a 'value'")
        return self


class FieldSpec(Model):
    """A field of a record type and the categories it holds.

    ``party`` names the subject role that owns the field in a multi-party record (e.g. the
    invitee's e-mail in a booking); a field without a party is shared by all parties.
    """

    name: str = Field(min_length=1, max_length=128)
    type: Literal["text", "integer", "real", "boolean", "timestamp", "date", "json"] = Field(
        default="text",
        description="Storage type; 'timestamp' values are timezone-aware datetimes in Python",
    )
    categories: tuple[str, ...] = ()
    personal: bool = Field(default=True, description="False for fields that hold no personal data")
    party: str | None = None
    anonymize: Anonymization | None = None
    description: LocalizedText | None = None
    normalize: tuple[Literal["lower", "casefold", "nfc", "nfkc"], ...] = Field(
        default=(),
        description="How the store normalises this text field's values (e.g. [lower] for e-mail "
        "addresses kept in lower case): identity values given for it are normalised the same way",
    )

    @model_validator(mode="after")
    def _normalize_is_for_text(self) -> "FieldSpec":
        if self.normalize and self.type != "text":
            raise PydanticCustomError(
                "normalize",
                "'normalize' applies to text fields only; {name!r} has type {type!r}",
                {"name": self.name, "type": self.type},
            )
        return self


class SubjectLink(Model):
    """A field that identifies a data subject of the record.

    ``role`` distinguishes two subjects of the same kind (``host``/``invitee``); it defaults to
    the kind. ``owner`` marks the party that owns the record (the one whose erasure may delete it).
    """

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    field: str
    identity: str = Field(default="user_id", pattern=r"^[a-z][a-z0-9_]*$")
    role: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]*$",
        max_length=64,
        description="A plain name (it becomes part of export file names)",
    )
    owner: bool = False
    extra_identities: dict[str, str] = Field(
        default_factory=dict,
        description="Other identities this record holds for the subject: {identity: field}, "
        "e.g. {email: email} on the users table, so a subject known by one identity is found by all",
    )

    @property
    def role_name(self) -> str:
        """The role, defaulting to the kind."""
        return self.role or self.kind


class Timestamps(Model):
    """Names of the time fields that retention triggers read."""

    created: str | None = None
    event: str | None = None
    last_activity: str | None = None
    closed: str | None = None
    deactivated: str | None = None
    anonymized: str | None = Field(
        default=None,
        description="A timestamp field the retention sweep sets when it anonymises or blinds a "
        "record, and tests so that a later sweep leaves the record alone",
    )


class AccountLink(Model):
    """How a record reaches its account (for "life of the account" rules and per-customer overrides).

    ``field`` on this record holds the key of a record of ``record_type`` (the accounts).
    """

    field: str
    record_type: str


def _retention_form(value: Any) -> str:
    # Tags that are not identifiers stay out of error locations (see format_location).
    return "entry list" if isinstance(value, list | tuple) else "rule key"


_Retention = Annotated[
    Annotated[str, Tag("rule key")] | Annotated[tuple[RetentionChoice, ...], Tag("entry list")],
    Discriminator(_retention_form),
]


class RecordType(Model):
    """A kind of record in a store: a table, a collection, a set of documents."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    store: str = "default"
    table: str | None = Field(default=None, min_length=1, max_length=128)
    primary_key: str = "id"
    description: LocalizedText | None = None
    product: str | None = Field(
        default=None, description="The policy product this record type belongs to; absent: all"
    )
    fields: tuple[FieldSpec, ...] = Field(min_length=1)
    subjects: tuple[SubjectLink, ...] = ()
    timestamps: Timestamps = Timestamps()
    account: AccountLink | None = None
    retention: _Retention | None = Field(
        default=None,
        description="Retention rule key, if not derived; or a list of {rule, when, trigger_field} "
        "entries, one per state of the records (the first whose 'when' matches wins)",
    )

    @property
    def retention_entries(self) -> tuple[RetentionChoice, ...]:
        """The ``retention`` entries: one for a rule key, none when the rule is derived."""
        if isinstance(self.retention, str):
            return (RetentionChoice(rule=self.retention),)
        return self.retention or ()

    @property
    def is_conditional(self) -> bool:
        """Whether the record type's rules depend on the record's state (a ``retention`` list)."""
        return isinstance(self.retention, tuple)

    @property
    def table_name(self) -> str:
        """The store's name for this record type (``table``, defaulting to ``name``)."""
        return self.table or self.name

    @functools.cached_property
    def _field_index(self) -> dict[str, FieldSpec]:
        return {f.name: f for f in self.fields}

    def field(self, name: str) -> FieldSpec:
        """The field ``name``.

        Raises:
            UnknownNameError: no such field (a ``KeyError`` too), with a "did you mean" hint.
            WrongTypeError: ``name`` is not a string.

        Example:
            >>> import privacy_kit as pk
            >>> users = pk.load_datamap(pk.example_path("datamap.yaml")).record_type("users")
            >>> users.field("email").categories
            ('user.contact.email',)
            >>> users.field("mail")
            Traceback (most recent call last):
            ...
            privacy_kit._errors.UnknownNameError: record type 'users' has no field 'mail'; did you mean 'email'?
        """
        _require_name(name, "a field name")
        found = self._field_index.get(name)
        if found is None:
            raise unknown_name("field", name, self._field_index, owner=f"record type {self.name!r}")
        return found

    def has_field(self, name: str) -> bool:
        """Whether the record type declares field ``name``."""
        return name in self._field_index

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names of every declared field, in order."""
        return tuple(f.name for f in self.fields)

    @property
    def categories(self) -> frozenset[str]:
        """Every category any field holds."""
        return frozenset(c for f in self.fields for c in f.categories)

    def roles(self) -> tuple[str, ...]:
        """The subject roles of this record type."""
        return tuple(s.role_name for s in self.subjects)

    def links_for(self, kind: str) -> tuple[SubjectLink, ...]:
        """The subject links of ``kind``."""
        return tuple(s for s in self.subjects if s.kind == kind)

    def link(self, role: str) -> SubjectLink:
        """The subject link for ``role``.

        Raises:
            UnknownNameError: no such role (a ``KeyError`` too), listing the roles there are.
            WrongTypeError: ``role`` is not a string.
        """
        _require_name(role, "a subject role")
        for s in self.subjects:
            if s.role_name == role:
                return s
        raise unknown_name(
            "subject role", role, self.roles(), owner=f"record type {self.name!r}", list_known=True
        )

    @property
    def is_multi_party(self) -> bool:
        """Whether records concern more than one subject (e.g. host and invitee)."""
        return len(self.subjects) > 1

    def fields_of(self, role: str) -> tuple[FieldSpec, ...]:
        """The fields that belong to ``role``."""
        return tuple(f for f in self.fields if f.party == role)

    def time_field(self, trigger: str) -> str | None:
        """The field that records ``trigger`` time (``created``, ``event``, ...), if any."""
        name = {"account_closed": "closed", "account_deactivated": "deactivated"}.get(
            trigger, trigger
        )
        value = getattr(self.timestamps, name, None)
        return value if isinstance(value, str) else None


class DataMap(Model):
    """Where personal data lives.

    Example:
        >>> import privacy_kit as pk
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> dm.record_type("bookings").roles()
        ('host', 'invitee')
    """

    record_types: tuple[RecordType, ...] = Field(min_length=1)
    person_identities: tuple[str, ...] = Field(
        default=(),
        description="Identities that name one person whatever their kind (an e-mail address): "
        "an export for a person known by one of them includes every role they play, of every kind",
    )

    @model_validator(mode="after")
    def _internal_references(self) -> "DataMap":
        problems = list(_datamap_problems(self))
        if problems:
            raise PydanticCustomError("datamap_references", "\n".join(str(p) for p in problems))
        return self

    def __repr__(self) -> str:
        return f"DataMap(record_types={[r.name for r in self.record_types]!r})"

    def _repr_html_(self) -> str:
        from .._html import html_table, join_html  # noqa: PLC0415

        return join_html(
            html_table(
                "Record types",
                ["record type", "store", "table", "subjects", "fields", "retention"],
                [
                    (
                        r.name,
                        r.store,
                        r.table_name,
                        [f"{s.role_name}: {s.kind} ({s.field})" for s in r.subjects],
                        len(r.fields),
                        ", ".join(e.rule for e in r.retention_entries) or None,
                    )
                    for r in self.record_types
                ],
            ),
            html_table(
                "Fields",
                ["record type", "field", "type", "categories", "party", "anonymize"],
                [
                    (
                        r.name,
                        f.name,
                        f.type,
                        f.categories if f.personal else "not personal",
                        f.party,
                        f.anonymize.kind.value if f.anonymize else None,
                    )
                    for r in self.record_types
                    for f in r.fields
                ],
            ),
        )

    @functools.cached_property
    def _index(self) -> dict[str, RecordType]:
        return {r.name: r for r in self.record_types}

    def record_type(self, name: str) -> RecordType:
        """The record type ``name``.

        Raises:
            UnknownNameError: no such record type (a ``KeyError`` too), with a "did you mean" hint.
            WrongTypeError: ``name`` is not a string.

        Example:
            >>> import privacy_kit as pk
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> dm.record_type("booking")
            Traceback (most recent call last):
            ...
            privacy_kit._errors.UnknownNameError: unknown record type 'booking'; did you mean 'bookings'?
        """
        _require_name(name, "a record type name")
        found = self._index.get(name)
        if found is None:
            raise unknown_name("record type", name, self._index)
        return found

    def has_record_type(self, name: str) -> bool:
        """Whether ``name`` is a record type of this map."""
        return name in self._index

    @property
    def stores(self) -> tuple[str, ...]:
        """The store names used, in order of first appearance."""
        return tuple(dict.fromkeys(r.store for r in self.record_types))

    def linked_to(self, kind: str) -> Iterator[tuple[RecordType, SubjectLink]]:
        """Each (record type, link) through which a subject of ``kind`` is identified."""
        for r in self.record_types:
            for s in r.subjects:
                if s.kind == kind:
                    yield r, s


def _require_name(value: object, what: str) -> None:
    if not isinstance(value, str):
        raise WrongTypeError(f"{what} must be a string, got {type(value).__name__} {value!r}")


def _datamap_problems(dm: DataMap) -> Iterator[Problem]:
    used = {s.identity for r in dm.record_types for s in r.subjects} | {
        i for r in dm.record_types for s in r.subjects for i in s.extra_identities
    }
    for i, name in enumerate(dm.person_identities):
        if name not in used:
            hint = closest(name, used)
            suffix = f"; did you mean {hint!r}?" if hint else ""
            yield Problem(
                f"person_identities[{i}]", f"no subject link uses identity {name!r}{suffix}"
            )
    seen: dict[str, int] = {}
    for i, r in enumerate(dm.record_types):
        where = f"record_types[{i}]"
        if r.name in seen:
            yield Problem(f"{where}.name", f"duplicate record type {r.name!r}")
        seen.setdefault(r.name, i)
        names = [f.name for f in r.fields]
        declared: set[str] = set()
        for j, name in enumerate(names):
            if name in declared:
                yield Problem(f"{where}.fields[{j}].name", f"duplicate field {name!r}")
            declared.add(name)

        def missing(location: str, name: str, what: str) -> Problem:
            hint = closest(name, names)  # noqa: B023 - used immediately, inside this iteration
            suffix = f"; did you mean {hint!r}?" if hint else ""
            return Problem(location, f"{what} {name!r} is not a field of {r.name!r}{suffix}")  # noqa: B023

        if r.primary_key not in declared:
            yield missing(f"{where}.primary_key", r.primary_key, "primary key")
        roles: list[str] = []
        for j, s in enumerate(r.subjects):
            if s.field not in declared:
                yield missing(f"{where}.subjects[{j}].field", s.field, "subject field")
            for identity, name in s.extra_identities.items():
                if name not in declared:
                    yield missing(
                        f"{where}.subjects[{j}].extra_identities.{identity}", name, "identity field"
                    )
            if s.role_name in roles:
                yield Problem(
                    f"{where}.subjects[{j}]",
                    f"duplicate subject role {s.role_name!r}; give each link a distinct 'role'",
                )
            roles.append(s.role_name)
        if sum(s.owner for s in r.subjects) > 1:
            yield Problem(f"{where}.subjects", "at most one subject link may be the owner")
        for j, f in enumerate(r.fields):
            if f.party is not None and f.party not in roles:
                hint = closest(f.party, roles)
                suffix = f"; did you mean {hint!r}?" if hint else f"; roles are {roles}"
                yield Problem(
                    f"{where}.fields[{j}].party", f"unknown subject role {f.party!r}{suffix}"
                )
            if not f.personal and f.categories:
                yield Problem(
                    f"{where}.fields[{j}]",
                    "a field marked personal: false must not list categories",
                )
        for attr in ("created", "event", "last_activity", "closed", "deactivated", "anonymized"):
            value = getattr(r.timestamps, attr)
            if value is not None and value not in declared:
                yield missing(f"{where}.timestamps.{attr}", value, "time field")
            elif value is not None and r.field(value).type != "timestamp":
                yield Problem(
                    f"{where}.timestamps.{attr}",
                    f"time field {value!r} must have type: timestamp (it has {r.field(value).type!r})",
                )
        if r.account is not None and r.account.field not in declared:
            yield missing(f"{where}.account.field", r.account.field, "account field")
        yield from retention_entry_problems(r, where)
    names_all = list(seen)
    for i, r in enumerate(dm.record_types):
        if r.account is not None and r.account.record_type not in seen:
            hint = closest(r.account.record_type, names_all)
            suffix = f"; did you mean {hint!r}?" if hint else ""
            yield Problem(
                f"record_types[{i}].account.record_type",
                f"unknown record type {r.account.record_type!r}{suffix}",
            )
