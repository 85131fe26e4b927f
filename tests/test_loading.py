"""Loading: paths and mappings, and the malformed corpus (tests/malformed/, table in expected.yaml)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import privacy_kit as pk
from privacy_kit.model._loading import format_location, read_document

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
