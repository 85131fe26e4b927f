"""W3C Data Privacy Vocabulary (DPV) identifiers for privacy_kit's default terms.

The mapping is package data (``data/dpv.json``): each default category maps to a personal-data
concept (``https://w3id.org/dpv/pd#...``, or ``dpv#PersonalData`` at the top), each purpose and
legal basis to a DPV core concept (``https://w3id.org/dpv#...``) and each GDPR right to its
article in DPV's GDPR extension (``https://w3id.org/dpv/legal/eu/gdpr#A15``). A term's own ``dpv``
field, when set, wins over the table.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from importlib import resources
from typing import Literal

import orjson

from .._types import unknown_name
from ..model._policy_rights import Right
from ..model._taxonomy import LegalBasis, Taxonomy

__all__ = ["IRI_PATTERN", "dpv_iri", "dpv_table", "taxonomy_iris"]

IRI_PATTERN = re.compile(
    r"^https://w3id\.org/dpv(/pd|/legal/eu/gdpr)?#[A-Za-z][A-Za-z0-9]*(-[0-9a-z]+)*$"
)
"""What a DPV IRI in the table looks like (versionless namespace, then ``#`` and a term)."""

Section = Literal["categories", "purposes", "legal_bases", "rights"]


@functools.cache
def dpv_table() -> Mapping[str, Mapping[str, str]]:
    """The whole mapping: ``{"categories": {...}, "purposes": {...}, "legal_bases": {...}, "rights": {...}}``.

    Example:
        >>> dpv_table()["legal_bases"]["contract"]
        'https://w3id.org/dpv#Contract'
    """
    raw = resources.files("privacy_kit").joinpath("data/dpv.json").read_bytes()
    data = orjson.loads(raw)
    return {k: v for k, v in data.items() if not k.startswith("_")}


def dpv_iri(section: Section, key: str | LegalBasis | Right) -> str | None:
    """The DPV IRI for a category, purpose, legal basis or right key, or ``None`` if unmapped.

    Example:
        >>> dpv_iri("categories", "user.contact.email")
        'https://w3id.org/dpv/pd#EmailAddress'
        >>> dpv_iri("rights", Right.ERASURE)
        'https://w3id.org/dpv/legal/eu/gdpr#A17'
        >>> dpv_iri("purposes", "no.such.purpose") is None
        True
    """
    table = dpv_table().get(section)
    if table is None:
        raise unknown_name("DPV section", section, sorted(dpv_table()), list_known=True)
    return table.get(str(key.value if isinstance(key, LegalBasis | Right) else key))


def taxonomy_iris(taxonomy: Taxonomy) -> dict[str, str]:
    """Every category and purpose key of ``taxonomy`` that has a DPV IRI, with that IRI.

    A term's own ``dpv`` field wins; otherwise the package table is used.

    Example:
        >>> from privacy_kit import default_taxonomy
        >>> taxonomy_iris(default_taxonomy())["security.fraud"]
        'https://w3id.org/dpv#FraudPreventionAndDetection'
    """
    out: dict[str, str] = {}
    for c in taxonomy.categories:
        iri = c.dpv or dpv_iri("categories", c.key)
        if iri:
            out[c.key] = iri
    for p in taxonomy.purposes:
        iri = p.dpv or dpv_iri("purposes", p.key)
        if iri:
            out[p.key] = iri
    return out
