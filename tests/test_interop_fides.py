"""fides manifests: fideslang's default taxonomy imports; privacy_kit's manifests round-trip losslessly."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

import privacy_kit as pk
from privacy_kit.interop import fides
from strategies import datamaps, policies

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


# --- lossless round trips ---------------------------------------------------------------------

_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _via_file(manifest: dict[str, Any], path: Path) -> dict[str, Any]:
    fides.dump_manifest(manifest, path)
    return fides.load_manifest(path)


def _strip_privacy_kit(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest as a plain fides tool writes it: without any privacy_kit metadata."""
    plain = copy.deepcopy(manifest)
    for section in ("data_category", "data_use", "data_subject"):
        for entry in plain.get(section, []):
            entry.pop("privacy_kit", None)
    for dataset in plain.get("dataset", []):
        dataset.pop("meta", None)
    return plain


def _through_fideslang(manifest: dict[str, Any]) -> dict[str, Any]:
    """What fideslang does to a dataset it parses and writes again.

    Its collection and field models ignore (drop) unknown keys and sort collections and fields by
    name; the dataset's free-form ``meta`` is kept as it is.
    """
    known_collection = {"name", "description", "data_categories", "fields", "fides_meta"}
    known_field = {"name", "description", "data_categories", "fields", "fides_meta"}
    out = copy.deepcopy(manifest)
    for dataset in out["dataset"]:
        collections = []
        for original in sorted(dataset["collections"], key=lambda c: c["name"]):
            c = {k: v for k, v in original.items() if k in known_collection}
            c["fields"] = sorted(
                ({k: v for k, v in f.items() if k in known_field} for f in c["fields"]),
                key=lambda f: f["name"],
            )
            collections.append(c)
        dataset["collections"] = collections
    return out


def test_example_policy_taxonomy_round_trips(tmp_path: Path) -> None:
    vocabulary = pk.load_policy(pk.example_path()).vocabulary
    manifest = _via_file(fides.taxonomy_to_fides(vocabulary), tmp_path / "taxonomy.yaml")
    assert fides.taxonomy_from_fides(manifest) == vocabulary


def test_round_trip_keeps_special_categories() -> None:
    vocabulary = pk.load_policy(pk.example_path()).vocabulary
    special = [c.key for c in vocabulary.categories if c.special]
    assert len(special) == 9
    again = fides.taxonomy_from_fides(fides.taxonomy_to_fides(vocabulary))
    assert [c.key for c in again.categories if c.special] == special


def test_round_trip_keeps_legal_bases() -> None:
    vocabulary = pk.load_policy(pk.example_path()).vocabulary
    again = fides.taxonomy_from_fides(fides.taxonomy_to_fides(vocabulary))
    contract = [p.key for p in vocabulary.purposes if p.legal_basis is pk.LegalBasis.CONTRACT]
    assert {"service.provide", "support", "billing"} <= set(contract)
    assert [p.key for p in again.purposes if p.legal_basis is pk.LegalBasis.CONTRACT] == contract
    assert [(p.key, p.legal_basis) for p in again.purposes] == [
        (p.key, p.legal_basis) for p in vocabulary.purposes
    ]


def test_round_trip_keeps_texts_in_every_language_and_dpv() -> None:
    tax = pk.Taxonomy(
        categories=[
            pk.DataCategory(
                key="pets",
                name={"en": "Pets", "ar": "حيوانات"},
                description={"fr": "Animaux"},
                dpv="https://w3id.org/dpv/pd#Pet",
            )
        ],
        purposes=[
            pk.Purpose(key="care", name="Care", legal_basis="vital_interests", dpv="x:care"),
        ],
        subject_kinds=[pk.SubjectKind(key="owner", name={"en": "Owner", "de": "Halter"})],
    )
    manifest = fides.taxonomy_to_fides(tax, lang="ar")
    assert manifest["data_category"][0]["name"] == "حيوانات"
    assert fides.taxonomy_from_fides(manifest) == tax


def test_example_datamap_round_trips(tmp_path: Path) -> None:
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
    manifest = _via_file(fides.datamap_to_fides(datamap), tmp_path / "dataset.yaml")
    assert fides.datamap_from_fides(manifest) == datamap


def test_round_trip_keeps_the_invitee_link() -> None:
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
    again = fides.datamap_from_fides(fides.datamap_to_fides(datamap))
    invitee = again.record_type("bookings").link("invitee")
    assert (invitee.kind, invitee.field, invitee.identity, invitee.owner) == (
        "end_user",
        "invitee_email",
        "email",
        False,
    )
    host = again.record_type("bookings").link("host")
    assert (host.kind, host.field, host.identity, host.owner) == (
        "customer",
        "host_id",
        "user_id",
        True,
    )
    users = again.record_type("users").subjects
    assert [(s.kind, s.field, s.owner, s.extra_identities) for s in users] == [
        ("customer", "id", True, {"email": "email"})
    ]


def test_round_trip_keeps_field_parties() -> None:
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
    again = fides.datamap_from_fides(fides.datamap_to_fides(datamap))
    bookings = again.record_type("bookings")
    assert [f.name for f in bookings.fields_of("invitee")] == [
        "invitee_email",
        "invitee_name",
        "invitee_phone",
        "invitee_notes",
    ]
    assert [f.name for f in bookings.fields_of("host")] == ["host_id", "host_notes", "meeting_url"]


def test_round_trip_keeps_types_time_fields_and_anonymisation() -> None:
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
    again = fides.datamap_from_fides(fides.datamap_to_fides(datamap))
    users = again.record_type("users")
    assert users.field("created_at").type == "timestamp"
    assert users.timestamps == datamap.record_type("users").timestamps
    assert users.account == datamap.record_type("users").account
    assert users.field("email").anonymize == pk.Anonymization(kind="pseudonym")


def test_metadata_survives_fideslang_reserialising_the_dataset() -> None:
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
    shuffled = _through_fideslang(fides.datamap_to_fides(datamap))
    assert shuffled["dataset"][0]["collections"][0]["name"] == "bookings"  # sorted by name
    assert fides.datamap_from_fides(shuffled) == datamap


@_SETTINGS
@given(policies())
def test_generated_policy_taxonomies_round_trip(policy: pk.Policy) -> None:
    manifest = yaml.safe_load(yaml.safe_dump(fides.taxonomy_to_fides(policy.vocabulary)))
    assert fides.taxonomy_from_fides(manifest) == policy.vocabulary


@_SETTINGS
@given(datamaps())
def test_generated_datamaps_round_trip(datamap: pk.DataMap) -> None:
    manifest = yaml.safe_load(yaml.safe_dump(fides.datamap_to_fides(datamap)))
    assert fides.datamap_from_fides(manifest) == datamap
    assert fides.datamap_from_fides(_through_fideslang(manifest)) == datamap


def test_edge_fields_round_trip() -> None:
    # a personal field without categories, one with a system.* category, json and date types
    datamap = pk.DataMap.model_validate(
        {
            "record_types": [
                {
                    "name": "things",
                    "store": "b",
                    "description": {"en": "", "de": "Dinge"},
                    "fields": [
                        {"name": "id", "type": "integer", "personal": False},
                        {"name": "blob", "type": "json"},
                        {"name": "born", "type": "date", "categories": ["system.x", "user.y"]},
                    ],
                },
                {"name": "other", "store": "a", "fields": [{"name": "id", "personal": False}]},
                {"name": "third", "store": "b", "fields": [{"name": "id", "type": "real"}]},
            ]
        }
    )
    manifest = fides.datamap_to_fides(datamap)
    assert [d["fides_key"] for d in manifest["dataset"]] == ["b", "a"]
    assert fides.datamap_from_fides(manifest) == datamap


# --- plain fides manifests ----------------------------------------------------------------------


def test_a_manifest_without_privacy_kit_metadata_loads_as_before() -> None:
    vocabulary = pk.load_policy(pk.example_path()).vocabulary
    plain = _strip_privacy_kit(fides.taxonomy_to_fides(vocabulary))
    assert all("privacy_kit" not in e for e in plain["data_category"])
    tax = fides.taxonomy_from_fides(plain)
    assert [c.key for c in tax.categories] == [c.key for c in vocabulary.categories]
    # legal bases come from DEFAULT_LEGAL_BASES and the default basis, as they always did
    assert tax.purpose("service.provide").legal_basis is pk.LegalBasis.LEGITIMATE_INTERESTS
    assert tax.purpose("marketing.email").legal_basis is pk.LegalBasis.CONSENT
    assert tax.purpose("marketing.email").direct_marketing
    assert tax.purpose("service.provide").name == vocabulary.purpose("service.provide").name

    datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
    plain = _strip_privacy_kit(fides.datamap_to_fides(datamap))
    again = fides.datamap_from_fides(plain, subject_kind="end_user")
    assert again.record_type("bookings").field_names == datamap.record_type("bookings").field_names
    assert [(s.kind, s.field, s.identity) for s in again.record_type("bookings").subjects] == [
        ("end_user", "invitee_email", "email")
    ]
    assert again.record_type("bookings").field("end_at").type == "text"  # fides has no timestamp


def test_privacy_kits_own_special_categories_are_special_without_metadata() -> None:
    tax = fides.taxonomy_from_fides(
        {
            "data_category": [
                {"fides_key": "user", "name": "User"},
                {"fides_key": "user.health", "name": "Health", "parent_key": "user"},
                {"fides_key": "user.healthy", "name": "Not health", "parent_key": "user"},
            ]
        }
    )
    assert tax.category("user.health").special
    assert not tax.category("user.healthy").special


def test_overlay_applies_after_the_manifests_metadata() -> None:
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
    manifest = fides.datamap_to_fides(datamap)
    again = fides.datamap_from_fides(
        manifest,
        overlay={"bookings": {"retention": "bookings", "fields": {"id": {"type": "text"}}}},
    )
    bookings = again.record_type("bookings")
    assert bookings.retention == "bookings"
    assert bookings.field("id").type == "text"
    assert bookings.field("invitee_email").party == "invitee"  # the metadata still applies


# --- malformed metadata ---------------------------------------------------------------------------


def _example_manifest() -> dict[str, Any]:
    return fides.datamap_to_fides(pk.load_datamap(pk.example_path("datamap.yaml")))


def _meta(manifest: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = manifest["dataset"][0]["meta"]["privacy_kit"]
    return found


def test_malformed_dataset_metadata_is_refused_with_its_location() -> None:
    where = r"dataset\[0\]\.meta\.privacy_kit"
    m = _example_manifest()
    _meta(m)["format"] = 2
    with pytest.raises(pk.PolicyError, match=rf"{where}\.format: .*format 2 is not supported"):
        fides.datamap_from_fides(m)
    m = _example_manifest()
    _meta(m)["record_types"]["bookings"]["subject"] = []
    with pytest.raises(
        pk.PolicyError,
        match=rf"{where}\.record_types\.bookings\.subject: .*did you mean 'subjects'",
    ):
        fides.datamap_from_fides(m)
    m = _example_manifest()
    _meta(m)["record_types"]["booking"] = _meta(m)["record_types"].pop("bookings")
    with pytest.raises(
        pk.PolicyError, match=rf"{where}\.record_types\.booking: unknown collection 'booking'"
    ):
        fides.datamap_from_fides(m)
    m = _example_manifest()
    _meta(m)["record_types"]["bookings"]["fields"]["invitee_email"]["owner"] = True
    with pytest.raises(pk.PolicyError, match=r"fields\.invitee_email\.owner: unknown privacy_kit"):
        fides.datamap_from_fides(m)
    m = _example_manifest()
    _meta(m)["record_types"]["users"]["field_order"].append("gone")
    with pytest.raises(pk.PolicyError, match=r"users\.field_order: no field 'gone'"):
        fides.datamap_from_fides(m)
    m = _example_manifest()
    _meta(m)["record_types"]["users"]["position"] = "first"
    with pytest.raises(pk.PolicyError, match=r"users\.position: expected an integer"):
        fides.datamap_from_fides(m)
    m = _example_manifest()
    m["dataset"][0]["meta"] = ["privacy_kit"]
    with pytest.raises(pk.PolicyError, match=r"dataset\[0\]\.meta: expected a mapping"):
        fides.datamap_from_fides(m)
    m = _example_manifest()
    _meta(m)["record_types"]["bookings"]["subjects"][1]["kind"] = 3
    with pytest.raises(pk.PolicyError, match=r"record_types\[3\]\.subjects\[1\]\.kind"):
        fides.datamap_from_fides(m)


def test_a_removed_field_named_in_the_metadata_is_refused() -> None:
    m = _example_manifest()
    bookings = m["dataset"][0]["collections"][3]
    bookings["fields"] = [f for f in bookings["fields"] if f["name"] != "invitee_phone"]
    with pytest.raises(
        pk.PolicyError, match=r"record_types\.bookings\.fields\.invitee_phone: no such field"
    ):
        fides.datamap_from_fides(m)


def test_malformed_taxonomy_metadata_is_refused_with_its_location() -> None:
    base = {"fides_key": "user", "name": "User"}
    with pytest.raises(
        pk.PolicyError, match=r"data_category\[0\]\.privacy_kit: expected a mapping"
    ):
        fides.taxonomy_from_fides({"data_category": [{**base, "privacy_kit": True}]})
    with pytest.raises(
        pk.PolicyError, match=r"data_category\[0\]\.privacy_kit: unknown key 'specal'"
    ):
        fides.taxonomy_from_fides({"data_category": [{**base, "privacy_kit": {"specal": True}}]})
    with pytest.raises(pk.PolicyError, match=r"data_use\[0\]\.privacy_kit\.legal_basis: "):
        fides.taxonomy_from_fides({"data_use": [{**base, "privacy_kit": {"legal_basis": "whim"}}]})
