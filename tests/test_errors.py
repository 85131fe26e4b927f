"""One error family: every misuse of the public API raises a PrivacyKitError, never a bare builtin."""

from __future__ import annotations

import datetime as dt
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit import _errors
from privacy_kit.adapters import InMemoryAdapter

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NAIVE = dt.datetime(2026, 1, 1)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "errors.md"


@pytest.fixture(scope="module")
def engine() -> pk.Engine:
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
    tables: dict[str, list[dict[str, Any]]] = {rt.table_name: [] for rt in datamap.record_types}
    return pk.Engine(pk.load_policy(pk.example_path()), datamap, InMemoryAdapter(tables))


@pytest.fixture(scope="module")
def datamap() -> pk.DataMap:
    return pk.load_datamap(pk.example_path("datamap.yaml"))


# -- the tree --------------------------------------------------------------------------------------


ERROR_CLASSES = [
    getattr(_errors, name) for name in _errors.__all__ if name not in ("Problem", "PrivacyKitError")
]


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_error_is_in_the_family_exported_and_drawn_in_the_tree(cls: type) -> None:
    assert issubclass(cls, pk.PrivacyKitError)
    assert getattr(pk, cls.__name__) is cls
    assert cls.__name__ in pk.__all__
    tree = _errors.__doc__ or ""
    assert re.search(rf"[├└]── {cls.__name__}\b", tree), f"{cls.__name__} is not in the tree"
    assert re.search(rf"[├└]── {cls.__name__}\b", DOCS.read_text("utf-8"))


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (pk.NaiveDatetimeError, ValueError),
        (pk.NaiveDatetimeError, pk.ConfigurationError),
        (pk.UnknownNameError, KeyError),
        (pk.UnknownNameError, LookupError),
        (pk.WrongTypeError, TypeError),
    ],
)
def test_the_new_errors_keep_a_builtin_base(cls: type, builtin: type) -> None:
    assert issubclass(cls, builtin)


def test_unknown_name_error_reads_as_its_message_and_survives_pickling() -> None:
    err = pk.UnknownNameError("field", "mail", hint="email", owner="record type 'users'")
    assert str(err) == "record type 'users' has no field 'mail'; did you mean 'email'?"
    assert err.args == (str(err),)  # callers that re-raise with exc.args[0] keep the message
    copy = pickle.loads(pickle.dumps(err))
    assert (type(copy), str(copy), copy.kind, copy.name, copy.hint, copy.owner) == (
        pk.UnknownNameError,
        str(err),
        "field",
        "mail",
        "email",
        "record type 'users'",
    )
    naive = pickle.loads(pickle.dumps(pk.NaiveDatetimeError("now", NAIVE)))
    assert (naive.argument, naive.value, str(naive)) == (
        "now",
        NAIVE,
        "now must be a timezone-aware datetime, got 2026-01-01 00:00:00 (naive)",
    )


# -- unknown names ---------------------------------------------------------------------------------


def test_an_unknown_record_type_or_field_has_a_hint(datamap: pk.DataMap) -> None:
    with pytest.raises(pk.UnknownNameError) as info:
        datamap.record_type("booking")
    assert str(info.value) == "unknown record type 'booking'; did you mean 'bookings'?"
    assert (info.value.kind, info.value.name, info.value.hint) == (
        "record type",
        "booking",
        "bookings",
    )
    users = datamap.record_type("users")
    with pytest.raises(
        pk.UnknownNameError, match="record type 'users' has no field 'mail'; did you mean 'email'"
    ):
        users.field("mail")
    with pytest.raises(pk.UnknownNameError, match="has no subject role 'host'; known: customer"):
        users.link("host")


def test_engine_fate_of_an_unknown_record_type(engine: pk.Engine) -> None:
    with pytest.raises(pk.UnknownNameError, match="unknown record type 'x'"):
        engine.fate("x", {"id": 1}, now=NOW)
    with pytest.raises(KeyError):  # an existing `except KeyError` still catches it
        engine.fate("bokings", {"id": 1}, now=NOW)


def test_get_jurisdiction_ignores_case_and_suggests() -> None:
    assert pk.get_jurisdiction("GDPR").key == "gdpr"
    assert pk.get_jurisdiction("UK-GDPR").key == "uk_gdpr"
    assert pk.get_jurisdiction(" Ccpa ").key == "ccpa"
    with pytest.raises(pk.UnknownNameError) as info:
        pk.get_jurisdiction("us")
    assert str(info.value) == (
        "unknown jurisdiction 'us'; did you mean 'ccpa'? (known: gdpr, uk_gdpr, ccpa, lgpd, pipeda, global)"
    )
    with pytest.raises(pk.UnknownNameError, match="did you mean 'lgpd'"):
        pk.get_jurisdiction("br")  # by region
    with pytest.raises(pk.UnknownNameError, match="did you mean 'gdpr'"):
        pk.get_jurisdiction("GDRP")  # by spelling
    with pytest.raises(pk.UnknownNameError, match=r"^unknown jurisdiction 'mars'; known: gdpr, "):
        pk.get_jurisdiction("mars")


# -- the obvious misuses, walked -------------------------------------------------------------------


def _verifier_check(answer: object) -> Callable[[], object]:
    def call() -> object:
        verifier = pk.CodeVerifier(b"k" * 32)
        challenge = verifier.issue("subj_1", now=NOW)
        return verifier.check(challenge.challenge_id, answer, now=NOW)  # type: ignore[arg-type]

    return call


MISUSES: list[
    tuple[str, Callable[[pk.Engine, pk.DataMap], object], type[pk.PrivacyKitError], type[Exception]]
] = [
    (
        "naive now",
        lambda e, d: pk.CodeVerifier(b"k" * 32).issue("s", now=NAIVE),
        pk.NaiveDatetimeError,
        ValueError,
    ),
    (
        "a date as now",
        lambda e, d: pk.CodeVerifier(b"k" * 32).issue("s", now=dt.date(2026, 1, 1)),  # type: ignore[arg-type]
        pk.WrongTypeError,
        TypeError,
    ),
    (
        "engine.fate naive now",
        lambda e, d: e.fate("users", {"id": 1}, now=NAIVE),
        pk.NaiveDatetimeError,
        ValueError,
    ),
    (
        "engine.fate unknown record type",
        lambda e, d: e.fate("x", {"id": 1}, now=NOW),
        pk.UnknownNameError,
        KeyError,
    ),
    (
        "engine.fate record type not a string",
        lambda e, d: e.fate(3, {"id": 1}, now=NOW),
        pk.WrongTypeError,
        TypeError,
    ),
    ("DataMap.record_type", lambda e, d: d.record_type("x"), pk.UnknownNameError, KeyError),
    (
        "RecordType.field",
        lambda e, d: d.record_type("users").field("x"),
        pk.UnknownNameError,
        KeyError,
    ),
    (
        "RecordType.link",
        lambda e, d: d.record_type("users").link("x"),
        pk.UnknownNameError,
        KeyError,
    ),
    (
        "get_jurisdiction('us')",
        lambda e, d: pk.get_jurisdiction("us"),
        pk.UnknownNameError,
        KeyError,
    ),
    (
        "get_jurisdiction(None)",
        lambda e, d: pk.get_jurisdiction(None),
        pk.WrongTypeError,
        TypeError,
    ),  # type: ignore[arg-type]
    ("int code", lambda e, d: _verifier_check(123456)(), pk.VerificationError, PermissionError),
    ("None code", lambda e, d: _verifier_check(None)(), pk.VerificationError, PermissionError),
    (
        "bytes code",
        lambda e, d: _verifier_check(b"123456")(),
        pk.VerificationError,
        PermissionError,
    ),
    (
        "load_datamap(policy=<int>)",
        lambda e, d: pk.load_datamap(pk.example_path("datamap.yaml"), policy=3),  # type: ignore[arg-type]
        pk.WrongTypeError,
        TypeError,
    ),
    (
        "load_datamap(policy=<missing file>)",
        lambda e, d: pk.load_datamap(pk.example_path("datamap.yaml"), policy="policy.yaml"),
        pk.PolicyError,
        ValueError,
    ),
    ("load_policy(<int>)", lambda e, d: pk.load_policy(3), pk.WrongTypeError, TypeError),  # type: ignore[arg-type]
    (
        "Duration.parse('forever')",
        lambda e, d: pk.Duration.parse("forever"),
        pk.ConfigurationError,
        ValueError,
    ),
    ("Duration.parse(30)", lambda e, d: pk.Duration.parse(30), pk.WrongTypeError, TypeError),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("label", "misuse", "expected", "builtin"), MISUSES, ids=[m[0] for m in MISUSES]
)
def test_each_obvious_misuse_raises_a_privacy_kit_error(
    label: str,
    misuse: Callable[[pk.Engine, pk.DataMap], object],
    expected: type[pk.PrivacyKitError],
    builtin: type[Exception],
    engine: pk.Engine,
    datamap: pk.DataMap,
) -> None:
    with pytest.raises(pk.PrivacyKitError) as info:
        misuse(engine, datamap)
    assert isinstance(info.value, expected), f"{label}: {type(info.value).__name__}: {info.value}"
    assert isinstance(info.value, builtin)
    assert str(info.value), "the message says what is wrong"


def test_every_lookup_by_name_is_an_unknown_name_error() -> None:
    import datetime as dt

    from privacy_kit.adapters import InMemoryAdapter
    from privacy_kit.interop import dpv

    policy = pk.load_policy(pk.example_path())
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
    engine = pk.Engine(policy, datamap, InMemoryAdapter({}), verify=False, secret=b"k" * 32)
    history = pk.PolicyHistory([policy])
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    incident = pk.Incident(
        occurred_at=t0, aware_at=t0, categories=("user.contact.email",), risk="high"
    )
    lookups = {
        "recipient": lambda: policy.recipient("hostng"),
        "retention rule": lambda: policy.rule("acount_data"),
        "request channel": lambda: policy.channel("nope"),
        "category": lambda: policy.vocabulary.category("user.contct.email"),
        "communication": lambda: engine.communication("newsleter"),
        "duty": lambda: pk.assess(incident, policy, now=t0).duty("x"),
        "policy version": lambda: history.get("1999"),
        "DPV section": lambda: dpv.dpv_iri("nope", "x"),
    }
    for kind, lookup in lookups.items():
        with pytest.raises(pk.UnknownNameError, match=f"unknown {kind}") as caught:
            lookup()
        assert isinstance(caught.value, KeyError)
