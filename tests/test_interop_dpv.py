"""DPV IRIs: well-formed, and every default purpose and legal basis has one."""

from __future__ import annotations

import pytest

import privacy_kit as pk
from privacy_kit.interop.dpv import IRI_PATTERN, dpv_iri, dpv_table, taxonomy_iris


def test_every_iri_is_well_formed() -> None:
    table = dpv_table()
    assert set(table) == {"categories", "purposes", "legal_bases", "rights"}
    for section, mapping in table.items():
        for key, iri in mapping.items():
            assert IRI_PATTERN.match(iri), (section, key, iri)
    assert table["categories"]["user.contact.email"] == "https://w3id.org/dpv/pd#EmailAddress"
    assert table["rights"]["erasure"] == "https://w3id.org/dpv/legal/eu/gdpr#A17"


def test_every_default_purpose_and_legal_basis_is_mapped() -> None:
    tax = pk.default_taxonomy()
    assert {p.key for p in tax.purposes} <= set(dpv_table()["purposes"])
    assert {b.value for b in pk.LegalBasis} == set(dpv_table()["legal_bases"])
    personal = {c.key for c in tax.categories if c.personal}
    assert personal == set(dpv_table()["categories"])
    assert set(dpv_table()["purposes"]) <= {p.key for p in tax.purposes}


def test_special_categories_map_to_special_terms() -> None:
    tax = pk.default_taxonomy()
    for c in tax.categories:
        if c.special:
            assert dpv_iri("categories", c.key) is not None


def test_rights_and_bases_by_enum() -> None:
    assert dpv_iri("legal_bases", pk.LegalBasis.LEGITIMATE_INTERESTS) == (
        "https://w3id.org/dpv#LegitimateInterest"
    )
    assert dpv_iri("rights", pk.Right.ACCESS) == "https://w3id.org/dpv/legal/eu/gdpr#A15"
    assert dpv_iri("rights", pk.Right.OPT_OUT_OF_SALE) is None
    with pytest.raises(KeyError, match="unknown DPV section"):
        dpv_iri("recipients", "x")  # type: ignore[arg-type]


def test_term_iri_wins_over_table() -> None:
    own = pk.DataCategory(
        key="user.contact.email", name="E-mail", dpv="https://w3id.org/dpv/pd#EmailAddressWork"
    )
    tax = pk.default_taxonomy().extend(categories=[own])
    iris = taxonomy_iris(tax)
    assert iris["user.contact.email"] == "https://w3id.org/dpv/pd#EmailAddressWork"
    assert "system.operations" not in iris
    assert IRI_PATTERN.match("https://w3id.org/dpv#Consent")
    assert not IRI_PATTERN.match("http://w3id.org/dpv#Consent")
    assert not IRI_PATTERN.match("https://w3id.org/dpv#")
