"""The fast path of YAML loading (issue 15): plain documents built in one pass, everything else
by the strict loader, with the same results and the same located errors, with libyaml and
without it (simulated by ``yaml.__with_libyaml__ = False``)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import privacy_kit as pk
from privacy_kit.model import _reading
from privacy_kit.model._yaml_plain import NotPlain, build_plain

yaml = pytest.importorskip("yaml")

PARSERS = [True, False] if yaml.__with_libyaml__ else [False]
IDS = ["libyaml", "pure"][-len(PARSERS) :]

REFUSED = {
    "a duplicate key": ("a: 1\nb:\n  c: 1\n  c: 2\n", "line 4, column 3: invalid YAML: duplicate key 'c'"),
    "a duplicate key quoted": ("'a': 1\n\"a\": 2\n", "line 2, column 1: invalid YAML: duplicate key 'a'"),
    "duplicate booleans": ("true: 1\nyes: 2\n", "line 2, column 1: invalid YAML: duplicate key True"),
    "duplicate numbers": ("1: a\n1.0: b\n", "line 2, column 1: invalid YAML: duplicate key 1.0"),
    "a merge key": ("a: &x {q: 1}\nb: {<<: *x, y: 2}\n", "line 2, column 5: invalid YAML"),
    "an invalid date": ("d: 2024-02-30\n", "line 1, column 4: invalid YAML: invalid date or time"),
    "an invalid float": ("a: !!float x\n", "line 1, column 4: invalid YAML: invalid number 'x'"),
    "a set from a scalar": ("a: !!set x\n", "line 1, column 4: invalid YAML: invalid set value 'x'"),
    "a recursive alias": ("a: &a [*a]\n", "an alias refers to a value that contains it"),
    "nesting too deep": ("x: " + "[" * 70 + "]" * 70 + "\n", "nested more than 64 levels deep"),
}  # fmt: skip


@pytest.mark.parametrize("libyaml", PARSERS, ids=IDS)
@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_what_the_strict_loader_refuses_is_refused_at_the_same_place(
    case: str, libyaml: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, message = REFUSED[case]
    with pytest.raises(pk.PolicyError) as explicit:
        _reading.parse_yaml(text, "p.yaml", libyaml=libyaml)
    assert message in str(explicit.value)
    # The default choice without libyaml (as if PyYAML had been installed without it).
    monkeypatch.setattr(yaml, "__with_libyaml__", libyaml)
    with pytest.raises(pk.PolicyError) as default:
        _reading.parse_yaml(text, "p.yaml")
    assert str(default.value) == str(explicit.value)


def test_an_alias_bomb_is_refused_before_it_is_built() -> None:
    rows = ["a: &a [1,2,3,4,5,6,7,8,9]"]
    for prev, name in zip("abcdef", "bcdefg", strict=False):
        rows.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    for libyaml in PARSERS:
        with pytest.raises(pk.PolicyError, match="an alias bomb"):
            _reading.parse_yaml("\n".join(rows) + "\n", "p.yaml", libyaml=libyaml)


@pytest.mark.parametrize("libyaml", PARSERS, ids=IDS)
@pytest.mark.parametrize("name", ["policy.yaml", "datamap.yaml"])
def test_the_examples_take_the_fast_path_and_read_as_pyyaml_reads_them(
    name: str, libyaml: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    def strict(*_args: Any) -> None:
        raise AssertionError("the strict path was taken")

    monkeypatch.setattr(_reading, "_check_nodes", strict)
    text = pk.example_path(name).read_text(encoding="utf-8")
    assert _reading.parse_yaml(text, name, libyaml=libyaml) == yaml.safe_load(text)


def test_a_document_that_is_not_plain_takes_the_strict_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    taken: list[bool] = []
    check = _reading._check_nodes
    monkeypatch.setattr(_reading, "_check_nodes", lambda *a: (taken.append(True), check(*a))[1])
    assert _reading.parse_yaml("s: !!set {a, b}\n", "p.yaml") == {"s": {"a", "b"}}
    assert taken == [True]


def test_aliases_are_the_same_object_as_pyyaml_makes_them() -> None:
    text = "a: &s {c: [1, 2]}\nb: *s\nd: [*s, *s]\n"
    for libyaml in PARSERS:
        data = _reading.parse_yaml(text, "p.yaml", libyaml=libyaml)
        assert data["a"] is data["b"] is data["d"][0] is data["d"][1]
        assert data == yaml.safe_load(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a: 1\na: 2\n", "a key that is not a distinct string"),
        ("[1, 2]: a\n", "a key that is not a distinct string"),
        ("a: &a [*a]\n", "an alias to a value containing it"),
        ("a: [[[1]]]\n", "nested too deep"),
        ("a: [1, 2, 3]\n", "too many values"),
        ("a: !!float x\n", "a value PyYAML cannot build"),
        ("o: !!omap [a: 1]\n", "a list with a tag of its own"),
    ],
)
def test_build_plain_says_why_it_stops(text: str, why: str) -> None:
    with pytest.raises(NotPlain, match=why):
        build_plain(yaml, yaml.compose(text), max_values=4, max_depth=3)


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.dates(),
)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(_DOCUMENTS, st.booleans())
def test_any_document_reads_as_pyyaml_safe_load_reads_it(document: Any, flow: bool) -> None:
    text = yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True)
    expected = yaml.safe_load(text)
    for libyaml in PARSERS:
        got = _reading.parse_yaml(text, "p.yaml", libyaml=libyaml)
        assert repr(got) == repr(expected)
