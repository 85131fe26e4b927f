"""The policy's who and what: the controller, whom the policy covers, its own vocabulary, what is
collected (from where, and why), with whom it is shared, where it is stored and transferred, and how
it is protected, as the frozen pydantic models of those sections of a
:class:`~privacy_kit.model.Policy` (which checks their cross-references when it is built).
"""

import enum
from collections.abc import Iterator
from typing import Literal

from pydantic import Field

from .._errors import Problem
from .._types import Duration, LocalizedText, Model
from ._countries import CountryCode
from ._taxonomy import DataCategory, Purpose, SubjectKind

__all__ = [
    "Collection",
    "Contact",
    "Controller",
    "Recipient",
    "RecipientKind",
    "SecurityMeasure",
    "Source",
    "Storage",
    "StorageLocation",
    "SubjectScope",
    "TaxonomySpec",
    "Transfer",
]


class Source(enum.StrEnum):
    """Where collected data comes from."""

    PROVIDED = "provided"
    """Given by the subject (a form, a message)."""
    AUTOMATIC = "automatic"
    """Collected automatically while the service is used (logs, cookies)."""
    THIRD_PARTY = "third_party"
    """Received from someone else (another user, an integration, a partner)."""


class RecipientKind(enum.StrEnum):
    """The kinds of recipient a policy can disclose data to."""

    OTHER_USERS = "other_users"
    ACCOUNT_ADMINS = "account_admins"
    SERVICE_PROVIDERS = "service_providers"
    INTEGRATION_PARTNERS = "integration_partners"
    AUTHORITIES = "authorities"
    AFFILIATES = "affiliates"
    BUSINESS_TRANSFER = "business_transfer"


class Contact(Model):
    """A way to reach someone: the support tool, an e-mail address, a web form, a postal address."""

    kind: Literal["email", "support_tool", "web_form", "postal", "phone"]
    value: str = Field(min_length=1)
    description: LocalizedText | None = None
    label: LocalizedText | None = Field(
        default=None,
        description=(
            "How the contact reads in each language (a postal address in the reader's script, "
            "a form's name); notices show it, links still use value"
        ),
    )


class Controller(Model):
    """The controller: who is responsible for the data, and how to reach them."""

    name: str = Field(min_length=1)
    legal_name: str | None = None
    address: str | None = None
    website: str | None = None
    contacts: tuple[Contact, ...] = Field(min_length=1)
    dpo: Contact | None = Field(default=None, description="Data protection officer, if appointed")
    representative_eu: str | None = None


class SubjectScope(Model):
    """A kind of data subject the policy applies to, in the policy's own words."""

    kind: str
    description: LocalizedText


class TaxonomySpec(Model):
    """The policy's vocabulary: a base taxonomy plus its own categories, purposes and kinds."""

    base: Literal["default", "none"] = "default"
    categories: tuple[DataCategory, ...] = ()
    purposes: tuple[Purpose, ...] = ()
    subject_kinds: tuple[SubjectKind, ...] = ()


class Collection(Model):
    """A category the policy says is collected: from whom, from where, and why."""

    category: str
    source: Source
    purposes: tuple[str, ...] = ()
    subjects: tuple[str, ...] = Field(default=(), description="Subject kinds; empty means all")
    description: LocalizedText | None = None
    required: bool = True
    inherit: bool | None = Field(
        default=None,
        description="Whether the categories below this one share its purposes: true says so "
        "explicitly, false limits the entry to its own category; unset, check() lists them",
    )
    products: tuple[str, ...] = Field(default=(), description="Product keys; empty means all")


class Recipient(Model):
    """Someone the policy says data is shared with: which categories, why, and on what terms."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: RecipientKind
    name: LocalizedText
    categories: tuple[str, ...] = Field(min_length=1)
    purposes: tuple[str, ...] = Field(min_length=1)
    subjects: tuple[str, ...] = ()
    conditions: LocalizedText | None = None
    examples: tuple[LocalizedText, ...] = ()
    countries: tuple[CountryCode, ...] = ()
    is_recipient_under_gdpr: bool = Field(
        default=True,
        description="False for authorities receiving data in a particular inquiry (GDPR Art. 4(9))",
    )
    products: tuple[str, ...] = Field(default=(), description="Product keys; empty means all")
    inherit: bool | None = Field(
        default=None,
        description="Whether the recipient also receives the categories below those it lists: "
        "true says so explicitly, false limits it to the listed ones; unset, check() lists them",
    )
    legal_process: tuple[Literal["warrant", "subpoena", "court_order"], ...] = Field(
        default=(),
        description="Authorities only: the kinds of legal process under which data is disclosed",
    )
    notify_subject: Literal["unless_prohibited", "always", "never"] | None = Field(
        default=None,
        description="Whether the person is told of a disclosure (unless the law forbids it)",
    )
    notify_before_transfer: bool = Field(
        default=False,
        description="Business transfers only: people are told before their data is transferred",
    )


class StorageLocation(Model):
    """Where data is stored: live systems, or backups that roll off within ``expiry``.

    Example:
        >>> StorageLocation(key="snapshots", provider="Cloud", country="IE", kind="backup",
        ...                 expiry="P30D").expiry.describe()
        '30 days'
    """

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    provider: str
    country: CountryCode = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    region: str | None = None
    categories: tuple[str, ...] = Field(default=(), description="Empty means all")
    description: LocalizedText | None = None
    kind: Literal["live", "backup"] = Field(
        default="live", description="live systems, or backups (which need an 'expiry')"
    )
    expiry: Duration | None = Field(
        default=None, description="For backups: every copy rolls off within this"
    )
    stores: tuple[str, ...] = Field(
        default=(), description="The data map's stores held here; empty means all"
    )


class Transfer(Model):
    """A cross-border transfer and its safeguard."""

    to_country: CountryCode = Field(pattern=r"^[A-Z]{2}$")
    from_region: str = "EU/EEA"
    mechanism: Literal["adequacy", "scc", "bcr", "dpf", "consent", "contract_necessity", "other"]
    description: LocalizedText | None = None


class Storage(Model):
    """Storage locations and transfers."""

    locations: tuple[StorageLocation, ...] = Field(min_length=1)
    transfers: tuple[Transfer, ...] = ()


class SecurityMeasure(Model):
    """A declared technical or organisational measure."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal[
        "encryption_in_transit",
        "encryption_at_rest",
        "access_control",
        "payment_processor",
        "pseudonymisation",
        "backup",
        "monitoring",
        "organisational",
        "other",
    ]
    description: LocalizedText
    standard: str | None = Field(default=None, description="e.g. TLS 1.2+, AES-256, PCI-DSS")


def storage_problems(storage: Storage) -> Iterator[Problem]:
    """Located problems of the storage locations (a backup needs its expiry, a live one has none)."""
    for i, loc in enumerate(storage.locations):
        if loc.kind == "backup" and loc.expiry is None:
            yield Problem(
                f"storage.locations[{i}].expiry",
                f"backup location {loc.key!r} needs an 'expiry': within how long its copies roll "
                "off (the notice promises it)",
            )
        if loc.kind == "live" and loc.expiry is not None:
            yield Problem(
                f"storage.locations[{i}].expiry",
                f"'expiry' is for backups; set kind: backup on {loc.key!r} or remove it",
            )
        for j, store in enumerate(loc.stores):
            if store in loc.stores[:j]:
                yield Problem(f"storage.locations[{i}].stores[{j}]", f"duplicate store {store!r}")
