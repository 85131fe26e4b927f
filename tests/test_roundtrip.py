"""Round-trips: a model written as JSON or YAML and read back is the same model."""

from __future__ import annotations

import orjson
import yaml
from hypothesis import HealthCheck, given, settings

import privacy_kit as pk
from strategies import datamaps, durations, policies

_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _via_yaml(data: object) -> object:
    return yaml.safe_load(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@_SETTINGS
@given(policies())
def test_policy_json_round_trip(policy: pk.Policy) -> None:
    assert pk.Policy.model_validate_json(policy.model_dump_json()) == policy
    assert pk.load_policy(orjson.loads(orjson.dumps(policy.model_dump(mode="json")))) == policy


@_SETTINGS
@given(policies())
def test_policy_yaml_round_trip(policy: pk.Policy) -> None:
    again = pk.load_policy(_via_yaml(policy.model_dump(mode="json")))  # type: ignore[arg-type]
    assert again == policy
    # and the round-trip is stable: dumping again gives the same document
    assert again.model_dump(mode="json") == policy.model_dump(mode="json")


@_SETTINGS
@given(datamaps())
def test_datamap_json_and_yaml_round_trip(datamap: pk.DataMap) -> None:
    assert pk.DataMap.model_validate_json(datamap.model_dump_json()) == datamap
    assert pk.load_datamap(_via_yaml(datamap.model_dump(mode="json"))) == datamap  # type: ignore[arg-type]


@settings(max_examples=300)
@given(durations())
def test_duration_str_parse_round_trip(duration: pk.Duration) -> None:
    assert pk.Duration.parse(str(duration)) == duration
    assert pk.Duration.parse(duration.describe()) == duration


def test_round_trip_of_the_example_files(tmp_path) -> None:
    policy = pk.load_policy(pk.example_path())
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"), policy=policy)
    (tmp_path / "policy.json").write_bytes(policy.model_dump_json().encode())
    (tmp_path / "policy.yaml").write_text(
        yaml.safe_dump(policy.model_dump(mode="json"), allow_unicode=True), encoding="utf-8"
    )
    (tmp_path / "datamap.json").write_bytes(datamap.model_dump_json().encode())
    assert pk.load_policy(tmp_path / "policy.json") == policy
    assert pk.load_policy(tmp_path / "policy.yaml") == policy
    assert pk.load_datamap(tmp_path / "datamap.json", policy=policy) == datamap
    # a different policy is not equal (the comparison can fail)
    assert policy.replace(version="2") != policy
