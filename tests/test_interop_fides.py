"""fides manifests: fideslang's own default taxonomy round-trips; a fides dataset passes check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import privacy_kit as pk
from privacy_kit.interop import fides

FIXTURES = Path(__file__).parent / "fixtures"
FIDESLANG = FIXTURES / "fideslang_default_taxonomy.yaml"
DATASET = FIXTURES / "fides_scheduling_dataset.yaml"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(FIDESLANG.read_text(encoding="utf-8"))
    return data


def test_fixture_notes_the_fideslang_version() -> None:
    assert FIDESLANG.read_text(encoding="utf-8").startswith("# fideslang 3.1.4 default taxonomy")


def test_fideslang_default_taxonomy_imports_without_loss(manifest: dict[str, Any]) -> None:
    tax = fides.taxonomy_from_fides(FIDESLANG)
    sections = {
        "data_category": tax.categories,
        "data_use": tax.purposes,
        "data_subject": tax.subject_kinds,
    }
    for section, terms in sections.items():
        source = manifest[section]
        assert [t.key for t in terms] == [e["fides_key"] for e in source]
        for term, entry in zip(terms, source, strict=True):
            assert term.name.get_text("en") == entry["name"]
            assert (term.description or {}).get("en") == entry.get("description")
            if section != "data_subject":
                assert (term.key.rpartition(".")[0] or None) == entry.get("parent_key")
    assert len(tax.categories) == 85
    assert len(tax.purposes) == 56
    assert len(tax.subject_kinds) == 15
    assert tax.is_special("user.health_and_medical.genetic")
    assert not tax.category("system.operations").personal
    assert tax.purpose("marketing.communications.email").legal_basis is pk.LegalBasis.CONSENT
    assert tax.purpose("marketing.communications.email").direct_marketing
    assert tax.purpose("essential.service").legal_basis is pk.LegalBasis.CONTRACT
    assert tax.purpose("essential.legal_obligation").legal_basis is pk.LegalBasis.LEGAL_OBLIGATION


def test_taxonomy_round_trips_through_a_manifest(manifest: dict[str, Any], tmp_path: Path) -> None:
    tax = fides.taxonomy_from_fides(manifest)
    out = fides.taxonomy_to_fides(tax)
    for section in ("data_category", "data_use", "data_subject"):
        want = [(e["fides_key"], e["name"], e.get("parent_key")) for e in manifest[section]]
        got = [(e["fides_key"], e["name"], e.get("parent_key")) for e in out[section]]
        assert got == want
    path = tmp_path / "tax.yaml"
    fides.dump_manifest(out, path)
    again = fides.taxonomy_from_fides(path)
    assert again == tax


def test_legal_basis_overrides(manifest: dict[str, Any]) -> None:
    tax = fides.taxonomy_from_fides(
        manifest, legal_bases={"analytics.reporting": "consent"}, default_legal_basis="contract"
    )
    assert tax.purpose("analytics.reporting.system").legal_basis is pk.LegalBasis.CONSENT
    assert tax.purpose("analytics").legal_basis is pk.LegalBasis.LEGITIMATE_INTERESTS


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ({"data_category": [{"name": "no key"}]}, "each entry needs a 'fides_key'"),
        ({"data_category": {"fides_key": "user"}}, "expected a list"),
        (
            {
                "data_category": [
                    {"fides_key": "user"},
                    {"fides_key": "user.x", "parent_key": "sys"},
                ]
            },
            "parent_key 'sys'",
        ),
        (
            {"data_subject": [{"fides_key": "Bad-Key", "name": "x"}]},
            "cannot be used as a privacy_kit key",
        ),
        (
            {"data_category": [{"fides_key": "user.orphan", "parent_key": "user"}]},
            "no parent category",
        ),
    ],
)
def test_bad_taxonomy_manifests(manifest: dict[str, Any], message: str) -> None:
    with pytest.raises(pk.PolicyError, match=message):
        fides.taxonomy_from_fides(manifest)


def test_category_map_targets_exist() -> None:
    tax = pk.default_taxonomy()
    fides_keys = {e["fides_key"] for e in yaml.safe_load(FIDESLANG.read_text())["data_category"]}
    mapping = fides.category_map()
    assert set(mapping) <= fides_keys
    assert all(tax.has_category(v) for v in mapping.values())


OVERLAY: dict[str, Any] = {
    "accounts": {
        "subjects": [
            {
                "kind": "customer",
                "field": "id",
                "owner": True,
                "extra_identities": {"email": "email"},
            }
        ],
        "account": {"field": "id", "record_type": "accounts"},
        "timestamps": {"created": "created_at", "closed": "closed_at"},
        "fields": {"created_at": {"type": "timestamp"}, "closed_at": {"type": "timestamp"}},
    },
    "appointments": {
        "subjects": [
            {"role": "host", "kind": "customer", "field": "host_id", "owner": True},
            {"role": "invitee", "kind": "end_user", "field": "invitee_email", "identity": "email"},
        ],
        "account": {"field": "host_id", "record_type": "accounts"},
        "timestamps": {"created": "starts_at", "event": "ends_at"},
        "fields": {
            "starts_at": {"type": "timestamp"},
            "ends_at": {"type": "timestamp"},
            "invitee_email": {"party": "invitee"},
            "invitee_phone": {"party": "invitee"},
        },
    },
}


def test_fides_dataset_becomes_a_datamap_that_passes_check() -> None:
    policy = pk.load_policy(pk.example_path())
    mapping = {**fides.category_map(), "user.content.private": "user.content.messages"}
    datamap = fides.datamap_from_fides(DATASET, categories=mapping, overlay=OVERLAY)
    assert [r.name for r in datamap.record_types] == ["accounts", "appointments"]
    accounts = datamap.record_type("accounts")
    assert accounts.store == "scheduling_db"
    assert accounts.primary_key == "id"
    assert accounts.field("full_name").categories == ("user.account.name",)
    assert accounts.field("id").type == "integer"
    assert not accounts.field("created_at").personal
    report = pk.check(policy, datamap)
    assert report.ok, [str(f) for f in report.errors]
    assert pk.load_datamap(datamap, policy=policy) is datamap


def test_without_overlay_check_says_what_is_missing() -> None:
    policy = pk.load_policy(pk.example_path())
    datamap = fides.datamap_from_fides(DATASET, categories=fides.category_map())
    links = datamap.record_type("appointments").subjects
    assert [(s.kind, s.field, s.identity) for s in links] == [
        ("customer", "invitee_email", "email")
    ]
    codes = {f.code for f in pk.check(policy, datamap).errors}
    assert "undisclosed-category" in codes  # user.content (fides' private content) is not disclosed
    assert "trigger-without-time-field" in codes


def test_datamap_round_trip() -> None:
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
    manifest = fides.datamap_to_fides(datamap)
    assert [d["fides_key"] for d in manifest["dataset"]] == list(datamap.stores)
    again = fides.datamap_from_fides(manifest)
    for rt in datamap.record_types:
        back = again.record_type(rt.name)
        assert back.field_names == rt.field_names
        assert back.primary_key == rt.primary_key
        for f in rt.fields:
            assert back.field(f.name).categories == f.categories
            assert back.field(f.name).personal == f.personal


def test_bad_datasets(tmp_path: Path) -> None:
    with pytest.raises(pk.PolicyError, match="has no collections"):
        fides.datamap_from_fides({"dataset": [{"fides_key": "x", "collections": []}]})
    with pytest.raises(pk.PolicyError, match="no such field in the dataset"):
        fides.datamap_from_fides(DATASET, overlay={"accounts": {"fields": {"nope": {}}}})
    with pytest.raises(pk.PolicyError, match=r"record_types\[0\].timestamps.closed"):
        fides.datamap_from_fides(DATASET, overlay={"accounts": {"timestamps": {"closed": "gone"}}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n")
    with pytest.raises(pk.PolicyError, match="must be a mapping"):
        fides.load_manifest(bad)
