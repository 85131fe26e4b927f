"""The vocabulary policies are written in: data categories, purposes and data-subject kinds.

Data categories have hierarchical dotted keys: ``user.contact.email`` sits under ``user.contact``,
which sits under ``user``. A rule or recipient that names ``user.contact`` covers every category
below it. privacy_kit ships a default taxonomy (package data, ``default_taxonomy()``) that covers
every kind of data a typical SaaS policy mentions; a policy extends it with its own categories,
purposes and subject kinds.
"""

import enum
import functools
import json
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from typing import TypeVar

from pydantic import Field, field_validator

from .._errors import PolicyError, Problem
from .._types import LocalizedText, Model, closest, unknown_name

__all__ = [
    "DataCategory",
    "LegalBasis",
    "Purpose",
    "SubjectKind",
    "Taxonomy",
    "default_taxonomy",
    "is_within",
]

_KEY_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"


def is_within(key: str, ancestor: str) -> bool:
    """Whether ``key`` equals ``ancestor`` or lies below it in the dotted hierarchy.

    Example:
        >>> is_within("user.contact.email", "user.contact")
        True
        >>> is_within("user.contacts", "user.contact")
        False
    """
    return key == ancestor or key.startswith(ancestor + ".")


class LegalBasis(enum.StrEnum):
    """The lawful bases of GDPR Art. 6(1), (a) to (f).

    Example:
        >>> LegalBasis("contract").article
        'GDPR Art. 6(1)(b)'
    """

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"

    @property
    def article(self) -> str:
        """The article that grounds this basis."""
        letter = "abcdef"[list(LegalBasis).index(self)]
        return f"GDPR Art. 6(1)({letter})"

    @property
    def objectionable(self) -> bool:
        """Whether Art. 21(1) lets the subject object (bases (e) and (f))."""
        return self in (LegalBasis.PUBLIC_TASK, LegalBasis.LEGITIMATE_INTERESTS)


class DataCategory(Model):
    """A kind of data, with a dotted key such as ``user.contact.email``.

    Example:
        >>> c = DataCategory(key="user.health", name="Health data", special=True)
        >>> c.parent, c.special
        ('user', True)
    """

    key: str = Field(pattern=_KEY_PATTERN, description="Dotted key, e.g. user.contact.email")
    name: LocalizedText = Field(description="Human-readable name")
    description: LocalizedText | None = None
    special: bool = Field(
        default=False,
        description="A special category (GDPR Art. 9/10: health, biometric, ...); inherited by children",
    )
    personal: bool = Field(default=True, description="Whether this is personal data at all")
    dpv: str | None = Field(default=None, description="W3C DPV IRI for this category, if any")
    aliases: tuple[str, ...] = Field(
        default=(),
        description="Field-name words that suggest this category (e.g. sex for gender): check() "
        "matches uncategorised fields against the categories a policy declares not collected",
    )

    @property
    def parent(self) -> str | None:
        """The key of the parent category, or ``None`` at the top."""
        head, _, _ = self.key.rpartition(".")
        return head or None

    @property
    def depth(self) -> int:
        """Number of dots in the key (0 at the top)."""
        return self.key.count(".")


class Purpose(Model):
    """Why data is processed, with its GDPR Art. 6 legal basis.

    Example:
        >>> p = Purpose(key="marketing.email", name="Promotional email",
        ...             legal_basis="consent", direct_marketing=True)
        >>> p.legal_basis.article
        'GDPR Art. 6(1)(a)'
    """

    key: str = Field(pattern=_KEY_PATTERN)
    name: LocalizedText
    description: LocalizedText | None = None
    legal_basis: LegalBasis
    direct_marketing: bool = Field(
        default=False, description="Direct marketing: an objection to it is absolute (Art. 21(3))"
    )
    dpv: str | None = None


class SubjectKind(Model):
    """A kind of data subject: a customer, a customer's end user, an account administrator, ...

    Example:
        >>> SubjectKind(key="end_user", name="Invitee").key
        'end_user'
    """

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: LocalizedText
    description: LocalizedText | None = None


class Taxonomy(Model):
    """A set of categories, purposes and subject kinds, with lookups.

    Use :meth:`extend` to add a policy's own terms to the default taxonomy.

    Example:
        >>> tax = default_taxonomy()
        >>> tax.category("user.contact.email").name.get_text("en")
        'Email address'
        >>> tax.covers("user.contact", "user.contact.email")
        True
    """

    categories: tuple[DataCategory, ...] = ()
    purposes: tuple[Purpose, ...] = ()
    subject_kinds: tuple[SubjectKind, ...] = ()

    @field_validator("categories")
    @classmethod
    def _categories_consistent(cls, value: tuple[DataCategory, ...]) -> tuple[DataCategory, ...]:
        keys = [c.key for c in value]
        _reject_duplicates(keys, "category")
        known = set(keys)
        for c in value:
            if c.parent is not None and c.parent not in known:
                raise ValueError(f"category {c.key!r} has no parent category {c.parent!r}")
        return value

    @field_validator("purposes")
    @classmethod
    def _purposes_unique(cls, value: tuple[Purpose, ...]) -> tuple[Purpose, ...]:
        _reject_duplicates([p.key for p in value], "purpose")
        return value

    @field_validator("subject_kinds")
    @classmethod
    def _kinds_unique(cls, value: tuple[SubjectKind, ...]) -> tuple[SubjectKind, ...]:
        _reject_duplicates([k.key for k in value], "subject kind")
        return value

    @functools.cached_property
    def _category_index(self) -> dict[str, DataCategory]:
        return {c.key: c for c in self.categories}

    @functools.cached_property
    def _purpose_index(self) -> dict[str, Purpose]:
        return {p.key: p for p in self.purposes}

    @functools.cached_property
    def _kind_index(self) -> dict[str, SubjectKind]:
        return {k.key: k for k in self.subject_kinds}

    def has_category(self, key: str) -> bool:
        """Whether ``key`` is a known category."""
        return key in self._category_index

    def has_purpose(self, key: str) -> bool:
        """Whether ``key`` is a known purpose."""
        return key in self._purpose_index

    def has_subject_kind(self, key: str) -> bool:
        """Whether ``key`` is a known subject kind."""
        return key in self._kind_index

    def category(self, key: str) -> DataCategory:
        """The category ``key``; ``KeyError`` with a "did you mean" hint if unknown."""
        return _lookup(self._category_index, key, "category")

    def purpose(self, key: str) -> Purpose:
        """The purpose ``key``; ``KeyError`` with a "did you mean" hint if unknown."""
        return _lookup(self._purpose_index, key, "purpose")

    def subject_kind(self, key: str) -> SubjectKind:
        """The subject kind ``key``; ``KeyError`` with a "did you mean" hint if unknown."""
        return _lookup(self._kind_index, key, "subject kind")

    def suggest_category(self, key: str) -> str | None:
        """The known category key closest to ``key``."""
        return closest(key, self._category_index)

    def suggest_purpose(self, key: str) -> str | None:
        """The known purpose key closest to ``key``."""
        return closest(key, self._purpose_index)

    def suggest_subject_kind(self, key: str) -> str | None:
        """The known subject-kind key closest to ``key``."""
        return closest(key, self._kind_index)

    def covers(self, ancestor: str, key: str) -> bool:
        """Whether category ``ancestor`` is ``key`` or one of its ancestors."""
        return is_within(key, ancestor)

    def descendants(self, key: str) -> Iterator[DataCategory]:
        """``key`` and every category below it."""
        return (c for c in self.categories if is_within(c.key, key))

    def ancestors(self, key: str) -> Iterator[DataCategory]:
        """The categories above ``key``, nearest first."""
        head = key
        while "." in head:
            head = head.rpartition(".")[0]
            if head in self._category_index:
                yield self._category_index[head]

    def is_special(self, key: str) -> bool:
        """Whether ``key`` or one of its ancestors is a special category."""
        if self.category(key).special:
            return True
        return any(a.special for a in self.ancestors(key))

    def extend(
        self,
        *,
        categories: Iterable[DataCategory] = (),
        purposes: Iterable[Purpose] = (),
        subject_kinds: Iterable[SubjectKind] = (),
    ) -> "Taxonomy":
        """A new taxonomy with these terms added; a term whose key exists replaces it.

        A replacement cannot make a special category of this taxonomy (or a category below one)
        not special: see :func:`special_category_problems`.

        Raises:
            PolicyError: when a category would stop being special.

        Example:
            >>> tax = default_taxonomy().extend(
            ...     categories=[DataCategory(key="user.content.recipes", name="Recipes")])
            >>> tax.has_category("user.content.recipes")
            True
        """
        categories = tuple(categories)
        problems = list(special_category_problems(self, categories, "categories"))
        if problems:
            raise PolicyError("Taxonomy.extend", problems)
        return Taxonomy(
            categories=_merged(self.categories, categories),
            purposes=_merged(self.purposes, purposes),
            subject_kinds=_merged(self.subject_kinds, subject_kinds),
        )


def special_category_problems(
    base: Taxonomy, categories: Sequence[DataCategory], where: str = "categories"
) -> Iterator[Problem]:
    """Entries of ``categories`` that would make a special category of ``base`` not special.

    An entry that redefines a category ``base`` flags as special (GDPR Art. 9/10) must say
    ``special: true``: ``special`` defaults to false, so ``special: false`` or leaving it out
    would silently drop the flag, and with it the flag every category below inherits. A category
    below a special one is special by inheritance (:meth:`Taxonomy.is_special`) whatever its own
    flag says, so it cannot lose the flag and is not reported. Each problem is located at
    ``<where>[i].special``.

    Example:
        >>> bad = DataCategory(key="user.health", name="Wellness")
        >>> [str(p) for p in special_category_problems(default_taxonomy(), [bad])]
        ["categories[0].special: 'user.health' is a special category (GDPR Art. 9/10) of the base taxonomy; a policy cannot make it not special: add special: true"]
        >>> child = DataCategory(key="user.health.diagnosis", name="Diagnosis")
        >>> list(special_category_problems(default_taxonomy(), [child]))
        []
    """
    for i, c in enumerate(categories):
        if c.special or not base.has_category(c.key) or not base.category(c.key).special:
            continue
        fix = "set special: true" if "special" in c.model_fields_set else "add special: true"
        yield Problem(
            f"{where}[{i}].special",
            f"{c.key!r} is a special category (GDPR Art. 9/10) of the base taxonomy; a policy "
            f"cannot make it not special: {fix}",
        )


_Term = TypeVar("_Term", DataCategory, Purpose, SubjectKind)
_T = TypeVar("_T")


def _merged(base: tuple[_Term, ...], extra: Iterable[_Term]) -> tuple[_Term, ...]:
    out = {item.key: item for item in base}
    for item in extra:
        out[item.key] = item
    return tuple(out.values())


def _reject_duplicates(keys: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise ValueError(f"duplicate {what} {key!r}")
        seen.add(key)


def _lookup(index: dict[str, _T], key: str, what: str) -> _T:
    try:
        return index[key]
    except KeyError:
        raise unknown_name(what, key, index) from None


@functools.cache
def default_taxonomy() -> Taxonomy:
    """The taxonomy shipped with privacy_kit (package data ``data/taxonomy.json``).

    Example:
        >>> tax = default_taxonomy()
        >>> tax.is_special("user.health")
        True
        >>> tax.purpose("marketing.email").direct_marketing
        True
    """
    raw = resources.files("privacy_kit").joinpath("data/taxonomy.json").read_bytes()
    # the standard library reads the package data: orjson is not imported by a first use
    return Taxonomy.model_validate(json.loads(raw))
