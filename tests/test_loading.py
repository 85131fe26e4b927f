"""Loading: paths and mappings, and the malformed corpus (tests/malformed/, table in expected.yaml)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import privacy_kit as pk
from privacy_kit.model._loading import format_location, read_document
from strategies import example_datamap_data, example_policy_data

MALFORMED = Path(__file__).parent / "malformed"
EXPECTED: list[dict[str, str]] = yaml.safe_load((MALFORMED / "expected.yaml").read_text("utf-8"))


def _load(kind: str, path: Path) -> Any:
    if kind == "policy":
        return pk.load_policy(path)
    if kind == "datamap":
        return pk.load_datamap(path)
    assert kind == "datamap+example_policy"
    return pk.load_datamap(path, policy=pk.load_policy(pk.example_path()))


def test_the_corpus_is_large_and_complete() -> None:
    files = {p.name for p in MALFORMED.iterdir()} - {"expected.yaml"}
    listed = [case["file"] for case in EXPECTED]
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert files == set(listed), "every corpus file has exactly one row"
    assert len(EXPECTED) >= 30
    assert sum(case["kind"] != "policy" for case in EXPECTED) >= 10
    assert {Path(f).suffix for f in files} >= {".yaml", ".json"}


@pytest.mark.parametrize("case", EXPECTED, ids=[case["file"] for case in EXPECTED])
def test_malformed_input_raises_a_located_policy_error(case: dict[str, str]) -> None:
    path = MALFORMED / case["file"]
    with pytest.raises(pk.PolicyError) as info:
        _load(case["kind"], path)
    err = info.value
    text = str(err)
    assert str(path) in text, "the message names the file"
    assert err.source == str(path)
    locations = [p.location for p in err.problems]
    assert case["location"] in locations, f"expected a problem at {case['location']!r}: {text}"
    at_location = [p.message for p in err.problems if p.location == case["location"]]
    assert any(case["message"] in m for m in at_location), text
    if case["location"]:
        assert f"{case['location']}: " in text
    # a PolicyError is also a ValueError and a PrivacyKitError
    assert isinstance(err, ValueError)
    assert isinstance(err, pk.PrivacyKitError)
    # never pydantic's noise in the message
    assert "errors.pydantic.dev" not in text
    assert "[type=" not in text


def test_the_same_documents_as_mappings_name_the_mapping() -> None:
    case = next(c for c in EXPECTED if c["file"] == "policy_unknown_top_level_key.yaml")
    data = yaml.safe_load((MALFORMED / case["file"]).read_text("utf-8"))
    with pytest.raises(pk.PolicyError, match=r"^<policy mapping>: unknown key 'retension'"):
        pk.load_policy(data)
    with pytest.raises(pk.PolicyError, match=r"^<data map mapping>: record_types: "):
        pk.load_datamap({"record_types": []})


def test_every_problem_is_reported_at_once() -> None:
    data = yaml.safe_load((MALFORMED / "policy_unknown_purpose.yaml").read_text("utf-8"))
    data["jurisdictions"] = ["gdrp"]
    data["retention"][0]["duration"] = "P0D"
    with pytest.raises(pk.PolicyError) as info:
        pk.load_policy(data)
    assert {p.location for p in info.value.problems} == {
        "jurisdictions[0]",
        "collection[0].purposes[0]",
        "retention[0].duration",
    }
    assert str(info.value).startswith("<policy mapping>: 3 problems\n  ")


def test_load_from_paths_json_and_yaml(tmp_path: Path) -> None:
    policy = pk.load_policy(pk.example_path())
    assert pk.load_policy(str(pk.example_path())) == policy
    assert pk.load_policy(policy) is policy
    path = tmp_path / "policy.json"
    path.write_text(policy.model_dump_json(), encoding="utf-8")
    assert pk.load_policy(path) == policy
    yml = tmp_path / "policy.yml"
    yml.write_text(yaml.safe_dump(policy.model_dump(mode="json"), allow_unicode=True), "utf-8")
    assert pk.load_policy(yml) == policy
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
    assert pk.load_datamap(datamap) is datamap
    dm_path = tmp_path / "dm.json"
    dm_path.write_text(json.dumps(datamap.model_dump(mode="json")), encoding="utf-8")
    assert pk.load_datamap(dm_path, policy=policy) == datamap


def test_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(pk.PolicyError, match=r"missing\.yaml: cannot read file: No such file"):
        pk.load_policy(tmp_path / "missing.yaml")
    with pytest.raises(pk.PolicyError, match="cannot read file"):
        pk.load_policy(tmp_path)


def test_a_source_of_the_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="expected a path or a mapping for the policy, got int"):
        pk.load_policy(3)  # type: ignore[arg-type]


def test_read_document_and_format_location(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: [1, 2]\nb: {c: d}\n", encoding="utf-8")
    assert read_document(path) == {"a": [1, 2], "b": {"c": "d"}}
    assert format_location(("retention", 2, "duration")) == "retention[2].duration"
    assert format_location((0, "x")) == "[0].x"
    assert format_location(("a", "function-after[_check(), Policy]", "b")) == "a.b"
    assert format_location(()) == ""


def test_duplicate_keys_are_refused_even_when_nested(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("controller:\n  name: A\n  name: B\n", encoding="utf-8")
    with pytest.raises(
        pk.PolicyError, match=r"line 3, column 3: invalid YAML: duplicate key 'name'"
    ):
        pk.load_policy(path)


def test_example_path() -> None:
    assert pk.example_path().name == "policy.yaml"
    assert pk.example_path("datamap.yaml").exists()
    with pytest.raises(FileNotFoundError, match=r"no file 'nope\.yaml'"):
        pk.example_path("nope.yaml")


# -- every problem at once: structural and cross-reference together -------------------------------


def _problems(data: dict[str, Any], **kwargs: Any) -> dict[str, str]:
    loader = pk.load_datamap if "record_types" in data else pk.load_policy
    with pytest.raises(pk.PolicyError) as info:
        loader(data, **kwargs)
    return {p.location: p.message for p in info.value.problems}


def test_a_structural_error_does_not_hide_the_cross_reference_errors(tmp_path: Path) -> None:
    data = example_policy_data()
    data["children"]["minimum_age"] = 99  # structural: out of range
    data["collection"][2]["category"] = "user.contct.email"  # cross-reference: unknown category
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(pk.PolicyError) as info:
        pk.load_policy(path)
    err = info.value
    assert [p.location for p in err.problems] == [
        "children.minimum_age",
        "collection[2].category",
    ]
    assert "less than or equal to 21" in err.problems[0].message
    assert err.problems[1].message == (
        "unknown category 'user.contct.email'; did you mean 'user.contact.email'?"
    )
    assert str(err).startswith(f"{path}: 2 problems\n  children.minimum_age: ")


def test_an_unknown_top_level_key_does_not_hide_the_rest() -> None:
    data = example_policy_data()
    data["retension"] = []
    data["breach"]["notify_within"] = "soon"
    data["jurisdictions"] = ["gdrp"]
    assert _problems(data) == {
        "": "unknown key 'retension'; did you mean 'retention'?",
        "breach.notify_within": "invalid duration 'soon': expected ISO 8601 such as 'P30D', "
        "'P1Y6M', 'PT72H' or words such as '30 days'",
        "jurisdictions[0]": "unknown jurisdiction 'gdrp'; did you mean 'gdpr'?",
    }


def test_a_malformed_entry_does_not_hide_its_neighbours() -> None:
    data = example_policy_data()
    data["collection"][1]["source"] = "guessed"
    data["collection"][3]["category"] = "user.contct.email"
    data["recipients"][0]["purposes"] = ["suport"]
    problems = _problems(data)
    assert set(problems) == {
        "collection[1].source",
        "collection[3].category",  # at its place in the document, not among the kept entries
        "recipients[0].purposes[0]",
    }
    assert (
        problems["recipients[0].purposes[0]"] == "unknown purpose 'suport'; did you mean 'support'?"
    )


def test_checks_that_read_a_malformed_section_are_left_out() -> None:
    # subjects malformed: whether another section names one of them cannot be told, but a kind
    # the vocabulary does not know is still reported
    data = example_policy_data()
    data["subjects"][0]["description"] = 5
    data["collection"][0]["subjects"] = ["customer", "custmer"]
    assert set(_problems(data)) == {"subjects[0].description", "collection[0].subjects[1]"}
    # requests malformed: a right's channels cannot be checked; its other references still are
    data = example_policy_data()
    data["requests"]["channels"] = "email"
    data["rights"][0]["channels"] = ["no_such_channel"]
    data["rights"][0]["subjects"] = ["custmer"]
    assert set(_problems(data)) == {"requests.channels", "rights[0].subjects[0]"}
    # jurisdictions malformed: a right's jurisdictions cannot be checked
    data = example_policy_data()
    data["jurisdictions"] = "gdpr"
    data["rights"][0]["jurisdictions"] = ["pipeda"]
    assert set(_problems(data)) == {"jurisdictions"}
    # the taxonomy malformed: no name can be checked against it
    data = example_policy_data()
    data["taxonomy"] = {"base": "fides"}
    data["collection"][0]["category"] = "user.contct.email"
    assert set(_problems(data)) == {"taxonomy.base"}


def test_a_data_map_reports_structure_internal_references_and_vocabulary_at_once() -> None:
    data = example_datamap_data()
    data["record_types"][1]["fields"] = "id, name"  # structural
    data["record_types"][3]["primary_key"] = "booking_id"  # internal reference
    data["record_types"][2]["fields"][1]["categories"] = ["user.nope"]  # the policy's vocabulary
    problems = _problems(data, policy=pk.load_policy(pk.example_path()))
    assert set(problems) == {
        "record_types[1].fields",
        "record_types[3].primary_key",
        "record_types[2].fields[1].categories[0]",
    }
    assert problems["record_types[3].primary_key"].startswith(
        "primary key 'booking_id' is not a field of 'bookings'"
    )
    assert problems["record_types[2].fields[1].categories[0]"].startswith(
        "unknown category 'user.nope'"
    )


def test_a_data_map_with_only_internal_errors_also_reports_the_vocabulary() -> None:
    data = example_datamap_data()
    data["record_types"][3]["primary_key"] = "booking_id"
    data["record_types"][2]["fields"][1]["categories"] = ["user.nope"]
    problems = _problems(data, policy=pk.load_policy(pk.example_path()))
    assert set(problems) == {
        "record_types[3].primary_key",
        "record_types[2].fields[1].categories[0]",
    }


def test_an_account_link_to_a_malformed_record_type_is_not_reported() -> None:
    data = example_datamap_data()
    data["record_types"][0]["fields"] = "broken"  # users, which every account link names
    assert set(_problems(data)) == {"record_types[0].fields"}


# -- the policy= argument and sources of the wrong type ---------------------------------------------


def test_policy_may_be_given_as_a_path_or_a_mapping() -> None:
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
    assert pk.load_datamap(pk.example_path("datamap.yaml"), policy=pk.example_path()) == datamap
    assert pk.load_datamap(datamap, policy=str(pk.example_path())) is datamap
    assert pk.load_datamap(datamap, policy=example_policy_data()) is datamap
    bad = example_datamap_data()
    bad["record_types"][2]["fields"][1]["categories"] = ["user.nope"]
    with pytest.raises(pk.PolicyError, match=r"unknown category 'user\.nope'"):
        pk.load_datamap(bad, policy=str(pk.example_path()))


def test_a_policy_of_the_wrong_type_is_a_wrong_type_error() -> None:
    with pytest.raises(
        pk.WrongTypeError, match="policy must be a Policy, a path or a mapping, got int"
    ):
        pk.load_datamap(pk.example_path("datamap.yaml"), policy=3)  # type: ignore[arg-type]
    with pytest.raises(pk.WrongTypeError, match="expected a path or a mapping for the data map"):
        pk.load_datamap([])  # type: ignore[arg-type]
    with pytest.raises(pk.WrongTypeError) as info:
        pk.load_policy(3)  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError)


# -- the parser: libyaml's when installed, PyYAML's otherwise, with the same results ----------------


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="libyaml is not installed")
@pytest.mark.parametrize("name", ["policy.yaml", "datamap.yaml"])
def test_libyaml_and_pyyaml_read_the_examples_alike(name: str) -> None:
    from privacy_kit.model._reading import parse_yaml

    text = pk.example_path(name).read_text(encoding="utf-8")
    assert parse_yaml(text, name, libyaml=True) == parse_yaml(text, name, libyaml=False)
    assert parse_yaml(text, name, libyaml=True) == yaml.safe_load(text)


@pytest.mark.parametrize(
    "case",
    [c for c in EXPECTED if c["file"].endswith((".yaml", ".yml"))],
    ids=[c["file"] for c in EXPECTED if c["file"].endswith((".yaml", ".yml"))],
)
def test_the_corpus_reads_the_same_without_libyaml(
    case: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = MALFORMED / case["file"]
    with pytest.raises(pk.PolicyError) as with_libyaml:
        _load(case["kind"], path)
    monkeypatch.setattr(yaml, "__with_libyaml__", False)
    with pytest.raises(pk.PolicyError) as without:
        _load(case["kind"], path)
    assert str(with_libyaml.value) == str(without.value)


def test_read_document_takes_max_bytes(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"a": [1, 2, 3]}', encoding="utf-8")
    assert read_document(path, max_bytes=16) == {"a": [1, 2, 3]}
    with pytest.raises(pk.PolicyError, match=r"x\.json: the file is larger than 15 bytes"):
        read_document(path, max_bytes=15)


def test_an_unsupported_suffix_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "policy.txt"
    path.write_text("version: 1\n", encoding="utf-8")
    with pytest.raises(pk.PolicyError, match=r"policy\.txt: unsupported file type"):
        pk.load_policy(path)
